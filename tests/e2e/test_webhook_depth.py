"""A webhook answer nested deep (but not past what ``json.loads`` reads) is no JSON.

Such an answer became the conversation's variable, and the durable bot's committer, which
copies the variables it commits with ``copy.deepcopy``, ran out of stack on it: the commit
task died with a RecursionError, and the bot committed nothing more. A real bot (SQLite
store) on the simulator, a real webhook server on loopback.
"""

from __future__ import annotations

from tests.e2e.harness import stage, webhook_server
from ucwa_flow.flow import load_flow_text
from ucwa_flow.runtime.webhooks import MAX_JSON_DEPTH
from ucwa_flow.store import Store

FLOW = """\
version: 1
name: deep
start: ask
settings: {idle_timeout: 1h}
variables: {url: URL, got: null}
states:
  ask:
    messages:
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


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


async def test_an_answer_nested_too_deep_is_no_json_and_the_bot_goes_on(
    sqlite_store: Store,
) -> None:
    with webhook_server() as hooks:
        flow = load_flow_text(FLOW.replace("URL", hooks.url), "deep.flow.yaml")
        async with stage(flow.raise_for_errors(), store=sqlite_store) as s:
            lene = await s.person()
            hooks.reply = _nested(900)  # json.loads reads it; deepcopy did not copy it
            await lene.say("deep")
            assert await lene.hear() == ["no JSON"]
            await s.committed()
            hooks.reply = _nested(MAX_JSON_DEPTH)
            await lene.say("as deep as may be")
            assert await lene.hear() == ["JSON"]
            await s.committed()
            await s.crash()
            await s.restart()
            hooks.reply = {"id": 1}
            await lene.say("again")
            assert await lene.hear() == ["JSON"]
