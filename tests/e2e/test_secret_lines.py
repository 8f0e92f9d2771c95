"""A secret's value kept out of every transcript line, in a store (both backends).

A failed webhook's ``error`` line names its URL, which a secret may be part of. Before,
the error line and the log line kept the URL in clear (only messages, variable and
outcome lines were cleaned).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, stage, webhook_server
from tests.e2e.test_subflow_lines import _one_file
from tests.e2e.test_turned_away import store, target  # noqa: F401
from ucwa_flow.store import ConversationQuery, Store

_FAILED = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {employee: null, reset: null, url: URL}
secrets: [employee]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - match: '^(?P<employee>E\\d{6})$'
        do:
          - webhook:
              url: "{{ url }}/reset?e={{ employee }}"
              json: {}
              result: reset
              success: [{say: "ref {{ reset.id }}"}, stop]
              failure: [{say: "not now"}, stop]
"""


async def test_a_failed_webhooks_error_line_has_the_secret_blanked_out(
    store: Store,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with webhook_server() as hooks:
        hooks.status, hooks.reply = 404, {"msg": "no such employee E123456"}
        flow = _one_file(tmp_path, _FAILED.replace("URL", hooks.url))
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("E123456")
            assert await ann.hear(2) == ["Hello.", "not now"]
            await ann.hear_end()
            await s.idle()
    assert hooks.received[0][1] == "/reset?e=E123456"  # the service gets it
    (record,) = await store.conversations(ConversationQuery())
    lines = await store.transcript(BOT, record.conversation)
    assert "E123456" not in json.dumps([line.data for line in lines])
    (error,) = [line.data for line in lines if line.kind == "error"]
    assert f"POST {hooks.url}/reset?e=[redacted] answered 404" in error["message"]
    # and the run's log line (a caller's value: the log's redaction never learns it)
    (logged,) = [r.getMessage() for r in caplog.records if "answered 404" in r.getMessage()]
    assert logged.endswith(f"POST {hooks.url}/reset?e=[redacted] answered 404")
