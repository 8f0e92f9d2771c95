"""The engine's fast paths do what the general paths they stand for do.

Each test runs the same conversation twice, once as the engine runs it and once with the
fast path turned off, and compares everything seen from outside: the trace records, in
order, and the requests the port was asked to make.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from tests.runtime.test_engine_lost import RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import Flow, Location, Say, Template, handler_list_id, load_flow_text
from ucwa_flow.flow._sandbox import TemplateRenderError
from ucwa_flow.lifecycle import LifecycleTracker
from ucwa_flow.lifecycle import conversation as conv_lc
from ucwa_flow.runtime import Engine, interpreter
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import Context
from ucwa_flow.runtime.flowmachine import FlowMachine, Plans
from ucwa_flow.runtime.matching import candidates, first_match
from ucwa_flow.runtime.saying import render_say
from ucwa_flow.runtime.silence import Silence
from ucwa_flow.ucwa.dataurl import encode_data_url
from ucwa_flow.ucwa.events import ConversationEvent, decode_batch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "events"
HERE = Location("test", 1, 1)

FLOW = """
version: 1
name: fast
start: main
commands:
  stop:
    choice: [stop]
    say: Bye!
    do: [stop]
states:
  main:
    enter:
      - say: Hi {{ caller.name }}
    messages:
      - choice: [two]
        do:
          - say: "one {{ message }}"
          - say: "two {{ state }} {{ conversation.messages.caller }}"
      - choice: [broken]
        say: "{{ message.upper(1, 2, 3) }}"
      - choice: [again]
        do:
          - say: first
          - goto: main
      - match: 'set (?P<word>\\w+)'
        do:
          - set: {name: word_seen, value: "{{ word }}"}
          - say: "set {{ word }}"
      - any: true
        say: "You said: {{ message }}"
"""

TEXTS = ["hello", "two", "broken", "again", "set lemon", "two", "Hi Tosh", "stop", "late"]


def _flow() -> Flow:
    result = load_flow_text(FLOW)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


def _batches(messages: list[str]) -> list[Any]:
    """The invitation, the accept-time events, then one incoming message per text."""
    texts = [(FIXTURES / f"msdocs_ReceiveAnIM_{n}.json").read_text("utf-8") for n in ("08", "15")]
    batches = [decode_batch(json.loads(text)) for text in texts]
    message = (FIXTURES / "msdocs_ReceiveAnIM_16.json").read_text("utf-8")
    for n, text in enumerate(messages):
        body = message.replace("messaging/messages/2", f"messaging/messages/m{n}")
        body = body.replace("data:text/plain;charset=utf-8,Hi+Tosh%0d%0a", encode_data_url(text))
        batches.append(decode_batch(json.loads(body)))
    return batches


async def _run(flow: Flow, texts: list[str] = TEXTS) -> tuple[list[t.Trace], list[tuple[str, str]]]:
    traces: list[t.Trace] = []
    port = RecordingPort()
    engine = Engine(flow, port, ManualClock(), traces.append)
    for batch in _batches(texts):
        engine.handle(batch)
        await engine.idle()
    await engine.aclose()
    return traces, port.calls


async def test_say_only_lists_run_as_the_general_path_runs_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = await _run(_flow())
    with monkeypatch.context() as patched:
        patched.setattr(Plans, "says_only", lambda self, flow, list_id: None)
        slow = await _run(_flow())
    assert fast == slow
    said = [r.text for r in fast[0] if isinstance(r, t.MessageOut)]
    assert {"You said: hello", "one two", "two main 3"} <= set(said)
    assert any(isinstance(r, t.FlowError) for r in fast[0])  # the broken template


def test_says_only_takes_lists_of_says_alone() -> None:
    flow = _flow()
    machine = FlowMachine(flow)
    assert machine.plans.says_only(flow, "states.main.messages[0]") is not None
    assert machine.plans.says_only(flow, "states.main.messages[2]") is None  # a goto in it
    assert machine.plans.says_only(flow, "states.main.messages[3]") is None  # a set in it
    assert machine.plans.says_only(flow, "no such list") is None
    assert machine.plans.says_only(_flow(), "states.main.messages[0]") is None  # another copy


def test_a_context_gets_what_it_holds_and_only_that() -> None:
    class Instance:
        def __init__(self) -> None:
            self.variables = {"tries": 2, "vars": "shadowed"}
            self.state = "main"

    context = Context(Instance(), {"message": "hi"})  # type: ignore[arg-type]
    for name in ("tries", "message", "state", "nothing", "agent"):
        expected = context[name] if name in context else "absent"  # noqa: SIM401 (the point)
        assert context.get(name, "absent") == expected
    assert context.get("nothing") is None
    built = context.built
    assert Template("{{ message }} {{ tries }} {{ nothing }}", HERE).render(context) == "hi 2 "
    assert context.built == built  # built once, kept


def test_a_conversation_record_of_the_current_state_needs_no_trigger() -> None:
    # the tracker returns at once when a record reports the state the conversation is in
    # (not "deleted"): where the trigger it would look up reports that state, or is none
    body = (FIXTURES / "msdocs_ReceiveAnIM_16.json").read_text("utf-8")
    events = decode_batch(json.loads(body)).events
    record = next(e for e in events if isinstance(e, ConversationEvent))
    states = [*conv_lc.STATES, *conv_lc.REPORTED.values(), None, "Bogus"]
    for kind in ("added", "updated", "deleted"):
        for state in states:
            for old in conv_lc.STATES:
                if state == old and kind != "deleted":
                    trigger = conv_lc.trigger_for(replace(record, type=kind, state=state))
                    assert trigger is None or conv_lc.REPORTED[trigger] == old


def test_the_tracker_follows_the_conversation_records() -> None:
    batches = [
        (FIXTURES / f"msdocs_ReceiveAnIM_{n}.json").read_text("utf-8") for n in ("08", "15", "16")
    ]
    tracker = LifecycleTracker()
    seen = []
    for batch in [*batches, batches[2]]:
        for event in decode_batch(json.loads(batch)).events:
            seen += [type(c).__name__ for c in tracker.apply(event)]
    assert seen.count("ConversationState") == 2  # Incoming, Connected; then only reports
    deleted = batches[2].replace('"type": "updated"', '"type": "deleted"')
    for event in decode_batch(json.loads(deleted)).events:
        seen += [type(c).__name__ for c in tracker.apply(event)]
    assert seen[-2:] == ["ConversationState", "ConversationEnded"]


class _Timers:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.posted: list[float] = []

    def post_timer(self, owner: Any, delay: float, epoch: int) -> Any:
        self.posted.append(delay)
        return self.clock.call_later(delay, lambda: None)


async def test_silence_heard_sets_a_timer_only_when_the_one_set_is_late() -> None:
    timers = _Timers()
    silence = Silence(timers)
    silence.heard(None, ((60.0, 0), (600.0, -1)))
    await timers.clock.advance(10)
    silence.heard(None, ((60.0, 0), (600.0, -1)))  # the timer set goes off first: kept
    assert timers.posted == [60.0]
    silence.heard(None, ((5.0, 0),))  # a shorter schedule: a new, earlier timer
    assert timers.posted == [60.0, 5.0]
    silence.heard(None, ())
    assert timers.posted == [60.0, 5.0]


SAYS = """
version: 1
name: says
start: main
settings: {format: html, default_language: en, detect_language: {de: [hallo]}}
states:
  main:
    messages:
      - choice: [html]
        say: {text: "text {{ message }}", html: "<b>html</b> {{ message }}"}
      - choice: [only]
        say: {html: "<i>only</i> {{ message }}"}
      - choice: [texts]
        say: {texts: {en: "en {{ message }}", de: {text: "de", html: "<b>de</b>"}}}
      - any: true
        do:
          - say: "plain {{ message }} {{ conversation.language }}"
          - say: "{{ message.upper(1) }}"
