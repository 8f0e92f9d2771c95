"""``serve`` without a server: the deployment on the embedded simulator, to try it locally.

The simulator runs on loopback in the same process. Its users are the simulator's
default ones (``sip:toshm@contoso.com``, ``sip:lenea@contoso.com`` and
``sip:adrianag@contoso.com``: the callers, but for those the deployment makes accounts),
every account of the deployment with the password its source gives (``serve`` has
checked that each can be read), and the invitees of the schedules. Callers can be
driven through the simulator's control API (``/_sim/users``), as with ``ucwa-flow
simulate``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from ucwa_flow.deploy import Deployment

__all__ = ["simulated"]


@contextlib.asynccontextmanager
async def simulated(deployment: Deployment) -> AsyncIterator[tuple[str, list[str]]]:
    """Serve a simulator for ``deployment`` on 127.0.0.1; yields its URL and the callers:
    the default users that are not accounts of the deployment."""
    from ucwa_flow.simulator import (
        Simulator,
        SimulatorConfig,
        SimulatorUser,
        default_users,
        serve,
    )

    users = {user.uri.lower(): user for user in default_users()}
    accounts = {account.user.lower() for account in deployment.accounts}
    callers = [user.uri for user in default_users() if user.uri.lower() not in accounts]
    for account in deployment.accounts:
        password = account.password.read()
        users[account.user.lower()] = SimulatorUser(account.user, account.id, password)
        for schedule in account.schedules:
            if schedule.invitee is None:
                continue  # the flow's outbound.to: callers it names must exist already
            name = schedule.invitee.removeprefix("sip:").partition("@")[0]
            users.setdefault(schedule.invitee.lower(), SimulatorUser(schedule.invitee, name))
    sim = Simulator(SimulatorConfig(users=list(users.values())))
    async with serve(sim, host="127.0.0.1", port=0) as url:
        yield url, callers
