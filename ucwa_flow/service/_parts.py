"""The seams to the parts of issue 12 built on other branches, in one place.

The service was written against ``/work/wt/CONTRACT-12.md`` while the deployment loader
(part A), routing/limits/hot swap (part B) and metrics/admin/logs (part C) were being
built elsewhere. Everything the service needs from them goes through this module, which
uses a part when it is importable and falls back to the narrowest behaviour of ``main``
otherwise. At merge, each block below becomes plain imports:

* A: ``from ucwa_flow.deploy import load_deployment, DeploymentError``
* B: ``Catalog``/``Route``/``Limits`` into :func:`make_bot`, ``engine.reload``,
  ``engine.start_outbound``, ``engine.active``
* C: ``Readiness``/``AccountHealth``/``ReloadReport`` from ``ucwa_flow.admin``,
  ``Metrics``, ``create_app``/``AdminServer``, ``configure_logging``/``add_secret``,
  ``logcontext.bind``
"""

from __future__ import annotations

import contextlib
import importlib
from collections import Counter
from collections.abc import Iterator, Mapping
from types import ModuleType
from typing import Any, Protocol

import httpx

from ucwa_flow import logcontext
from ucwa_flow.admin import (
    AccountHealth,
    AdminServer,
    AdminTarget,
    Readiness,
    ReloadReport,
    create_app,
)
from ucwa_flow.clock import Clock
from ucwa_flow.deploy import AccountSpec, DeploymentError, load_deployment
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow
from ucwa_flow.observe import logs
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.store import Store
from ucwa_flow.ucwa import UcwaClient

__all__ = [
    "AccountHealth",
    "AdminHandle",
    "Readiness",
    "ReloadReport",
    "add_secret",
    "bind_account",
    "configure_logging",
    "flow_name_of",
    "load_deployment",
    "make_bot",
    "new_metrics",
    "reload_flow",
    "start_admin",
    "start_outbound",
]


def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


# -- A and C: the deployment loader, the admin endpoint's data ------------------------------


def is_deployment_error(exc: BaseException) -> bool:
    return isinstance(exc, DeploymentError)


# -- B: routing, limits, hot swap, outbound by name ----------------------------------------


def make_bot(
    spec: AccountSpec,
    flows: Mapping[str, Flow],
    client: UcwaClient,
    *,
    clock: Clock,
    sink: t.TraceSink | None,
    http: httpx.AsyncClient | None,
    store: Store | None,
) -> Bot:
    """A durable bot running ``spec``'s flows (a Catalog with its routes and limits)."""
    routing = _optional("ucwa_flow.runtime.routing")
    limits = _optional("ucwa_flow.runtime.limits")
    if routing is None or limits is None:  # main: one flow per bot
        return Bot(flows[spec.default_flow], client, clock=clock, sink=sink, http=http, store=store)
    routes = [
        routing.Route(r.flow, caller=r.caller, subject=r.subject, first_message=r.first_message)
        for r in spec.routes
    ]
    catalog = routing.Catalog(dict(flows), routes, default=spec.default_flow)
    lim = spec.limits
    chosen = limits.Limits(
        max_conversations=lim.max_conversations,
        max_answering=lim.max_answering,
        when_full=lim.when_full,
        busy_message=lim.busy_message,
    )
    bot_class: Any = Bot  # Bot(flow_or_catalog, ..., limits=) once part B is merged
    made = bot_class(catalog, client, clock=clock, sink=sink, http=http, store=store, limits=chosen)
    assert isinstance(made, Bot)
    return made


def reload_flow(bot: Bot, name: str, flow: Flow) -> tuple[int, int]:
    """Hand ``flow`` to the running engine: (conversations moved, conversations kept)."""
    engine: Any = bot.engine
    if not hasattr(engine, "reload"):
        raise OperationalError("this build has no hot swap (Engine.reload, part B)")
    done = engine.reload(name, flow)
    return int(done.moved), int(done.kept)


def start_outbound(bot: Bot, name: str, invitee: str) -> None:
    """``engine.start_outbound(name, invitee)``; KeyError for a flow the engine lacks."""
    engine: Any = bot.engine
    if not hasattr(engine, "start_outbound"):
        raise OperationalError("outbound by flow name needs Engine.start_outbound (part B)")
    engine.start_outbound(name, invitee)


def flow_name_of(bot: Bot, conversation: str) -> str | None:
    instance: Any = bot.engine.instances.get(conversation)
    if instance is None:
        return None
    return str(getattr(instance, "flow_name", instance.flow.name))


def active(bot: Bot) -> Counter[tuple[str, str]]:
    engine: Any = bot.engine
    if hasattr(engine, "active"):
        return Counter(engine.active())
    return Counter(
        (str(getattr(i, "flow_name", i.flow.name)), i.state)
        for i in bot.engine.instances.values()
        if not i.ended
    )


# -- C: metrics, admin endpoint, logs ------------------------------------------------------


class AdminHandle(Protocol):
    async def stop(self) -> None: ...


def new_metrics() -> Metrics:
    return Metrics()


async def start_admin(
    target: AdminTarget, metrics: Metrics | None, token: str | None, host: str, port: int
) -> tuple[AdminHandle, tuple[str, int]] | None:
    """Start the admin server for ``target``; ``None`` without metrics."""
    if metrics is None:
        return None
    server = AdminServer(create_app(target, metrics, token), host, port)
    bound = await server.start()
    return server, (str(bound[0]), int(bound[1]))


def configure_logging(format: str, level: str, secrets: list[str]) -> None:
    logs.configure_logging(format, level, secrets)


def add_secret(value: str) -> None:
    if value:
        logs.add_secret(value)


@contextlib.contextmanager
def bind_account(account: str) -> Iterator[None]:
    """Log lines from here (and tasks started here) carry ``account``."""
    with logcontext.bind(account=account):
        yield