"""


def _says() -> tuple[Flow, list[Say]]:
    result = load_flow_text(SAYS)
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    flow = result.flow
    actions = [a for i in range(4) for a in flow.action_list(handler_list_id("main", i))]
    says = [a for a in actions if isinstance(a, Say)]
    assert says == actions
    return flow, says


def test_a_say_of_text_alone_renders_as_render_say_renders_it() -> None:
    # what ``FlowInstance._say`` (``interpreter.say``) does without ``render_say`` for such a say
    _, says = _says()
    plain = [a for a in says if a.html is None and a.text is not None and not a.texts]
    assert len(plain) == 2
    for message in ("hi", "hallo"):
        for language in ("en", "de", None):
            ctx = {"message": message, "conversation": {"language": language}}
            for flow_format in ("text", "html"):
                for formats in ((), ("Plain",), ("Plain", "Html"), ("Html",)):
                    for action in plain:
                        assert action.text is not None
                        try:
                            fast: Any = (action.text.render(ctx), None)
                        except TemplateRenderError as exc:
                            fast = str(exc)
                        try:
                            general: Any = render_say(action, ctx, flow_format, formats)
                        except TemplateRenderError as exc:
                            general = str(exc)
                        assert fast == general
    assert isinstance(fast, str)  # the failing template
    assert "template failed" in fast


async def test_says_with_html_or_texts_take_render_say(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[Say] = []

    def recording(action: Say, *args: Any) -> tuple[str, str | None]:
        rendered.append(action)
        return render_say(action, *args)

    monkeypatch.setattr(interpreter, "render_say", recording)
    flow, says = _says()
    traces, _ = await _run(flow, ["html", "only", "texts", "hi"])
    assert rendered == [says[0], says[1], says[2]]
    said = [r.text for r in traces if isinstance(r, t.MessageOut)]
    assert said == ["plain Hi Tosh en", "text html", "only only", "en texts", "plain hi en"]
    assert any(isinstance(r, t.FlowError) for r in traces)  # the failing template


def test_first_match_answers_as_each_handler_s_match_in_order() -> None:
    # candidates keep each matcher's ``match`` (``None`` for ``any``): the same answers
    flow = _flow()
    texts = [*TEXTS, "", "  two ", "set", "set x y", "STOP", "bye"]
    for state in flow.states.values():
        tried = candidates(state)
        assert [c[2] is None for c in tried] == [h.matcher.kind == "any" for h, _, _ in tried]
        for text in texts:
            expected = next(
                (
                    (h, list_id, h.match(text))
                    for h, list_id, _ in tried
                    if h.match(text) is not None
                ),
                None,
            )
            assert first_match(tried, text, _Unheard()) == expected


class _Unheard:
    def report_error(self, message: str, location: object) -> None:
        pass
