"""The compiled flow: frozen dataclasses that the interpreter, the checks and the graph use.

A :class:`Flow` is built from a validated YAML document by the builder; nothing here
parses YAML or knows about the schema. Every node carries the :class:`Location` of its
source, so runtime traces and diagnostics can point into the file.

Actions are a closed union (:data:`Action`); an interpreter dispatches on their type.
Texts are :class:`~ucwa_flow.flow.Template` objects, values :class:`~ucwa_flow.flow.Value`
objects and conditions :class:`~ucwa_flow.flow.Condition` objects, all compiled once in
the sandbox; message matchers are :class:`~ucwa_flow.flow.Matcher` objects with a time
bound. Durations are seconds (floats).

Every action list has a stable id (``states.menu.enter``, ``states.menu.messages[2]``,
``states.menu.enter[3].accepted``...; the scheme is in ``_action_lists``), computed once
per flow: :meth:`Flow.action_list` resolves one, so suspended work can be kept as data.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal

from ucwa_flow.flow._action_lists import (
    CAMPAIGN_REPORT,
    UnknownActionList,
    branch_list_id,
    command_list_id,
    handler_list_id,
    state_list_id,
)
from ucwa_flow.flow._diagnostics import Location
from ucwa_flow.flow._handoff import Handoff
from ucwa_flow.flow._invitation import InvitationPolicy, InvitationRule, TimeWindow
from ucwa_flow.flow._outbound import Invite, Outbound
from ucwa_flow.flow._patterns import Matcher, MatcherKind
from ucwa_flow.flow._sandbox import Condition, Template, Value
from ucwa_flow.flow._subflow_model import Call, Return, SubFlow

__all__ = [
    "Action",
    "Call",
    "Flow",
    "Goto",
    "Handoff",
    "If",
    "InvitationPolicy",
    "InvitationRule",
    "Invite",
    "LadderStep",
    "Log",
    "MessageHandler",
    "Outbound",
    "Return",
    "Say",
    "SetVariable",
    "Settings",
    "State",
    "Stop",
    "SubFlow",
    "TimeWindow",
    "TimeoutStep",
    "Typing",
    "Webhook",
    "iter_actions",
]

MessageFormat = Literal["text", "html"]
FirstMessage = Literal["handle", "route_only"]
LogLevel = Literal["debug", "info", "warning", "error"]


# --- actions -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Say:
    """Send a message. ``html`` is sent when the flow's format is html and it is given;
    otherwise ``text`` is sent (when only ``html`` is given, the interpreter derives the
    plain fallback by stripping tags).

    A ``say`` written with ``texts`` has one ``(language, text, html)`` version per
    language in ``texts``; ``text`` and ``html`` are then the default language's.
    """

    text: Template | None
    html: Template | None
    location: Location
    texts: tuple[tuple[str, Template | None, Template | None], ...] = ()


@dataclass(frozen=True, slots=True)
class SetVariable:
    """Store ``value`` (evaluated in the template context) in variable ``name``."""

    name: str
    value: Value
    location: Location


@dataclass(frozen=True, slots=True)
class Goto:
    """Leave the current state and enter ``target`` (its ``enter`` actions run)."""

    target: str
    location: Location


@dataclass(frozen=True, slots=True)
class Stop:
    """Stop messaging: say nothing more and end the conversation."""

    location: Location


@dataclass(frozen=True, slots=True)
class Typing:
    """Show the typing indicator to the caller."""

    location: Location


@dataclass(frozen=True, slots=True)
class Log:
    """Write ``message`` to the run's log and trace at ``level``."""

    message: Template
    level: LogLevel
    location: Location


@dataclass(frozen=True, slots=True)
class If:
    """Run ``then`` when ``condition`` is true, else ``otherwise``."""

    condition: Condition
    then: tuple[Action, ...]
    otherwise: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class Webhook:
    """Call an HTTP endpoint; ``success`` runs on a 2xx answer, ``failure`` otherwise.

    The answer's JSON body (or ``None``) is stored in variable ``result`` when given, and
    the ``webhook`` context name holds ``{status, json, error}`` during the branches.
    """

    url: Template
    method: str
    headers: tuple[tuple[str, Template], ...]
    json: Value | None
    timeout: float
    result: str | None
    success: tuple[Action, ...]
    failure: tuple[Action, ...] | None
    location: Location


Action = (
    Say | SetVariable | Goto | Stop | Typing | Log | If | Invite | Webhook | Call | Return | Handoff
)


