"""A number that is not finite (``nan``, ``inf``) never becomes a variable.

``json.loads`` reads a webhook's ``NaN``, ``Infinity`` and ``1e400`` as ``nan`` and ``inf``,
and ``{{ message | float }}`` makes them of a caller's ``nan`` or ``inf``; no store writes
them (JSON has none), so the durable bot's commit failed on every try from then on, and
the account's conversations stopped being answered. A real bot (SQLite store) on the
simulator, a real webhook server on loopback.
"""

from __future__ import annotations

import math

from tests.e2e.harness import stage, webhook_server
from ucwa_flow.flow import load_flow_text
from ucwa_flow.store import Store

FLOW = """\
version: 1
name: numbers
start: ask
settings: {idle_timeout: 1h}
variables: {url: URL, got: null, amount: null}
states:
  ask:
    messages:
      - match: '^amount (?P<text>.*)$'
        do:
          - set: {amount: "{{ match.text | float }}"}
          - say: "amount {{ amount }}"
      - any: true
        do:
          - webhook:
              url: "{{ url }}"
              method: POST
              json: {q: "{{ message }}"}
              result: got
              success: [{say: "{{ 'no JSON' if got is none else 'JSON' }}"}]
              failure: [{say: failed}]
"""


async def test_a_webhooks_nan_or_infinity_is_no_json_and_the_bot_goes_on(
    sqlite_store: Store,
) -> None:
    with webhook_server() as hooks:
        flow = load_flow_text(FLOW.replace("URL", hooks.url), "numbers.flow.yaml")
        async with stage(flow.raise_for_errors(), store=sqlite_store) as s:
            lene = await s.person()
            for value in (math.nan, math.inf, -math.inf):  # NaN, Infinity, -Infinity
                hooks.reply = {"total": value}
                await lene.say("total")
                assert await lene.hear() == ["no JSON"]
                await s.committed()
            hooks.reply = {"total": 2.5}
            await lene.say("total")
            assert await lene.hear() == ["JSON"]
            await s.committed()


async def test_a_callers_nan_made_a_float_is_not_set_and_the_bot_goes_on(
    sqlite_store: Store,
) -> None:
    flow = load_flow_text(FLOW.replace("URL", "http://127.0.0.1:9"), "numbers.flow.yaml")
    async with stage(flow.raise_for_errors(), store=sqlite_store) as s:
        lene = await s.person()
        for text in ("nan", "inf", "-1e999"):  # the set fails: a flow error, no value
            await lene.say(f"amount {text}")
            assert await lene.hear() == ["amount None"]
            await s.committed()
        await lene.say("amount 1.5")
        assert await lene.hear() == ["amount 1.5"]
        await s.committed()
