"""The ``--server`` option of ``run`` and ``serve``: where a value came from and its check.

An option that click also reads from an environment variable (``--server`` from
``UCWA_FLOW_SERVER``) is named in an error as the user gave it: :func:`given_as` says
``UCWA_FLOW_SERVER`` when the value came from the environment, else ``--server``, so an
error about a variable set long ago in a shell profile does not send the user looking for
an option they never typed. :func:`check_server_url` refuses a server URL that cannot be one
as a usage error naming it so, before anything starts.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

__all__ = ["check_server_url", "given_as"]


def given_as(name: str) -> str:
    """The current command's option ``name`` (its Python name) as the user gave it: its
    environment variable when its value came from there, else its first option name."""
    ctx = click.get_current_context()
    for param in ctx.command.params:
        if param.name != name:
            continue
        envvar = param.envvar if isinstance(param, click.Option) else None
        if ctx.get_parameter_source(name) is ParameterSource.ENVIRONMENT and isinstance(
            envvar, str
        ):
            return envvar
        return param.opts[0]
    raise LookupError(name)  # a typo in the caller, not a user's mistake


def check_server_url(server: str) -> None:
    """``click.BadParameter`` naming ``--server`` or ``UCWA_FLOW_SERVER`` (as given) when
    ``server`` cannot be a UCWA server URL: one line now, not a sign-in retried for ever."""
    from ucwa_flow.ucwa.discovery import root_candidates
    from ucwa_flow.ucwa.errors import DiscoveryFailed

    try:
        root_candidates("", server)
    except DiscoveryFailed as exc:
        raise click.BadParameter(str(exc), param_hint=given_as("server")) from None