def iter_actions(actions: tuple[Action, ...]) -> Iterator[Action]:
    """Every action in ``actions``, depth first, including those nested in branches."""
    for action in actions:
        yield action
        if isinstance(action, If):
            yield from iter_actions(action.then)
            yield from iter_actions(action.otherwise)
        elif isinstance(action, Invite):
            for branch in (action.accepted, action.declined, action.no_answer):
                yield from iter_actions(branch or ())
        elif isinstance(action, Webhook):
            yield from iter_actions(action.success)
            yield from iter_actions(action.failure or ())
        elif isinstance(action, Handoff):
            for _, nested in action.branches():
                yield from iter_actions(nested or ())


# --- handlers and ladders ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MessageHandler:
    """An ordered message handler (or a command, when ``name`` is set).

    ``actions`` already contains the handler's ``set``/``say``/``do``/``goto`` sugar in
    execution order. :meth:`match` returns captures or ``None``.
    """

    matcher: Matcher
    actions: tuple[Action, ...]
    location: Location
    name: str | None = None

    @property
    def kind(self) -> MatcherKind:
        return self.matcher.kind

    def match(self, text: str) -> dict[str, str] | None:
        """Captures when the handler applies to ``text``; may raise ``MatchTimeout``."""
        return self.matcher.match(text)


@dataclass(frozen=True, slots=True)
class LadderStep:
    """The actions of one rung of a no-match ladder (1st miss, 2nd miss, ...)."""

    actions: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class TimeoutStep:
    """Run ``actions`` after ``after`` seconds of caller silence in the state."""

    after: float
    actions: tuple[Action, ...]
    location: Location


@dataclass(frozen=True, slots=True)
class State:
    """One state of the flow.

    ``commands`` are the commands in force in this state, in matching order: the state's
    own (including overrides of global ones) then the remaining global commands; a
    command disabled with ``false`` is absent. They are tried before ``handlers``.
    """

    name: str
    enter: tuple[Action, ...]
    handlers: tuple[MessageHandler, ...]
    commands: tuple[MessageHandler, ...]
    no_match: tuple[LadderStep, ...]
    timeouts: tuple[TimeoutStep, ...]
    ended: tuple[Action, ...]
    delivery_failed: tuple[Action, ...]
    location: Location

    def all_action_lists(self) -> Iterator[tuple[Action, ...]]:
        """Every top-level action list of this state (commands included)."""
        yield self.enter
        for handler in (*self.commands, *self.handlers):
            yield handler.actions
        for rung in self.no_match:
            yield rung.actions
        for step in self.timeouts:
            yield step.actions
        yield self.ended
        yield self.delivery_failed


# --- top level ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Settings:
    """Flow-wide settings; ``idle_timeout`` ends a silent conversation (``None``: never).

    ``first_message``: ``handle`` runs the text that came with the caller's invitation
    through the start state's handlers, as a message; ``route_only`` uses it only for the
    invitation policy (rules, templates of a decline message) and does not handle it.
    ``changed_message`` is said when a restarted bot's flow lost a conversation's state.
    ``default_language``, ``language`` (a template naming the conversation's language)
    and ``detect_language`` (keywords per language, looked for in the caller's first
    message) pick the version of a ``say`` with ``texts`` (see ``_texts``).
    """

    format: MessageFormat = "text"
    first_message: FirstMessage = "handle"
    idle_timeout: float | None = None
    match_timeout: float = 0.05
    max_message_length: int = 4000
    timezone: str = "UTC"
    changed_message: str = (
        "Sorry, this conversation cannot go on: the service was updated meanwhile. "
        "Please start a new conversation."
    )
    default_language: str | None = None
    language: Template | None = None
    detect_language: tuple[tuple[str, Matcher], ...] = ()


