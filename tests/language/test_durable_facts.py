"""A durable bot killed and restarted keeps what the flow language's round two adds to a
conversation: its facts (subject, message counts), its ``back`` stack and its language.

The bot runs against the simulator on loopback with a SQLite or PostgreSQL store;
``Stage.crash`` kills it as SIGKILL would and ``Stage.restart`` starts a new one on the
same store (see ``tests/e2e/test_durable.py``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.bot_stores import BACKENDS, bot_store
from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.store import Store

FACTS = """\
version: 1
name: durable-facts
start: ask
settings: {idle_timeout: 1h}
states:
  ask:
    messages:
      - any: true
        say: >-
          {{ conversation.subject }}: caller {{ conversation.messages.caller }},
          bot {{ conversation.messages.bot }}
"""


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The bot's store: a SQLite file, or a PostgreSQL schema of the test's own."""
    async with bot_store(request.param, tmp_path) as opened:
        yield opened


def _flow(text: str) -> Flow:
    result = load_flow_text(text, "durable.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


async def test_the_subject_and_message_counts_survive_a_restart(store: Store) -> None:
    async with stage(_flow(FACTS), store=store) as s:
        lene = await s.person()
        await lene.caller.invite("hello", subject="Order 7")
        assert await lene.hear() == ["Order 7: caller 1, bot 0"]
        await lene.say("again")
        assert await lene.hear() == ["Order 7: caller 2, bot 1"]
        await s.idle()

        await s.crash()
        await s.restart()
        await lene.say("after the restart")
        assert await lene.hear() == ["Order 7: caller 3, bot 2"]


BACKS = """\
version: 1
name: durable-back
start: a
settings: {idle_timeout: 1h}
commands:
  back: {choice: ["0"], goto: back}
states:
  a:
    enter: [{say: A}]
    messages: [{choice: [next], goto: b}]
  b:
    enter: [{say: B}]
    messages: [{choice: [next], goto: c}]
  c:
    enter: [{say: "C, back to {{ conversation.previous }}"}]
"""


async def test_the_back_stack_survives_a_restart(store: Store) -> None:
    async with stage(_flow(BACKS), store=store) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear() == ["A"]
        await lene.say("next")
        await lene.say("next")
        assert await lene.hear(2) == ["B", "C, back to b"]
        await s.idle()

        await s.crash()
        await s.restart()
        await lene.say("0")
        assert await lene.hear() == ["B"]
        await lene.say("0")
        assert await lene.hear() == ["A"]
        await lene.say("0")  # nothing before a: a run-time error, nothing said
        await lene.silence()


POLYGLOT = """\
version: 1
name: durable-polyglot
start: ask
settings:
  idle_timeout: 1h
  default_language: en
  detect_language: {de: [hallo]}
states:
  ask:
    messages:
      - any: true
        say: {texts: {en: "You said {{ message }}", de: "Sie sagten {{ message }}"}}
"""


async def test_the_detected_language_survives_a_restart(store: Store) -> None:
    async with stage(_flow(POLYGLOT), store=store) as s:
        lene = await s.person()
        await lene.say("hallo")
        assert await lene.hear() == ["Sie sagten hallo"]
        await s.idle()

        await s.crash()
        await s.restart()
        await lene.say("hello")
        assert await lene.hear() == ["Sie sagten hello"]


async def test_a_sub_flow_s_history_and_its_caller_s_survive_a_restart(
    store: Store, tmp_path: Path
) -> None:
    from tests.language.test_back import CALLER, SUBFLOW
    from ucwa_flow.flow import load_flow

    (tmp_path / "ask.subflow.yaml").write_text(SUBFLOW, "utf-8")
    (tmp_path / "caller.flow.yaml").write_text(CALLER, "utf-8")
    flow = load_flow(tmp_path / "caller.flow.yaml").flow
    assert flow is not None
    async with stage(flow, store=store) as s:
        lene = await s.person()
        await lene.say("hi")
        assert await lene.hear() == ["A"]
        await lene.say("b")
        assert await lene.hear(2) == ["B", "ask"]
        await lene.say("more")
        assert await lene.hear() == ["more"]
        await s.idle()

        await s.crash()
        await s.restart()
        await lene.say("0")  # back inside the sub-flow
        assert await lene.hear() == ["ask"]
        await lene.say("more")
        await lene.say("done")
        assert await lene.hear(2) == ["more", "got yes"]
        await lene.say("0")  # the caller's history: b came from a
        assert await lene.hear() == ["A"]
