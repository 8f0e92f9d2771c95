"""What goes wrong in a deployment file: the ``D`` codes and :class:`DeploymentError`.

A deployment file is read in stages, each with its codes: the flow language's YAML loader
(``Y001``-``Y007``), the JSON Schema (``S001``-``S005``, worded as for flows), then the
checks of this package, ``D101``-``D118`` in :data:`DEPLOY_RULES`. Every problem is a
:class:`~ucwa_flow.flow.Diagnostic` printed ``file:line:col: CODE error: message``; the
loader raises them all at once in a :class:`DeploymentError`. ``docs/deploy.md`` lists the
same table (a test keeps the two in step).
"""

from __future__ import annotations

from collections.abc import Sequence

from ucwa_flow.errors import UcwaFlowError, UnreadableFileError
from ucwa_flow.flow import Diagnostic, Location, Severity

__all__ = ["DEPLOY_RULES", "DeploymentError", "DeploymentFileError", "problem"]

#: code -> what it means. Codes are stable: never renumber, only add.
DEPLOY_RULES: dict[str, str] = {
    "D101": "environment variable not set (and no ${NAME:-default})",
    "D102": "malformed ${...} substitution",
    "D103": "a literal password (use password_env or password_file)",
    "D104": "a literal admin token (use token_env or token_file)",
    "D105": "several flows and no default_flow",
    "D106": "a flow name the account does not have",
    "D107": "regular expression does not compile",
    "D108": "two accounts with the same id",
    "D109": "two accounts with the same user",
    "D110": "duration of zero (or not a finite number)",
    "D111": "admin listen address is not host:port",
    "D112": "store is neither a postgresql:// URL nor a folder",
    "D113": "flow file not found",
    "D114": "a variable no flow of the account declares",
    "D115": "workers.heartbeat is slower than a third of workers.lease",
    "D116": "server.ca_bundle is missing, unreadable or holds no PEM certificate",
    "D117": "server.url cannot be a URL: a port out of range, an unclosed [ of an address",
    "D118": "server.trusted_hosts names something that is not a host name, IP address or "
    "domain suffix (*.contoso.local; not *.com)",
}


def problem(location: Location, code: str, message: str) -> Diagnostic:
    """A ``D`` diagnostic (always an error) at ``location``."""
    assert code in DEPLOY_RULES, code
    return Diagnostic(location.file, location.line, location.col, code, Severity.ERROR, message)


class DeploymentError(UcwaFlowError):
    """A deployment file that cannot be used. ``str()`` is every problem, one
    ``file:line:col: CODE error: message`` line each, sorted by position; ``diagnostics``
    holds them as :class:`~ucwa_flow.flow.Diagnostic` objects."""

    def __init__(self, diagnostics: Sequence[Diagnostic], message: str | None = None) -> None:
        self.diagnostics = sorted(diagnostics, key=Diagnostic.sort_key)
        text = "\n".join(str(d) for d in self.diagnostics)
        super().__init__(message if message is not None else text or "invalid deployment file")


class DeploymentFileError(DeploymentError, UnreadableFileError):
    """A deployment file that cannot be read at all (missing, a directory, no permission,
    not UTF-8): one line naming the file, no diagnostics; the CLI exits with status 2."""

    def __init__(self, message: str) -> None:
        super().__init__([], message)
