"""Logs of a real bot run (simulator over loopback): JSON lines, context, nothing secret."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from pathlib import Path

from tests.e2e.harness import PASSWORD, Stage, stage
from tests.service.world import HELPDESK, LENE, until, world
from ucwa_flow import logcontext
from ucwa_flow.flow import load_flow_text
from ucwa_flow.observe.logs import configure_logging


def _where(s: Stage, bound: Mapping[str, str]) -> dict[str, str]:
    """The flow and state of the conversation a line is about, looked up at format time."""
    instance = s.bot.engine.instances.get(bound.get("conversation", ""))
    return {"flow": instance.flow.name, "state": instance.state} if instance else {}


FLOW = """\
version: 1
name: logger
start: talk
states:
  talk:
    enter:
      - say: Hello
    messages:
      - any: true
        do:
          - log: {message: "caller said {{ message }}", level: warning}
          - say: Noted
"""


async def test_a_run_logs_json_with_the_conversation_and_never_a_password_or_token(
    log_output: io.StringIO,
) -> None:
    result = load_flow_text(FLOW, "logger.flow.yaml")
    assert result.flow is not None, result.diagnostics
    configure_logging("json", "debug", secrets=[PASSWORD], stream=log_output)
    with logcontext.bind(account="tosh"):
        async with stage(result.flow) as s:
            logcontext.enrich_with(lambda f: _where(s, f))  # as the service does
            lene = await s.person()
            await lene.say("hi")
            assert await lene.hear(2) == ["Hello", "Noted"]
            await lene.say(f"my password is {PASSWORD}")  # a caller types a secret
            assert await lene.hear() == ["Noted"]
            await s.idle()
            tokens = [t.authorization for t in s.bot.client.auth._tokens.values()]
            href = next(iter(s.bot.engine.instances))
    text = log_output.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert tokens
    assert all(token.split()[-1] not in text for token in tokens)
    assert PASSWORD not in text
    said = [line for line in lines if line["message"].startswith(f"{href}: caller said")]
    assert [line["message"].split(": ", 1)[1] for line in said] == [
        "caller said hi",
        "caller said my password is ***",
    ]
    assert all(line["conversation"] == href and line["account"] == "tosh" for line in said)
    assert all((line["flow"], line["state"]) == ("logger", "talk") for line in said)
    assert any(line["logger"].startswith("httpcore") for line in lines)  # debug: all of it


async def test_a_served_conversation_logs_its_account_flow_and_state(
    tmp_path: Path, log_output: io.StringIO
) -> None:
    configure_logging("json", "info", stream=log_output)
    async with world(tmp_path) as w:
        w.flow("helpdesk", text=FLOW)
        service = await w.service(w.deployment(w.account("helpdesk", HELPDESK)))
        await until(lambda: service.readiness().ready, "signed in")
        lene = await w.person(LENE, HELPDESK)
        await lene.say("hi")
        assert await lene.hear(2) == ["Hello", "Noted"]
    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    said = [line for line in lines if line["message"].endswith(": caller said hi")]
    assert len(said) == 1
    assert {k: said[0].get(k) for k in ("account", "flow", "state")} == {
        "account": "helpdesk",
        "flow": "helpdesk",
        "state": "talk",
    }
    assert said[0]["conversation"]
