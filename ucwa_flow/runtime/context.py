"""What a flow instance's templates and conditions see, and its variables' starting values.

:class:`Context` gives the names a template or condition of a running conversation can
use (``docs/flow-language.md``, "Templates"): the variables, the state, the caller, the
message being handled, the conversation's facts (subject, message counts, account, the
back stack's top, the language) and the extras of the action list (``match``,
``webhook``, ``delivery``), in the shape :func:`~ucwa_flow.flow.template_context` gives.
The conversation's language is ``settings.language`` when it names one of the flow's
languages, else the one its first message showed, else the default
(``ucwa_flow.flow._texts``).

A :class:`Context` is a mapping that builds each name the first time it is
read. An action reads a few names at most (``You said: {{ message }}`` reads one; a
template hands on only the names it reads, see ``ucwa_flow.flow._sandbox``), so the
caller, the conversation, the clock's time in the flow's zone are built only for the
templates that use them. The variables are copied when the context is made: what an
action's templates see does not change while it runs (a ``return`` sets variables while
it evaluates its values), as when every name was built up front.
:func:`assign` stores a ``set`` (``campaign.NAME``: in the conversation's campaign run,
:mod:`ucwa_flow.runtime.campaigns`); :func:`campaign_view` is ``campaign`` in templates.
:func:`copy_variables` gives each conversation its own copy of the flow's declared
variables, so that one conversation's changes never leak into another's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import CAMPAIGN_PREFIX, NO_DELIVERY, Flow, Template, TemplateRenderError

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["Context", "assign", "campaign_view", "copy_variables", "same_value"]

log = logging.getLogger("ucwa_flow.runtime")

_NO_WEBHOOK: Mapping[str, Any] = {"status": None, "json": None, "error": None}


class Context(Mapping[str, Any]):
    """The template context of ``instance`` running an action list with ``extras``.

    Each fixed name (``vars``, ``caller``, ``conversation``...) is built when first read
    and kept; :attr:`built` counts the builds (a test checks that nothing is built for
    nothing). Iterating it builds everything, as ``dict(context)`` would want.
    """

    __slots__ = ("_extras", "_instance", "_made", "_variables", "built")

    def __init__(self, instance: FlowInstance, extras: Mapping[str, Any]) -> None:
        self._instance = instance
        self._extras = extras
        self._variables = dict(instance.variables)
        self._made: dict[str, Any] = {}
        if extras.get("agent") is not None:  # a handoff's branch: the agent, over a variable
            self._made["agent"] = dict(extras["agent"])
        self.built = 0

    def __getitem__(self, name: str) -> Any:
        made = self._made
        if name in made:
            return made[name]
        maker = _MAKERS.get(name)
        if maker is None:
            return self._variables[name]
        self.built += 1
        value = made[name] = maker(self)
        return value

    def get(self, name: str, default: Any = None) -> Any:
        """``self[name]`` if ``name in self``, else ``default``: one call where a template
        picking its names (``ucwa_flow.flow._sandbox``) would make two."""
        made = self._made
        if name in made:
            return made[name]
        maker = _MAKERS.get(name)
        if maker is None:
            return self._variables.get(name, default)
        self.built += 1
        value = made[name] = maker(self)
        return value

    def __contains__(self, name: object) -> bool:
        return name in _MAKERS or name in self._variables or name in self._made

    def __iter__(self) -> Iterator[str]:
        yield from (name for name in self._variables if name not in _MAKERS)
        if "agent" in self._made and "agent" not in self._variables:
            yield "agent"
        yield from _MAKERS

    def __len__(self) -> int:
        return sum(1 for _ in self)

    # -- the fixed names --------------------------------------------------------------

    def _caller(self) -> dict[str, str]:
        uri = self._instance.caller_uri
        name = self._instance.caller_name or _user(uri)
        return {"uri": uri or "", "name": name or uri or ""}

    def _conversation(self) -> dict[str, Any]:
        instance = self._instance
        settings = instance.flow.settings
        facts = instance.facts
        conversation = self._made["conversation"] = {
            "format": "html" if "Html" in instance.conv.messaging.formats else "text",
            "subject": instance.conv.subject or "",
            "messages": facts.messages(),
            "account": instance.services.account,
            "previous": facts.previous,
            "language": facts.language or settings.default_language,
        }
        if settings.language is not None:  # the rule sees the detected or default language
            _choose_language(instance.flow, settings.language, self, conversation)
        return conversation

    def _now(self) -> Any:
        now = self._instance.services.clock.now()
        return now.astimezone(ZoneInfo(self._instance.flow.settings.timezone))

    def _webhook(self) -> dict[str, Any]:
        return dict(self._extras.get("webhook") or _NO_WEBHOOK)

    def _delivery(self) -> dict[str, Any]:
        return dict(self._extras.get("delivery") or NO_DELIVERY)

    def _vars(self) -> dict[str, Any]:
        return self._variables

    def _match(self) -> dict[str, str]:
        return dict(self._extras.get("match") or {})

    def _message(self) -> Any:
        return self._extras.get("message", "")

    def _state(self) -> str:
        return self._instance.state

    def _flow(self) -> str:
        return self._instance.flow.name

    def _campaign(self) -> dict[str, Any]:
        return campaign_view(self._instance) or {}


_MAKERS: dict[str, Callable[[Context], Any]] = {
    "vars": Context._vars,
    "match": Context._match,
    "caller": Context._caller,
    "message": Context._message,
    "webhook": Context._webhook,
    "conversation": Context._conversation,
    "delivery": Context._delivery,
    "now": Context._now,
    "state": Context._state,
    "flow": Context._flow,
    "campaign": Context._campaign,
}


def _choose_language(
    flow: Flow, rule: Template, context: Context, conversation: dict[str, Any]
) -> None:
    """``settings.language`` decides ``conversation.language`` when it renders one of the
    flow's languages (it sees the detected or default one); a failure is logged."""
    try:
        chosen = rule.render(context).strip()
    except TemplateRenderError as exc:
        log.warning("%s: settings.language: %s", rule.location, exc)
        return
    if chosen in flow.languages:
        conversation["language"] = chosen


