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
import logging
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.deploy import AccountSpec, Deployment
from ucwa_flow.errors import OperationalError
from ucwa_flow.flow import Flow
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


# -- C: the admin endpoint's data (swap for `from ucwa_flow.admin import ...`) -------------


@dataclass
class AccountHealth:
    id: str
    user: str
    signed_in: bool
    channel_live: bool
    error: str | None


@dataclass
class Readiness:
    ready: bool
    store: bool
    accounts: list[AccountHealth] = field(default_factory=list)


@dataclass
class ReloadReport:
    ok: bool
    lines: list[str] = field(default_factory=list)


# -- A: the deployment loader -------------------------------------------------------------


def load_deployment(path: str | Path) -> Deployment:
    """Part A's ``load_deployment``; its ``DeploymentError`` (``file:line:col`` lines) is
    an :class:`~ucwa_flow.errors.UcwaFlowError` and passes through as it is."""
    loader = getattr(_optional("ucwa_flow.deploy"), "load_deployment", None)
    if loader is None:
        raise OperationalError("this build has no deployment loader (ucwa_flow.deploy)")
    deployment = loader(path)
    assert isinstance(deployment, Deployment)
    return deployment


def is_deployment_error(exc: BaseException) -> bool:
    kind = getattr(_optional("ucwa_flow.deploy"), "DeploymentError", None)
    return kind is not None and isinstance(exc, kind)


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


def new_metrics() -> Any | None:
    """Part C's ``Metrics()``, or ``None`` in a build without it."""
    module = _optional("ucwa_flow.observe.metrics")
    return None if module is None else module.Metrics()


async def start_admin(
    target: Any, metrics: Any | None, token: str | None, host: str, port: int
) -> tuple[AdminHandle, tuple[str, int]] | None:
    """Start part C's admin server for ``target``; ``None`` in a build without it."""
    admin = _optional("ucwa_flow.admin")
    if admin is None or metrics is None:
        logging.getLogger("ucwa_flow.service").warning(
            "this build has no admin endpoint (ucwa_flow.admin); not listening on %s:%d",
            host,
            port,
        )
        return None
    server = admin.AdminServer(admin.create_app(target, metrics, token), host, port)
    bound = await server.start()
    return server, (str(bound[0]), int(bound[1]))


def configure_logging(format: str, level: str, secrets: list[str]) -> None:
    logs = _optional("ucwa_flow.observe.logs")
    if logs is not None:
        logs.configure_logging(format, level, secrets)
        return
    logging.basicConfig(
        level=level.upper(), format="ucwa-flow: %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise


def add_secret(value: str) -> None:
    logs = _optional("ucwa_flow.observe.logs")
    if logs is not None and value:
        logs.add_secret(value)


@contextlib.contextmanager
def bind_account(account: str) -> Iterator[None]:
    """Log lines from here (and tasks started here) carry ``account``."""
    context = _optional("ucwa_flow.logcontext")
    if context is None:
        yield
        return
    with context.bind(account=account):
        yield