@dataclass(frozen=True, slots=True)
class Flow:
    """A compiled, checked flow: the input of the interpreter and the graph.

    ``variables`` maps each declared variable to its default value (plain JSON data).
    ``secrets`` names the variables the flow marks secret (its top-level ``secrets``
    list): declared ones, regex captures, ``set`` targets or webhook results, each
    checked to be one of those; a store redacts their values in transcripts and in
    ended conversation records. ``states`` keeps the file's order; ``commands`` are the
    global commands.

    ``version`` is the version of the flow *language* (always 1), not of this flow.
    ``digest`` identifies this flow's content: the sha256 (64 hex digits) of the text the
    loader read, encoded as UTF-8 (for :func:`~ucwa_flow.flow.load_flow`, the file's bytes
    without a leading byte-order mark; for ``load_flow_text``, the text given). Any edit,
    even a comment, changes it; the same text has the same digest in every process and
    on every machine, so a store can record which version of a flow a conversation ran.
    ``source`` names the file (or what ``load_flow_text`` was told).

    Every action list, branches included, is indexed by its id when the flow is made
    (:meth:`action_list`); ids depend only on the flow's structure. ``subflows`` are the
    sub-flows it calls, by name; their states are in ``states`` as ``SUBFLOW/STATE``.
    ``files`` are the files it was read from: ``source`` first, then every file it
    includes and every sub-flow it calls (with their includes), in the order they were
    read (the files ``digest`` covers; ``serve --watch`` watches them).
    """

    name: str
    description: str
    version: int
    start: str
    settings: Settings
    variables: Mapping[str, object]
    secrets: frozenset[str]
    invitation: InvitationPolicy
    commands: tuple[MessageHandler, ...]
    states: Mapping[str, State]
    outbound: Outbound | None
    source: str
    digest: str
    location: Location
    subflows: Mapping[str, SubFlow] = field(default_factory=dict)
    files: tuple[str, ...] = ()
    _lists: Mapping[str, tuple[Action, ...]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )
    _languages: frozenset[str] = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "_lists", _index_lists(self))
        settings = self.settings
        languages = {name for name, _ in settings.detect_language}
        languages.update(
            name
            for actions in self._lists.values()
            for action in actions
            if isinstance(action, Say)
            for name, _, _ in action.texts
        )
        if settings.default_language is not None:
            languages.add(settings.default_language)
        object.__setattr__(self, "_languages", frozenset(languages))

    @property
    def languages(self) -> frozenset[str]:
        """The flow's languages: the default, the detected ones, those ``texts`` name."""
        return self._languages

    @property
    def start_state(self) -> State:
        return self.states[self.start]

    @property
    def action_list_ids(self) -> Iterator[str]:
        """The id of every action list of the flow (branches included)."""
        return iter(self._lists)

    def action_list(self, list_id: str) -> tuple[Action, ...]:
        """The action list named ``list_id``; :class:`UnknownActionList` when the flow has
        none (it changed incompatibly since the id was taken)."""
        try:
            return self._lists[list_id]
        except KeyError:
            raise UnknownActionList(self.name, list_id) from None


def _index_lists(flow: Flow) -> dict[str, tuple[Action, ...]]:
    lists: dict[str, tuple[Action, ...]] = {}

    def add(list_id: str, actions: tuple[Action, ...]) -> None:
        lists[list_id] = actions
        for i, action in enumerate(actions):
            branches: tuple[tuple[str, tuple[Action, ...] | None], ...] = ()
            if isinstance(action, If):
                branches = (("then", action.then), ("else", action.otherwise))
            elif isinstance(action, Invite):
                branches = (
                    ("accepted", action.accepted),
                    ("declined", action.declined),
                    ("no_answer", action.no_answer),
                )
            elif isinstance(action, Webhook):
                branches = (("success", action.success), ("failure", action.failure))
            elif isinstance(action, Handoff):
                branches = action.branches()
            for branch, nested in branches:
                add(branch_list_id(list_id, i, branch), nested or ())

    for name, state in flow.states.items():
        add(state_list_id(name, "enter"), state.enter)
        for j, handler in enumerate(state.handlers):
            add(handler_list_id(name, j), handler.actions)
        for j, command in enumerate(state.commands):
            add(command_list_id(name, command.name or str(j)), command.actions)
        for j, rung in enumerate(state.no_match):
            add(state_list_id(name, f"no_match[{j}]"), rung.actions)
        for j, step in enumerate(state.timeouts):
            add(state_list_id(name, f"timeouts[{j}]"), step.actions)
        add(state_list_id(name, "ended"), state.ended)
        add(state_list_id(name, "delivery_failed"), state.delivery_failed)
    if flow.outbound is not None:
        add("outbound.declined", flow.outbound.declined or ())
        add("outbound.no_answer", flow.outbound.no_answer or ())
        if flow.outbound.campaign is not None and flow.outbound.campaign.report is not None:
            add(CAMPAIGN_REPORT, (flow.outbound.campaign.report,))
    return lists
