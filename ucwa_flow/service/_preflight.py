"""What a deployment needs before anything of it starts: :func:`preflight`.

A flow with errors (or a ``vars`` name that no flow declares) and a secret that cannot be
read are mistakes in the deployment, not failures of the server: ``ucwa-flow serve``
reports them all at once and starts nothing (no simulator, no admin endpoint, no
sign-in), instead of retrying a sign-in that can never work (an environment variable
cannot appear in a running process). Once started, each sign-in reads its password
again, so a rotated password file is picked up, and a secret that goes missing later is
one account's failure, retried with back-off.
"""

from __future__ import annotations

import contextlib
from urllib.parse import urlsplit

from ucwa_flow.deploy import Deployment, load_deployment_flows
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow
from ucwa_flow.observe.logs import add_secret
from ucwa_flow.service._flows import FlowsRefused, with_variables

__all__ = ["SecretsUnreadable", "preflight"]


class SecretsUnreadable(OperationalError):
    """A password or the admin token cannot be read: one line per secret."""


def preflight(deployment: Deployment) -> dict[str, dict[str, Flow]]:
    """Every account's flows, loaded; :class:`~ucwa_flow.service.FlowsRefused` when one
    has errors or ``vars`` names a variable no flow of its account has (``D114``), then
    :class:`SecretsUnreadable` when a password or the admin token cannot be read. The
    secrets read, and a password in the store's URL, are redacted from the logs."""
    checked = load_deployment_flows(deployment)  # as validate: D114 (a typo in vars) too
    if checked.errors:
        raise FlowsRefused("\n".join(checked.errors))
    flows: dict[str, dict[str, Flow]] = {}
    for account in deployment.accounts:  # each file was loaded once, for every account
        mine = flows[account.id] = {}
        for named in account.flows:
            loaded = checked.loaded[named.path]
            if loaded is None or loaded.flow is None:  # an error above: never here
                raise FlowsRefused(f"{named.path}: the flow has errors")
            mine[named.name] = with_variables(loaded.flow, account.variables)
    problems: list[str] = []
    if deployment.store is not None:  # a password in the store's URL (${PGPASSWORD})
        with contextlib.suppress(ValueError):
            add_secret(urlsplit(deployment.store).password or "")
    for spec in deployment.accounts:
        try:
            add_secret(spec.password.read())
        except OperationalError as exc:
            problems.append(f"{spec.id}: cannot read the password of {spec.user}: {exc}")
    token = deployment.admin.token
    if deployment.admin.enabled and token is not None:
        try:
            add_secret(token.read())
        except OperationalError as exc:
            problems.append(f"cannot read the admin token: {exc}")
    if problems:
        raise SecretsUnreadable("\n".join(problems))
    return flows
