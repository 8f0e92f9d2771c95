"""Fixtures for the end-to-end tests: the simulator on a loopback socket, two parties."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.integration.harness import LENE, TOSH, Party
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve


@pytest.fixture
def sim_clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(sim_clock: ManualClock) -> Simulator:
    return Simulator(SimulatorConfig(seed=7), clock=sim_clock)


@pytest.fixture
async def base_url(sim: Simulator) -> AsyncIterator[str]:
    async with serve(sim, host="127.0.0.1", port=0) as url:
        yield url


@pytest.fixture
async def tosh(base_url: str) -> AsyncIterator[Party]:
    party = await Party(TOSH, base_url).start()
    yield party
    await party.stop()


@pytest.fixture
async def lene(base_url: str) -> AsyncIterator[Party]:
    party = await Party(LENE, base_url).start()
    yield party
    await party.stop()
