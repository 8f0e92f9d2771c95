"""ucwa-flow: declarative state-machine bots for Skype for Business Server (UCWA).

The public API, by layer (see ``docs/architecture.md``):

* flows: :func:`load_flow`, :class:`Flow`, :class:`Diagnostic`;
* running: :class:`Bot`, :class:`Engine`, :class:`Caller`; several flows on one account:
  :class:`Catalog`, :class:`Route`, and when invitations are shed: :class:`Limits`;
* serving a deployment: :func:`load_deployment`, :class:`Deployment`,
  :class:`DeploymentError`, :class:`Service`, :class:`Metrics`, :func:`configure_logging`;
* UCWA: :class:`UcwaClient`, :class:`EventChannel`, :func:`decode_batch`;
* lifecycles: :class:`LifecycleTracker`;
* graphs: :func:`extract_flow`, :func:`render_mermaid`, :func:`render_dot`;
* the simulated server: :class:`Simulator`, :class:`SimulatorConfig`, :func:`serve`;
* time: :class:`Clock`, :class:`SystemClock`, :class:`ManualClock`;
* errors: :class:`UcwaFlowError`, :class:`OperationalError`.

Names are imported on first use, so ``import ucwa_flow`` stays cheap and ``ucwa-flow
validate`` never loads the HTTP stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

_EXPORTS: dict[str, str] = {
    "Clock": "ucwa_flow.clock",
    "ManualClock": "ucwa_flow.clock",
    "SystemClock": "ucwa_flow.clock",
    "OperationalError": "ucwa_flow.errors",
    "UcwaFlowError": "ucwa_flow.errors",
    "Diagnostic": "ucwa_flow.flow",
    "Flow": "ucwa_flow.flow",
    "load_flow": "ucwa_flow.flow",
    "Bot": "ucwa_flow.runtime",
    "Caller": "ucwa_flow.runtime",
    "Catalog": "ucwa_flow.runtime",
    "Engine": "ucwa_flow.runtime",
    "Limits": "ucwa_flow.runtime",
    "Route": "ucwa_flow.runtime",
    "Deployment": "ucwa_flow.deploy",
    "DeploymentError": "ucwa_flow.deploy",
    "load_deployment": "ucwa_flow.deploy",
    "Service": "ucwa_flow.service",
    "Metrics": "ucwa_flow.observe.metrics",
    "configure_logging": "ucwa_flow.observe.logs",
    "EventChannel": "ucwa_flow.ucwa",
    "UcwaClient": "ucwa_flow.ucwa",
    "decode_batch": "ucwa_flow.ucwa.events",
    "LifecycleTracker": "ucwa_flow.lifecycle",
    "extract_flow": "ucwa_flow.graph",
    "render_dot": "ucwa_flow.graph",
    "render_mermaid": "ucwa_flow.graph",
    "Simulator": "ucwa_flow.simulator",
    "SimulatorConfig": "ucwa_flow.simulator",
    "serve": "ucwa_flow.simulator",
}

__all__ = [
    "Bot",
    "Caller",
    "Catalog",
    "Clock",
    "Deployment",
    "DeploymentError",
    "Diagnostic",
    "Engine",
    "EventChannel",
    "Flow",
    "LifecycleTracker",
    "Limits",
    "ManualClock",
    "Metrics",
    "OperationalError",
    "Route",
    "Service",
    "Simulator",
    "SimulatorConfig",
    "SystemClock",
    "UcwaClient",
    "UcwaFlowError",
    "configure_logging",
    "decode_batch",
    "extract_flow",
    "load_deployment",
    "load_flow",
    "render_dot",
    "render_mermaid",
    "serve",
]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from ucwa_flow.clock import Clock, ManualClock, SystemClock
    from ucwa_flow.deploy import Deployment, DeploymentError, load_deployment
    from ucwa_flow.errors import OperationalError, UcwaFlowError
    from ucwa_flow.flow import Diagnostic, Flow, load_flow
    from ucwa_flow.graph import extract_flow, render_dot, render_mermaid
    from ucwa_flow.lifecycle import LifecycleTracker
    from ucwa_flow.observe.logs import configure_logging
    from ucwa_flow.observe.metrics import Metrics
    from ucwa_flow.runtime import Bot, Caller, Catalog, Engine, Limits, Route
    from ucwa_flow.service import Service
    from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
    from ucwa_flow.ucwa import EventChannel, UcwaClient
    from ucwa_flow.ucwa.events import decode_batch


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'ucwa_flow' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
