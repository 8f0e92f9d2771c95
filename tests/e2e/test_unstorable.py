"""A text the store cannot write (a lone surrogate: half of a UTF-16 pair, which no UTF-8
encodes) never becomes a variable: from a webhook's JSON ``"\\ud800"`` it is read as
U+FFFD, made by a template (``'\\ud800'``) the ``set`` is a flow error, as it is of an
integer too long to write as a text (``(10 ** 64) ** 64 * ...``). Before, the commit
failed with a ``UnicodeEncodeError`` and the account answered no one any more. A real bot
(SQLite store) on the simulator, a real webhook server on loopback."""

from __future__ import annotations

from tests.e2e.harness import EXTRA_USERS, stage, webhook_server
from ucwa_flow.flow import load_flow_text
from ucwa_flow.store import Store

FLOW = """\
version: 1
name: lookup
start: ask
settings: {idle_timeout: 1h}
variables: {url: URL, got: null, made: null}
states:
  ask:
    messages:
      - match: '^big$'
        do:
          - set: {made: "{{ (10 ** 64) ** 64 * (10 ** 64) ** 4 }}"}
          - say: "big {{ made }}"
      - match: '^make$'
        do:
          - set: {made: "{{ 'a\\ud800' }}"}
          - say: "made {{ made }}"
      - any: true
        do:
          - webhook:
              url: "{{ url }}"
              method: POST
              json: {q: "{{ message }}"}
              result: got
              success: [{say: "got {{ got.name | length }}"}]
              failure: [{say: failed}]
"""


async def test_a_lone_surrogate_from_a_webhook_does_not_wedge_the_account(
    sqlite_store: Store,
) -> None:
    with webhook_server() as hooks:
        flow = load_flow_text(FLOW.replace("URL", hooks.url), "lookup.flow.yaml")
        async with stage(flow.raise_for_errors(), store=sqlite_store) as s:
            lene = await s.person()
            hooks.reply = {"name": "\ud800"}  # json.dumps writes it "\ud800": valid JSON
            await lene.say("who")
            assert await lene.hear() == ["got 1"]  # U+FFFD
            await s.committed()
            await lene.say("make")
            assert await lene.hear() == ["made None"]  # the set failed: a flow error
            await s.committed()
            await lene.say("big")  # 4,353 digits: more than Python writes as a text
            assert await lene.hear() == ["big None"]
            await s.committed()
            hooks.reply = {"name": "Ann"}
            other = await s.person(EXTRA_USERS[0].uri)
            await other.say("who")
            assert await other.hear() == ["got 3"]
            await s.committed()
