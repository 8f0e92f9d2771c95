"""A bot running a flow on the simulator, over a real loopback socket, on one manual clock."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, load_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.ucwa import UcwaClient

FLOWS = Path(__file__).resolve().parents[2] / "flows"
BOT = "sip:toshm@contoso.com"
PASSWORD = "pass@word1"


@dataclass
class Running:
    """A bot serving ``flow`` as tosh; ``traces`` is everything it did, in order."""

    sim: Simulator
    clock: ManualClock
    bot: Bot
    traces: list[t.Trace] = field(default_factory=list)

    def said(self) -> list[str]:
        return [r.text for r in self.traces if isinstance(r, t.MessageOut)]

    def states(self) -> list[str]:
        return [r.state for r in self.traces if isinstance(r, t.StateEntered)]


def load(name: str) -> Flow:
    result = load_flow(FLOWS / f"{name}.flow.yaml")
    assert result.flow is not None, result.diagnostics
    return result.flow


@pytest.fixture
async def run_bot() -> AsyncIterator[
    Callable[[Flow], contextlib.AbstractAsyncContextManager[Running]]
]:
    @contextlib.asynccontextmanager
    async def running(flow: Flow) -> AsyncIterator[Running]:
        clock = ManualClock()
        sim = Simulator(SimulatorConfig(seed=3), clock=clock)
        async with serve(sim, host="127.0.0.1", port=0) as url:
            client = UcwaClient(BOT, PASSWORD, server_url=url, clock=clock)
            traces: list[t.Trace] = []
            bot = Bot(flow, client, clock=clock, sink=traces.append)
            await bot.start()
            task = asyncio.create_task(bot.run())
            try:
                yield Running(sim, clock, bot, traces)
            finally:
                await bot.aclose()
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                await client.aclose()

    return running
