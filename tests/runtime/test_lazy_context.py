"""A step's template context is built lazily: only the names its templates read.

The engine is driven through its seams (decoded sample batches in, a port that records
what it is asked), as in ``test_engine_lost``; the context is then compared with the one
:func:`~ucwa_flow.flow.template_context` builds eagerly from the same facts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.runtime.conftest import load
from tests.runtime.test_engine_lost import CONV, RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Location, Template, handler_list_id, template_context
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.context import Context
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.ucwa.events import decode_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
HERE = Location("test", 1, 1)


async def _echo_instance() -> FlowInstance:
    engine = Engine(load("echo"), RecordingPort(), ManualClock())
    engine.account = "sip:toshm@contoso.com"
    for name in ("msdocs_ReceiveAnIM_08", "msdocs_ReceiveAnIM_15"):
        body = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
        engine.handle(decode_batch(body))
        await engine.idle()
    return engine.instances[CONV]


def _eager(instance: FlowInstance, extras: dict[str, Any]) -> dict[str, Any]:
    """The context as it was built before it was lazy: every name, up front."""
    settings = instance.flow.settings
    uri = instance.caller_uri
    return template_context(
        variables=instance.variables,
        state=instance.state,
        flow=instance.flow.name,
        caller_uri=uri or "",
        caller_name=instance.caller_name
        or (uri or "").removeprefix("sip:").split("@")[0]
        or "there",
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
        now=instance.services.clock.now(),
        timezone=settings.timezone,
    )


async def test_a_template_builds_only_the_names_it_reads() -> None:
    instance = await _echo_instance()
    say = instance.flow.action_list(handler_list_id("echo", 0))[0]
    context = Context(instance, {"match": {}, "message": "hello"})
    assert say.text.render(context) == "You said: hello"  # type: ignore[attr-defined]
    assert context.built == 1  # "message", not the caller, the conversation, the time...
    Template("{{ caller.name }} in {{ state }}", HERE).render(context)
    assert context.built == 3
    Template("{{ message }} {{ state }}", HERE).render(context)
    assert context.built == 3  # built once, kept


async def test_the_lazy_context_holds_what_the_eager_one_held() -> None:
    instance = await _echo_instance()
    instance.variables.update({"ticket": {"id": 7}, "tries": 2})
    extras: dict[str, Any] = {"match": {"id": "E1"}, "message": "id E1", "webhook": None}
    lazy = Context(instance, extras)
    assert dict(lazy) == _eager(instance, extras)
    assert "tries" in lazy
    assert "nothing" not in lazy
    assert len(lazy) == len(dict(lazy))
    rendered = Template("{{ tries }} {{ vars.ticket.id }} {{ match.id }}", HERE).render(lazy)
    assert rendered == "2 7 E1"


async def test_variables_are_those_of_the_moment_the_context_was_made() -> None:
    # a `return` sets variables while it evaluates the values it returns: each value must
    # see the variables as they were when the action began, as with an eager context
    instance = await _echo_instance()
    instance.variables["a"] = "old"
    context = Context(instance, {})
    instance.variables["a"] = "new"
    assert Template("{{ a }} {{ vars.a }}", HERE).render(context) == "old old"
