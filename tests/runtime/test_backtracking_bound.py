"""A flow pattern that backtracks catastrophically (``F120`` warns of it) does not stall the
bot: on a message that almost matches, the match runs out of its ``match_timeout``, counts
as no match, and the next handler answers. A real bot on the simulator."""

from __future__ import annotations

from typing import Any

from tests.guards import WAIT
from tests.runtime.conftest import BOT
from ucwa_flow.flow import load_flow_text
from ucwa_flow.runtime import trace as t

FLOW = """
version: 1
name: slow
start: ask
settings: {idle_timeout: 10m}
states:
  ask:
    messages:
      - match: "^(a|aa)+$"
        say: all a
      - any: true
        say: something else
"""


async def test_a_catastrophic_pattern_times_out_and_the_next_handler_answers(
    run_bot: Any,
) -> None:
    loaded = load_flow_text(FLOW, "slow.flow.yaml")
    assert [d.code for d in loaded.diagnostics] == ["F120"]
    async with run_bot(loaded.raise_for_errors()) as run:
        lene = run.sim.virtual_user("sip:lenea@contoso.com")
        await lene.start_conversation(BOT, "a" * 60 + "!")  # fibonacci(60) ways to fail
        assert (await lene.wait_for_message(WAIT)).text == "something else"
        lene.send("aaaa")
        assert (await lene.wait_for_message(WAIT)).text == "all a"
    errors = [r for r in run.traces if isinstance(r, t.FlowError)]
    assert errors, "the timed-out match is reported"
