"""The deployment model: what ``ucwa-flow serve deploy.yaml`` runs, as plain data.

A :class:`Deployment` is what a deployment file says once it has been read, checked
against its JSON Schema and checked for meaning (:func:`~ucwa_flow.deploy.load_deployment`).
It holds no live objects: the service (:mod:`ucwa_flow.service`) turns it into bots, and
the flows it names are loaded there (paths are absolute, resolved against the file's
folder). Secrets are never held here: a :class:`SecretSource` says where a password or
token comes from and is read only when it is needed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ucwa_flow.errors import OperationalError

__all__ = [
    "AccountSpec",
    "AdminSpec",
    "Deployment",
    "FlowSpec",
    "LimitsSpec",
    "LoggingSpec",
    "RouteSpec",
    "ScheduleSpec",
    "SecretSource",
    "ServerSpec",
    "SourceSpot",
]


@dataclass(frozen=True)
class SourceSpot:
    """Where something was written in the deployment file (1-based line and column)."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class SecretSource:
    """Where a password or bearer token comes from: an environment variable or a file
    (its content, the trailing newline removed). Exactly one of ``env`` and ``file``."""

    env: str | None = None
    file: Path | None = None

    def read(self) -> str:
        """The secret; :class:`~ucwa_flow.errors.OperationalError` (one line, never the
        value) when the variable is unset or empty, or the file cannot be read or is
        empty (a secret not filled in: an empty admin token would leave the endpoint
        open, an empty password only fails every sign-in)."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise OperationalError(f"environment variable {self.env} is not set")
            if not value:
                raise OperationalError(f"environment variable {self.env} is empty")
            return value
        assert self.file is not None
        try:
            value = self.file.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:
            raise OperationalError(f"cannot read {self.file}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise OperationalError(f"cannot read {self.file}: not UTF-8 text") from None
        if not value:
            raise OperationalError(f"{self.file} is empty")
        return value


@dataclass(frozen=True)
class ServerSpec:
    """The UCWA server: its discovery URL (``None``: the embedded simulator, or the
    ``--server`` option), how its certificate is checked, and the sign-in hosts trusted
    besides its own and the accounts' SIP domains (``trusted_hosts``, as written)."""

    url: str | None = None
    ca_bundle: Path | None = None
    insecure: bool = False
    trusted_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlowSpec:
    """One flow an account runs, by the name routes use."""

    name: str
    path: Path
    spot: SourceSpot | None = None


@dataclass(frozen=True)
class RouteSpec:
    """A routing rule: an incoming invitation whose caller URI, subject and first message
    all match (each a regular expression, searched case-insensitively; ``None`` matches
    anything) runs ``flow``. The first rule that matches wins; then the default flow."""

    flow: str
    caller: str | None = None
    subject: str | None = None
    first_message: str | None = None
    spot: SourceSpot | None = None


@dataclass(frozen=True)
class ScheduleSpec:
    """An outbound conversation started on a schedule: ``flow`` invites ``invitee``
    (``None``: its ``outbound.to``; a campaign flow starts a campaign run) every ``every``
    seconds (the first time ``every`` seconds after the start)."""

    flow: str
    invitee: str | None
    every: float
    spot: SourceSpot | None = None


@dataclass(frozen=True)
class LimitsSpec:
    """Overload protection for one account.

    Past ``max_conversations`` live conversations, or ``max_answering`` invitations being
    answered at once, a new invitation is shed: declined with ``busy_message``
    (``when_full: decline``) or left to ring for another instance (``when_full: ring``).
    ``None``: no limit.
    """

    max_conversations: int | None = None
    max_answering: int | None = None
    when_full: Literal["decline", "ring"] = "decline"
    busy_message: str = "All our agents are busy right now. Please try again in a few minutes."


@dataclass(frozen=True)
class AccountSpec:
    """One bot account: its sign-in, its flows and how invitations are routed to them."""

    id: str
    user: str
    password: SecretSource
    flows: tuple[FlowSpec, ...]
    default_flow: str
    routes: tuple[RouteSpec, ...] = ()
    variables: dict[str, object] = field(default_factory=dict)
    limits: LimitsSpec = LimitsSpec()
    schedules: tuple[ScheduleSpec, ...] = ()
    spot: SourceSpot | None = None
    #: where each of ``variables`` is written (for messages; not compared)
    variable_spots: dict[str, SourceSpot] = field(default_factory=dict, compare=False)

    def flow(self, name: str) -> FlowSpec:
        return next(spec for spec in self.flows if spec.name == name)


@dataclass(frozen=True)
class AdminSpec:
    """The admin HTTP endpoint: ``/healthz``, ``/readyz``, ``/metrics``, ``/reload``,
    ``/accounts/{id}/outbound``; ``token`` (a bearer token) guards all but the health
    checks when set. ``port`` 0 picks a free port. ``allow_hosts``: host names (lower
    case) a request's ``Host`` may name besides addresses, dotless names, this machine's
    and ``host`` (without a token, others are refused: a guard against DNS rebinding)."""

    host: str = "127.0.0.1"
    port: int = 8470
    token: SecretSource | None = None
    enabled: bool = True
    allow_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoggingSpec:
    format: Literal["text", "json"] = "text"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class WorkersSpec:
    """Sharing the accounts among ``serve`` processes on one PostgreSQL store: an
    account's ``lease`` lasts that many seconds unless renewed every ``heartbeat``."""

    lease: float = 10.0
    heartbeat: float = 2.0


@dataclass(frozen=True)
class Deployment:
    """A whole deployment file. ``store`` is a PostgreSQL URL or a folder for one SQLite
    file per account (``None``: the user's state directory). ``stop_timeout`` bounds a
    graceful stop in seconds."""

    source: Path
    server: ServerSpec
    accounts: tuple[AccountSpec, ...]
    store: str | None = None
    admin: AdminSpec = AdminSpec()
    logging: LoggingSpec = LoggingSpec()
    stop_timeout: float = 10.0
    retention: float = 30 * 86400.0
    workers: WorkersSpec = WorkersSpec()

    def account(self, account_id: str) -> AccountSpec | None:
        return next((a for a in self.accounts if a.id == account_id), None)
