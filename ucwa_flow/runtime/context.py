"""What a flow instance's templates and conditions see, and its variables' starting values.

:func:`context_of` builds the names a template or condition of a running conversation can
use (``docs/flow-language.md``, "Templates"): the variables, the state, the caller, the
message being handled, the conversation's facts (subject, message counts, account, the
back stack's top, the language) and the extras of the action list (``match``,
``webhook``, ``delivery``). The conversation's language is ``settings.language`` when it
names one of the flow's languages, else the one its first message showed, else the
default (``ucwa_flow.flow._texts``).
:func:`copy_variables` gives each conversation its own copy of the flow's declared
variables, so that one conversation's changes never leak into another's.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow import Flow, Template, TemplateRenderError, template_context

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["context_of", "copy_variables"]

log = logging.getLogger("ucwa_flow.runtime")


def context_of(instance: FlowInstance, extras: Mapping[str, Any]) -> dict[str, Any]:
    """The template context of ``instance`` running an action list with ``extras``."""
    settings = instance.flow.settings
    context = template_context(
        variables=instance.variables,
        state=instance.state,
        flow=instance.flow.name,
        caller_uri=instance.caller_uri or "",
        caller_name=instance.caller_name or _user(instance.caller_uri),
        message=extras.get("message", ""),
        match=extras.get("match"),
        webhook=extras.get("webhook"),
        conversation_format="html" if "Html" in instance.conv.messaging.formats else "text",
        subject=instance.conv.subject or "",
        messages=instance.facts.messages(),
        account=instance.services.account,
        previous=instance.facts.previous,
        language=instance.facts.language or settings.default_language,
        delivery=extras.get("delivery"),
        agent=extras.get("agent"),
        now=instance.services.clock.now(),
        timezone=settings.timezone,
    )
    if settings.language is not None:
        _choose_language(instance.flow, settings.language, context)
    return context


def _choose_language(flow: Flow, rule: Template, context: dict[str, Any]) -> None:
    """``settings.language`` decides ``conversation.language`` when it renders one of the
    flow's languages (it sees the detected or default one); a failure is logged."""
    try:
        chosen = rule.render(context).strip()
    except TemplateRenderError as exc:
        log.warning("%s: settings.language: %s", rule.location, exc)
        return
    if chosen in flow.languages:
        context["conversation"]["language"] = chosen


def copy_variables(variables: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``variables`` (JSON-like values: dicts, lists, scalars)."""
    return {k: _copy(v) for k, v in variables.items()}


def _user(uri: str | None) -> str:
    return (uri or "").removeprefix("sip:").split("@", 1)[0] or "there"


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
