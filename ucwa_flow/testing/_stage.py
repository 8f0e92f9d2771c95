"""The stage of one scenario: a simulator, the bot and the people, on one virtual clock.

Everything runs in-process and through the real path: the simulated UCWA server is an
ASGI app reached through ``httpx.ASGITransport``; the bot is a real
:class:`~ucwa_flow.runtime.Bot` with its own :class:`~ucwa_flow.ucwa.UcwaClient`; every
person is a :class:`~ucwa_flow.runtime.Caller` with a client of their own that answers
invitations only when the script says so; everyone the flow can invite is such a person
too, whether or not the script mentions them (see :func:`invitees`). One
:class:`ScenarioClock` times the simulator, every client and the bot, so ``wait: 2m``
moves all of them together and nothing sleeps for real; the idle upkeep of a long wait
(keep-alives, P-GET timeouts) is skipped, not stepped through (:mod:`._clock`).

After every step the runner calls :meth:`Stage.settle`: it lets the event loop run until
nothing moves any more (no new trace record, event or message for a while) and the bot's
engine is idle with every message it sent heard. A real-time safety limit turns a stage
that never settles into a step failure instead of a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from datetime import UTC
from typing import Any

import httpx

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow, Handoff, Invite, iter_actions, template_context
from ucwa_flow.runtime import Caller, FlowInstance
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.simulator import DEFAULT_PASSWORD, Simulator, SimulatorConfig, SimulatorUser
from ucwa_flow.simulator import default_users as simulator_users
from ucwa_flow.testing._clock import KeepAlive, ScenarioClock, Upkeep, idle_upkeep
from ucwa_flow.testing._script import Scenario
from ucwa_flow.testing._script_checks import clock_left, days
from ucwa_flow.testing._web import MockedWeb
from ucwa_flow.ucwa import UcwaClient

__all__ = ["BOT", "ScenarioClock", "Stage", "StepError", "invitees"]

#: the bot's identity on the simulator
BOT = "sip:toshm@contoso.com"
_BASE_URL = "http://simulator.test"
#: real seconds a step may take to settle before it fails
SETTLE_LIMIT = 5.0
_QUIET_TURNS = 40  # event-loop turns without progress that count as "settled"
_GIVE_UP_TURNS = 400  # ... even when a sent message was never heard (e.g. after a hang-up)
_KEEP_ALIVE = 120.0  # reportMyActivity interval, so that long waits keep the applications


class StepError(UcwaFlowError):
    """A step could not be performed; the message says why, for the test report."""


class Stage:
    """Everything one scenario runs on; use ``async with Stage(flow, scenario) as stage``."""

    def __init__(self, flow: Flow, scenario: Scenario) -> None:
        self.flow = flow
        self.scenario = scenario
        start = scenario.at.astimezone(UTC) if scenario.at is not None else None
        self.clock = ScenarioClock(start)
        self.traces: list[t.Trace] = []
        self.web = MockedWeb(scenario.webhooks, self.clock)
        invited = [uri for uri in invitees(flow, scenario.caller) if uri != BOT]
        people = list(dict.fromkeys([*scenario.people(), *invited]))
        self.sim = Simulator(SimulatorConfig(users=_users(people), seed=1), self.clock)
        self._transport = httpx.ASGITransport(app=self.sim.app)
        self.parties = {uri: self._person(uri) for uri in people}
        self._http = self.web.client()
        self.bot = Bot(flow, self._client(BOT), clock=self.clock, sink=self._sink, http=self._http)
        self._instances: dict[str, FlowInstance] = {}
        self._task: asyncio.Task[None] | None = None

    def _client(self, uri: str) -> UcwaClient:
        return UcwaClient(
            uri, DEFAULT_PASSWORD, server_url=_BASE_URL, transport=self._transport, clock=self.clock
        )

    def _person(self, uri: str) -> Caller:
        client = self._client(uri)
        return Caller(client, BOT, clock=self.clock, auto_accept=False, keep_alive=_KEEP_ALIVE)

    async def __aenter__(self) -> Stage:
        try:
            # people first: an outbound flow invites them as soon as the bot has started
            for party in self.parties.values():
                await party.start()
            await self.bot.start()
            self._task = asyncio.create_task(self.bot.run())
            await self.settle()
        except BaseException:
            await self.aclose()  # __aexit__ does not run when __aenter__ fails
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Stop the bot and the people and release every client."""
        self.web.close()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(SETTLE_LIMIT):
                await self.bot.aclose()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        # the bot read events while it closed (the caller's end): the jobs they posted wait
        # for a clock nobody moves now; left pending, they are destroyed so, with a warning
        runner = self.bot.engine._runner  # the stage owns this engine
        runner.cancel()
        if runner.tasks:  # bounded: a job may ignore its cancellation
            await asyncio.wait(runner.tasks, timeout=SETTLE_LIMIT)
        for party in self.parties.values():
            with contextlib.suppress(Exception):  # one failing close must not skip the others
                await party.aclose()
            await party.client.aclose()
        await self.bot.client.aclose()
        await self._http.aclose()
        self.sim.close()

    # -- observing --------------------------------------------------------------------------

    def party(self, uri: str | None) -> Caller:
        """The person ``uri`` (the caller when ``None``)."""
        return self.parties[(uri or self.scenario.caller).lower()]

    def instance(self) -> FlowInstance | None:
        """The flow instance serving the caller (kept after the engine forgets it)."""
        self._remember()
        return self._instances.get(self.scenario.caller.lower())

    def last_state(self, href: str) -> str | None:
        """The last flow state the conversation ``href`` entered."""
        for record in reversed(self.traces):
            if isinstance(record, t.StateEntered) and record.conversation == href:
                return record.state
        return None

    def _sink(self, record: t.Trace) -> None:
        self.traces.append(record)
        if isinstance(record, t.StateEntered):
            self._remember()

    def _remember(self) -> None:
        for instance in self.bot.engine.instances.values():
            if instance.caller_uri:
                self._instances[instance.caller_uri.lower()] = instance

    # -- time and settling ------------------------------------------------------------------

    async def wait(self, seconds: float) -> None:
        """Let ``seconds`` of virtual time pass, settling at every timer on the way (and
        skipping the idle upkeep between them, see :mod:`ucwa_flow.testing._clock`)."""
        left = clock_left(self.clock.now())  # the loader's T007 knows only the waits
        if not seconds <= left:
            raise StepError(
                f"cannot wait {days(seconds)}: the virtual clock is at "
                f"{self.clock.now():%Y-%m-%d %H:%M} UTC and stops at the end of the year 9999, "
                f"{days(left)} later"
            )
        await self.clock.advance_settled(seconds, self.settle, self._upkeep)

    def _upkeep(self, kept: Mapping[str, KeepAlive]) -> Upkeep | None:
        return None if self.bot.engine.busy else idle_upkeep(self.sim, kept)

    async def settle(self) -> None:
        """Run the event loop until the bot, the server and the people are all quiet."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_LIMIT
        last: tuple[Any, ...] | None = None
        quiet = 0
        while True:
            await asyncio.sleep(0)
            mark = self._progress()
            quiet = quiet + 1 if mark == last else 0
            last = mark
            if quiet >= _GIVE_UP_TURNS or (quiet >= _QUIET_TURNS and self._delivered()):
                self._remember()
                return
            if loop.time() > deadline:
                raise StepError(
                    f"the bot and the simulator did not settle within {SETTLE_LIMIT:g} s "
                    "of real time (is a flow looping?)"
                )

    def _progress(self) -> tuple[Any, ...]:
        people = tuple((p.events, len(p.heard)) for p in self.parties.values())
        return (len(self.traces), people, self.bot.engine.busy)

    def _delivered(self) -> bool:
        if self.bot.engine.busy:
            return False
        sent = sum(1 for r in self.traces if isinstance(r, t.MessageOut))
        return sum(p.received for p in self.parties.values()) >= sent


def invitees(flow: Flow, caller: str) -> list[str]:
    """Everyone ``flow`` can invite, as far as its text and its variables' defaults tell.

    The ``to:`` of every ``invite`` and ``handoff`` rendered with the variables' defaults
    (``caller`` as the caller), and ``outbound.to``. A test script then sees the same
    invitee whether or not it mentions them: signed in, answering only when a step says so.
    Someone a ``to:`` names only through a variable set at run time must be listed in
    ``users:``.
    """
    found: list[str] = list(flow.outbound.to) if flow.outbound is not None else []
    context = template_context(
        variables=flow.variables, flow=flow.name, caller_uri=caller, timezone="UTC"
    )
    for state in flow.states.values():
        for actions in state.all_action_lists():
            for action in iter_actions(actions):
                if not isinstance(action, Invite | Handoff):
                    continue
                for template in action.to if isinstance(action, Handoff) else (action.to,):
                    try:
                        to = template.render(context).strip()
                    except UcwaFlowError:
                        continue
                    if "@" in to and not any(c.isspace() for c in to):
                        found.append(to)
    return list(dict.fromkeys(_sip(uri).lower() for uri in found))


def _sip(uri: str) -> str:
    return uri if uri.lower().startswith("sip:") else "sip:" + uri


def _users(people: list[str]) -> list[SimulatorUser]:
    users = simulator_users()
    known = {user.uri.lower() for user in users}
    for uri in people:
        if uri not in known:
            local = uri.removeprefix("sip:").split("@", 1)[0]
            users.append(SimulatorUser(uri, local.replace("-", " ").replace(".", " ").title()))
            known.add(uri)
    return users
