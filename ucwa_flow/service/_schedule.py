"""Outbound conversations on a schedule: ``schedules:`` of an account.

Each :class:`~ucwa_flow.deploy.ScheduleSpec` is a task on the service's clock: every
``every`` seconds (the first time ``every`` seconds after the start) it asks the
account's running engine to start ``flow`` with ``invitee`` (without one: the flow's
``outbound.to``; a campaign flow starts a campaign run). A round that finds the
account not signed in, or that fails, is logged as one line and skipped; the schedule
carries on (no catching up on missed rounds).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ucwa_flow.clock import Clock
from ucwa_flow.deploy import ScheduleSpec

__all__ = ["Starter", "run_schedule", "start_schedules"]

log = logging.getLogger("ucwa_flow.service")

#: starts ``flow`` with ``invitee`` (several; ``None``: the flow's ``outbound.to``) on an
#: account, and returns a campaign flow's run id; raises to say why it could not
Starter = Callable[[str, str | Sequence[str] | None], str | None]


async def run_schedule(account: str, spec: ScheduleSpec, start: Starter, clock: Clock) -> None:
    """Start ``spec.flow`` with ``spec.invitee`` every ``spec.every`` seconds, forever."""
    whom = spec.invitee or "its outbound.to"
    while True:
        await clock.sleep(spec.every)
        try:
            campaign = start(spec.flow, spec.invitee)
        except Exception as exc:  # one line; the next round tries again
            where = f" ({spec.spot})" if spec.spot is not None else ""
            log.warning(
                "%s: schedule%s: could not start %s with %s: %s",
                account,
                where,
                spec.flow,
                whom,
                exc,
            )
        else:
            run = f" (campaign run {campaign})" if campaign is not None else ""
            log.info("%s: schedule: started %s with %s%s", account, spec.flow, whom, run)


def start_schedules(
    account: str, specs: tuple[ScheduleSpec, ...], start: Starter, clock: Clock
) -> list[asyncio.Task[None]]:
    return [
        asyncio.create_task(run_schedule(account, spec, start, clock), name=f"schedule {account}")
        for spec in specs
    ]
