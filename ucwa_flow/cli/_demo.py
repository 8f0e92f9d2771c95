"""What ``ucwa-flow run`` simulates around a flow on the embedded simulator.

A flow reaches the outside world in two ways, and on the simulator neither is there:

* **webhooks** whose URL comes from a flow variable pointing at this machine (``http://
  127.0.0.1:8751/tickets``, ``http://localhost/...``): nothing listens there in a demo.
  Each such variable, unless ``--var`` sets it, is pointed at a demo ticket service
  (:class:`~ucwa_flow.simulator.demo.TicketService`) on a free loopback port, keeping the
  URL's path. Variables pointing elsewhere are left alone (a real service is called), and
  so is a URL written in the webhook itself.
* **invitations** (``invite`` and ``handoff`` actions): each address they invite, rendered
  from the flow's starting variables, is a simulated agent
  (:class:`~ucwa_flow.simulator.demo.DemoAgent`) who answers after a short delay, unless it
  is the bot or the caller. A handoff's agent, once bridged, answers the caller's first
  message with a canned line and gives the caller back with the handoff's ``done`` command.

:func:`plan` reads the flow; :class:`DemoWorld` starts and stops what the plan needs and
says what it simulates (:meth:`DemoWorld.banner`). The caller and the agents are added
to the simulator's users (:func:`extra_users`), so any address can chat or be invited.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit, urlunsplit

from ucwa_flow.flow import (
    Action,
    Flow,
    Handoff,
    Invite,
    Template,
    TemplateRenderError,
    Webhook,
    iter_actions,
    template_context,
)
from ucwa_flow.simulator import Simulator, SimulatorUser
from ucwa_flow.simulator.demo import Answer, DemoAgent, TicketService
from ucwa_flow.simulator.server import serve_app

__all__ = ["DemoPlan", "DemoWorld", "extra_users", "plan", "serve_world"]

_LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}


@dataclass(frozen=True)
class DemoPlan:
    """``services``: variable -> the loopback URL the flow gives it; ``agents``: addresses
    the flow invites; ``done``: a handoff agent -> the command that ends its bridge."""

    services: dict[str, str]
    agents: tuple[str, ...]
    done: dict[str, str] = field(default_factory=dict)


def plan(flow: Flow, *, set_by_user: set[str], caller: str, bot: str) -> DemoPlan:
    """What to simulate for ``flow`` (see the module docstring)."""
    services: dict[str, str] = {}
    agents: dict[str, None] = {}
    done: dict[str, str] = {}
    people = {caller.lower(), bot.lower()}
    for action in _actions(flow):
        if isinstance(action, Webhook):
            for name in sorted(action.url.variables):
                value = flow.variables.get(name)
                if name not in set_by_user and isinstance(value, str) and _is_loopback(value):
                    services[name] = value
        elif isinstance(action, Invite):
            to = _invitee(flow, action.to, caller)
            if to is not None and to.lower() not in people:
                agents[to] = None
        elif isinstance(action, Handoff):
            for template in action.to:
                to = _invitee(flow, template, caller)
                if to is not None and to.lower() not in people:
                    agents[to] = None
                    if action.done is not None:
                        done[to] = action.done_command
    return DemoPlan(services, tuple(agents), done)


def extra_users(known: list[SimulatorUser], addresses: list[str]) -> list[SimulatorUser]:
    """Users to add so that every address in ``addresses`` can sign in or be invited."""
    have = {user.uri.lower() for user in known}
    added: list[SimulatorUser] = []
    for address in addresses:
        uri = address if address.startswith("sip:") else "sip:" + address
        if uri.lower() not in have and "@" in uri:
            have.add(uri.lower())
            added.append(SimulatorUser(uri, _display_name(uri)))
    return added


class DemoWorld:
    """The running ticket service and agents of a :class:`DemoPlan`."""

    def __init__(self, plan: DemoPlan, urls: dict[str, str], agents: list[DemoAgent]) -> None:
        self.plan = plan
        self.urls = urls  # variable -> the demo service URL it now has
        self.agents = agents

    def apply(self, flow: Flow) -> Flow:
        """``flow`` with its service variables pointed at the demo ticket service."""
        if not self.urls:
            return flow
        return replace(flow, variables={**flow.variables, **self.urls})

    @property
    def answering(self) -> bool:
        """An agent has an invitation ringing that it is about to answer."""
        return any(agent.answering for agent in self.agents)

    def banner(self) -> list[str]:
        """What is simulated, one line each."""
        lines = []
        for name, url in self.urls.items():
            lines.append(
                f"  {name} = {url}: a demo service that files each POST as a ticket "
                f"(--var {name}=URL calls yours)"
            )
        for agent in self.agents:
            what = {"accept": "accepts", "decline": "declines", "ignore": "does not answer"}
            lines.append(
                f"  {agent.uri}: a simulated agent who {what[agent.answer]} invitations "
                f"after {agent.delay:g}s"
            )
        return lines


@contextlib.asynccontextmanager
async def serve_world(
    plan: DemoPlan,
    sim: Simulator,
    *,
    report: Callable[[str], None],
    delay: float,
    answer: Answer,
) -> AsyncIterator[DemoWorld]:
    """Start the ticket service (when a variable needs it) and the agents of ``plan``."""
    agents = [
        DemoAgent(
            sim.virtual_user(uri),
            report=report,
            delay=delay,
            answer=answer,
            done=plan.done.get(uri),
        )
        for uri in plan.agents
    ]
    async with contextlib.AsyncExitStack() as stack:
        urls: dict[str, str] = {}
        if plan.services:
            base = await stack.enter_async_context(serve_app(TicketService(clock=sim.clock)))
            urls = {name: _moved(url, base) for name, url in plan.services.items()}
        for agent in agents:
            agent.start()
            stack.push_async_callback(agent.aclose)
        yield DemoWorld(plan, urls, agents)


def _actions(flow: Flow) -> Iterator[Action]:
    lists: list[tuple[Action, ...]] = [h.actions for h in flow.commands]
    for state in flow.states.values():
        lists += [state.enter, state.ended, state.delivery_failed]
        lists += [h.actions for h in (*state.handlers, *state.commands)]
        lists += [step.actions for step in state.no_match]
        lists += [step.actions for step in state.timeouts]
    if flow.outbound is not None:
        lists += [flow.outbound.declined or (), flow.outbound.no_answer or ()]
        campaign = flow.outbound.campaign
        if campaign is not None and campaign.report is not None:
            lists.append((campaign.report,))
    for actions in lists:
        yield from iter_actions(actions)


def _invitee(flow: Flow, template: Template, caller: str) -> str | None:
    ctx = template_context(variables=flow.variables, flow=flow.name, caller_uri=caller)
    try:
        to = template.render(ctx).strip()
    except TemplateRenderError:
        return None
    return to if "@" in to else None


def _is_loopback(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and (parts.hostname or "") in _LOOPBACK


def _moved(url: str, base: str) -> str:
    """``url`` with the scheme and address of ``base`` (its path and query kept)."""
    parts, to = urlsplit(url), urlsplit(base)
    return urlunsplit((to.scheme, to.netloc, parts.path, parts.query, ""))


def _display_name(uri: str) -> str:
    local = uri[4:].split("@", 1)[0]
    return " ".join(word.capitalize() for word in local.replace(".", " ").replace("-", " ").split())
