"""A simulator on loopback with two bot accounts and their callers, for Service tests.

Everything shares one :class:`~ucwa_flow.clock.ManualClock` (protocol time, back-off,
schedules); real time only guards waits (``WAIT``), as in ``tests/e2e/harness.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.harness import PASSWORD, Person, settle, transport
from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.deploy import AccountSpec, AdminSpec, Deployment, FlowSpec, SecretSource, ServerSpec
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.caller import Caller
from ucwa_flow.service import Backoff, Service
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users, serve
from ucwa_flow.ucwa import UcwaClient

HELPDESK = "sip:helpdesk@contoso.com"
HR = "sip:hr@contoso.com"
LENE = "sip:lenea@contoso.com"
ADRIANA = "sip:adrianag@contoso.com"

FLOW = """\
version: 1
name: {name}
start: ask
settings:
  first_message: route_only
states:
  ask:
    enter:
      - say: "{name} {version}: your name?"
    messages:
      - any: true
        say: "{version} thanks {{{{ message }}}}"
        goto: done
  done:
    messages:
      - any: true
        say: "{version} done: {{{{ message }}}}"
"""


@dataclass
class World:
    url: str
    clock: ManualClock
    sim: Simulator
    folder: Path
    people: list[Person] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    traces: dict[str, list[t.Trace]] = field(default_factory=dict)

    def flow(self, name: str, version: str = "v1", text: str | None = None) -> Path:
        path = self.folder / f"{name}.flow.yaml"
        path.write_text(text or self.flow_text(name, version), encoding="utf-8")
        return path

    @staticmethod
    def flow_text(name: str, version: str = "v1") -> str:
        return FLOW.format(name=name, version=version)

    def account(self, id: str, user: str, password: str = PASSWORD) -> AccountSpec:
        secret = self.folder / f"{id}.password"
        secret.write_text(password + "\n", encoding="utf-8")
        path = self.folder / f"{id}.flow.yaml"
        if not path.exists():
            self.flow(id)
        return AccountSpec(
            id=id,
            user=user,
            password=SecretSource(file=secret),
            flows=(FlowSpec(id, path),),
            default_flow=id,
        )

    def deployment(
        self, *accounts: AccountSpec, stop_timeout: float = 10.0, store: str | None = None
    ) -> Deployment:
        return Deployment(
            source=self.folder / "deploy.yaml",
            server=ServerSpec(self.url),
            accounts=accounts,
            store=store or str(self.folder / "state"),
            admin=AdminSpec(enabled=False),
            stop_timeout=stop_timeout,
        )

    def sink(self, account: str, flow_of: Callable[[str], str | None]) -> t.TraceSink:
        return self.traces.setdefault(account, []).append

    async def service(self, deployment: Deployment, *, watch: bool = False) -> Service:
        service = Service(
            deployment,
            clock=self.clock,
            watch=watch,
            backoff=Backoff(first=1.0, cap=8.0, jitter=0.0),
            sinks=self.sink,
        )
        self.services.append(service)
        await service.start()
        return service

    async def greeted(self) -> tuple[Person, Person]:
        """Lene with the help desk and Adriana with HR, each greeted by its v1 flow."""
        lene = await self.person(LENE, HELPDESK)
        adriana = await self.person(ADRIANA, HR)
        await lene.say("hello")
        await adriana.say("hello")
        assert await lene.hear() == ["helpdesk v1: your name?"]
        assert await adriana.hear() == ["hr v1: your name?"]
        return lene, adriana

    async def person(self, uri: str, bot: str) -> Person:
        client = UcwaClient(
            uri, PASSWORD, server_url=self.url, clock=self.clock, transport=transport()
        )
        person = Person(Caller(client, bot, clock=self.clock))
        self.people.append(person)
        await person.caller.start()
        return person


async def until(ready: Callable[[], object], what: str) -> None:
    """Poll ``ready`` in real time (``WAIT`` at most) while loopback traffic lands."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not ready():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def advance_until(
    clock: ManualClock, ready: Callable[[], object], what: str, *, step: float = 1.0
) -> None:
    """Move the clock ``step`` seconds at a time (back-off, schedules) until ``ready``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while not ready():
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await clock.advance(step)
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def world(folder: Path, more_users: tuple[str, ...] = ()) -> AsyncIterator[World]:
    clock = ManualClock()
    users = [*default_users(), SimulatorUser(HELPDESK, "Helpdesk"), SimulatorUser(HR, "HR")]
    users += [SimulatorUser(uri, uri.removeprefix("sip:").partition("@")[0]) for uri in more_users]
    sim = Simulator(SimulatorConfig(users=users, seed=12), clock=clock)
    async with serve(sim, host="127.0.0.1", port=0) as url:
        running = World(url, clock, sim, folder)
        try:
            yield running
        finally:
            for service in running.services:
                await asyncio.wait_for(service.stop(), WAIT)
            for person in running.people:
                await person.caller.aclose()
                await person.caller.client.aclose()
            await settle()