def assign(instance: FlowInstance, name: str, value: Any) -> None:
    """``set`` a variable of ``instance``: ``campaign.NAME`` is one of its campaign run."""
    if name.startswith(CAMPAIGN_PREFIX):
        campaigns = instance.services.campaigns
        if campaigns is None:
            raise UcwaFlowError(f"set {name}: campaigns do not run here")
        campaigns.assign(instance.href, name.removeprefix(CAMPAIGN_PREFIX), value)
    else:
        instance.set_variable(name, value)


def campaign_view(instance: FlowInstance) -> dict[str, Any] | None:
    """``campaign`` for ``instance``'s templates: its run's, else (a conversation outside
    any run) the declared variables' starting values, with no people; ``None`` for a
    flow without a campaign."""
    outbound = instance.flow.outbound
    if outbound is None or outbound.campaign is None:
        return None  # most flows: nothing more to look up
    campaigns = instance.services.campaigns
    run = campaigns.of(instance.href) if campaigns is not None else None
    if run is not None:
        return run.view()
    defaults = copy_variables(outbound.campaign.variables)
    return {**defaults, "id": None, "people": [], "size": 0, "done": 0}


def copy_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``variables`` (JSON-like values: dicts, lists, scalars)."""
    return {k: _copy(v) for k, v in variables.items()}


def same_value(a: Any, b: Any) -> bool:
    """Whether a variable holding ``a`` holds ``b`` still: equal, and of the same types
    (``True == 1`` in Python, not in a transcript), mappings and lists item by item."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    return bool(a == b)


def _user(uri: str | None) -> str:
    return (uri or "").removeprefix("sip:").split("@", 1)[0] or "there"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
