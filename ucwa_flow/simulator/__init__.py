"""A simulated Skype for Business Server (UCWA) for tests, demos and load.

The simulator is an ASGI application (Starlette request/response, served by uvicorn)
that behaves like a small front end: several users sign in through the real protocol
(autodiscover, WebTicket OAuth, applications, makeMeAvailable, the event channel) and
exchange instant messages; other users can be *virtual*, driven from Python or from a
small control HTTP API. Time comes from an injected clock and faults can be injected:
exact rules (``sim.faults.inject``) or a seeded random :class:`FaultPlan`.

Public API::

    from ucwa_flow.simulator import Simulator, SimulatorConfig, serve

    sim = Simulator(SimulatorConfig(), clock=ManualClock())
    async with serve(sim) as base_url:          # or httpx.ASGITransport(app=sim.app)
        ...

See ``docs/simulator.md`` for the URLs, event sequences and assumptions.
"""

from __future__ import annotations

from ucwa_flow.simulator.config import (
    DEFAULT_PASSWORD,
    SimulatorConfig,
    SimulatorUser,
    default_users,
    load_users,
)
from ucwa_flow.simulator.control import ReceivedMessage, VirtualUser
from ucwa_flow.simulator.core import Simulator
from ucwa_flow.simulator.faultplan import FaultPlan, FaultSpecError, parse_spec
from ucwa_flow.simulator.faults import FaultRule, Faults
from ucwa_flow.simulator.im import REASONS
from ucwa_flow.simulator.server import ThreadedServer, serve
from ucwa_flow.simulator.state import Application, Conversation, Reason

__all__ = [
    "DEFAULT_PASSWORD",
    "REASONS",
    "Application",
    "Conversation",
    "FaultPlan",
    "FaultRule",
    "FaultSpecError",
    "Faults",
    "Reason",
    "ReceivedMessage",
    "Simulator",
    "SimulatorConfig",
    "SimulatorUser",
    "ThreadedServer",
    "VirtualUser",
    "default_users",
    "load_users",
    "parse_spec",
    "serve",
]
