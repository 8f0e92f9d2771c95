"""The template context: the names a flow's templates and conditions can read.

The interpreter builds one with :func:`template_context` for every action it runs, so
that all templates see the same shape (documented in ``docs/flow-language.md``,
"Template context"):

=========== ==============================================================================
name        value
=========== ==============================================================================
*variable*  every flow variable by its own name (``{{ ticket.id }}``)
``vars``    all variables as one mapping (``{{ vars['employee_id'] }}``)
``match``   the named captures of the regex handler that matched (empty elsewhere)
``caller``  ``{uri, name}`` of the other party of the conversation
``message`` the text of the caller's message being handled (empty elsewhere)
``webhook`` ``{status, json, error}`` of the last webhook call (in its branches)
``conversation`` ``{format, subject, messages, account, previous, language}``: ``html`` when the
            conversation negotiated HTML, else ``text``; its subject (``""`` when none); the
            messages so far, ``{caller, bot, total}``; the bot's SIP URI it came in on; the
            state ``goto: back`` would return to (``None`` when none); the language of
            the conversation (``None`` without translations)
``delivery`` ``{code, subcode, message, status}`` of the failed delivery (in
            ``delivery_failed``; all ``None`` elsewhere)
``now``     the current time, timezone-aware, in the flow's ``settings.timezone``
``state``   the name of the current state
``flow``    the flow's name
``campaign`` the campaign run's variables, ``id``, ``people``, ``size``, ``done`` (empty
            for a flow without ``outbound.campaign``; ``ucwa_flow.runtime.campaigns``)
=========== ==============================================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["NO_DELIVERY", "NO_MESSAGES", "template_context"]

#: ``delivery`` outside ``delivery_failed``
NO_DELIVERY: Mapping[str, Any] = {
    "code": None,
    "subcode": None,
    "message": None,
    "status": None,
}

#: ``conversation.messages`` before anyone said anything
NO_MESSAGES: Mapping[str, int] = {"caller": 0, "bot": 0, "total": 0}


def template_context(
    *,
    variables: Mapping[str, Any],
    state: str = "",
    flow: str = "",
    caller_uri: str = "",
    caller_name: str = "",
    message: str = "",
    match: Mapping[str, str] | None = None,
    webhook: Mapping[str, Any] | None = None,
    conversation_format: str = "text",
    subject: str = "",
    messages: Mapping[str, int] | None = None,
    account: str = "",
    previous: str | None = None,
    language: str | None = None,
    delivery: Mapping[str, Any] | None = None,
    agent: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    timezone: str = "UTC",
    campaign: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the mapping that :meth:`Template.render` and friends receive.

    Variables come first, so the fixed names above always win over them (the checks
    forbid variables with those names anyway).
    """
    context: dict[str, Any] = dict(variables)
    context.update(
        vars=dict(variables),
        match=dict(match or {}),
        caller={"uri": caller_uri, "name": caller_name or caller_uri},
        message=message,
        webhook=dict(webhook or {"status": None, "json": None, "error": None}),
        conversation={
            "format": conversation_format,
            "subject": subject,
            "messages": dict(messages or NO_MESSAGES),
            "account": account,
            "previous": previous,
            "language": language,
        },
        delivery=dict(delivery or NO_DELIVERY),
        now=now.astimezone(ZoneInfo(timezone)) if now is not None else None,
        state=state,
        flow=flow,
        campaign=dict(campaign or {}),
    )
    if agent is not None:  # a handoff's branch: the agent who accepted (over a variable)
        context["agent"] = dict(agent)
    return context
