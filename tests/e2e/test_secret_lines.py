"""A secret's value kept out of every transcript line, in a store (both backends).

A failed webhook's ``error`` line names its URL, which a secret may be part of; a webhook
run from a state's ``ended`` handler answers after the conversation's record was written
as ended; a campaign's report runs in no conversation. Before, the error line and the log
line kept the URL in clear (only messages, variable and outcome lines were cleaned), a
``set: {campaign.NAME: ...}`` line and a ``log`` action's line kept the value in clear,
and the lines a webhook wrote after the end or in a report were not cleaned at all (no
secret value was known for them), nor, after the end, committed before the next batch
of the event channel.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, LENE, stage, webhook_server
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


_ENCODED = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {key: "ab+c/d== e", url: URL}
secrets: [key]
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - any: true
        do:
          - webhook:
              url: >-
                {{ url }}/r?a={{ key | urlencode }}&b={{ key | urlsegment
                }}&{{ {'c': key} | urlencode }}
              json: {}
              success: [{say: "done"}, stop]
              failure: [{say: "not now"}, stop]
"""


async def test_a_secret_encoded_in_a_webhooks_url_is_blanked_out_of_its_error_line(
    store: Store,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # an API key with "+", "/", "=" or a space is percent-encoded in the URL: the error
    # line and the log line kept that form of it in clear
    with webhook_server() as hooks:
        hooks.status, hooks.reply = 404, {}
        flow = _one_file(tmp_path, _ENCODED.replace("URL", hooks.url))
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("reset")
            assert await ann.hear(2) == ["Hello.", "not now"]
            await ann.hear_end()
            await s.idle()
    sent = "a=ab%2Bc/d%3D%3D%20e&b=ab%2Bc%2Fd%3D%3D%20e&c=ab%2Bc%2Fd%3D%3D+e"
    assert hooks.received[0][1] == f"/r?{sent}"  # the service gets it
    (record,) = await store.conversations(ConversationQuery())
    lines = await store.transcript(BOT, record.conversation)
    (error,) = [line.data for line in lines if line.kind == "error"]
    blanked = "a=[redacted]&b=[redacted]&c=[redacted]"
    assert f"POST {hooks.url}/r?{blanked} answered 404" in error["message"]
    (logged,) = [r.getMessage() for r in caplog.records if "answered 404" in r.getMessage()]
    assert logged.endswith(f"POST {hooks.url}/r?{blanked} answered 404")


_ON_END = """\
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
        do: [{say: "noted"}, {goto: wait}]
  wait:
    ended:
      - webhook:
          url: "{{ url }}/reset"
          json: {employee: "{{ employee }}"}
          result: reset
          success: [{log: {message: "reset {{ reset.id }} for {{ employee }}", level: warning}}]
"""


async def test_an_ended_handlers_webhook_lines_have_the_secret_blanked_out(
    store: Store,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with webhook_server() as hooks:
        hooks.reply = {"id": "R-1", "employee": "E123456"}
        flow = _one_file(tmp_path, _ON_END.replace("URL", hooks.url))
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("E123456")
            assert await ann.hear(2) == ["Hello.", "noted"]
            await ann.caller.hang_up()
            await s.until(lambda: len(hooks.received) == 1, "the ended handler's webhook")
            await s.idle()  # the stage is quiet only once its lines are committed
            (record,) = await store.conversations(ConversationQuery())
            # answered: the record keeps no work after the end any more, nor its request
            # (which held the secret while it waited: test_durable_after_end)
            assert record.pending == ()
            assert "E123456" not in json.dumps(record.extra)
            lines = await store.transcript(BOT, record.conversation)
    assert hooks.received[0][2] == {"employee": "E123456"}  # the service gets it
    assert "E123456" not in json.dumps([line.data for line in lines])
    assert "E123456" not in json.dumps(record.variables)
    (outcome,) = [line.data for line in lines if line.kind == "outcome"]
    assert outcome["result"]["json"] == {"id": "R-1", "employee": "[redacted]"}
    reset = [
        line.data for line in lines if line.kind == "variable" and line.data["name"] == "reset"
    ]
    assert reset == [{"name": "reset", "value": {"id": "R-1", "employee": "[redacted]"}}]
    # a `log` action's line too: the log's redaction knows no caller's value
    (logged,) = [r.getMessage() for r in caplog.records if "reset R-1" in r.getMessage()]
    assert logged.endswith("reset R-1 for [redacted]")


_CAMPAIGN = """\
version: 1
name: poll
start: ask
variables: {pin: null, key: K-SECRET-9, url: URL}
secrets: [pin, key]
outbound:
  to: [sip:lenea@contoso.com]
  message: "One question?"
  timeout: 2m
  campaign:
    variables: {note: null}
    report:
      url: "{{ url }}/report?k={{ key }}"
      json: {note: "{{ campaign.note }}"}
      failure: [{log: {message: "report failed for {{ key }}", level: warning}}]
states:
  ask:
    enter: [{say: Your PIN?}]
    messages:
      - match: '^(?P<pin>\\d{4,})$'
        do:
          - set: {campaign.note: "pin {{ pin }}"}
          - say: Thanks.
          - stop
"""


async def test_a_campaigns_lines_have_the_secrets_blanked_out(
    store: Store,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with webhook_server() as hooks:
        hooks.status, hooks.reply = 404, {"msg": "no"}
        flow = _one_file(tmp_path, _CAMPAIGN.replace("URL", hooks.url))
        async with stage(flow, store=store, before_bot=[LENE]) as s:
            (lene,) = s.people
            assert await lene.hear(2) == ["One question?", "Your PIN?"]
            await lene.say("90817")
            assert await lene.hear() == ["Thanks."]
            await lene.hear_end()
            await s.until(lambda: len(hooks.received) == 1, "the report")
            await s.idle()
            (record,) = await store.conversations(ConversationQuery())
            lines = await store.transcript(BOT, record.conversation)
            (joined,) = [line.data for line in lines if line.kind == "campaign_joined"]
            report = await store.transcript(BOT, f"campaign:{joined['campaign']}")
    assert hooks.received[0][1:] == ("/report?k=K-SECRET-9", {"note": "pin 90817"})
    (set_,) = [line.data for line in lines if line.kind == "campaign_set"]
    assert set_["value"] == "pin [redacted]"
    kept = json.dumps([line.data for line in [*lines, *report]])
    assert "90817" not in kept
    assert "K-SECRET-9" not in kept
    assert "report?k=[redacted] answered 404" in kept
    logged = [r.getMessage() for r in caplog.records if "report" in r.getMessage()]
    assert logged
    assert "K-SECRET-9" not in "\n".join(logged)


_USERINFO = """\
version: 1
name: m
start: menu
settings: {idle_timeout: 1h}
variables: {url: URL}
states:
  menu:
    enter: [{say: Hello.}]
    messages:
      - any: true
        do:
          - webhook:
              url: "{{ url }}/tickets"
              json: {}
              success: [{say: "done"}, stop]
              failure: [{say: "not now: {{ webhook.error }}"}, stop]
"""


async def test_a_password_in_a_webhooks_url_is_blanked_out_of_its_error(
    store: Store,  # noqa: F811
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # a deployment's ticket_url: https://bot:${TICKET_PW}@tickets/...: no flow secret, so
    # webhook.error, its transcript line and its log line kept the password in clear
    with webhook_server() as hooks:
        hooks.status, hooks.reply = 503, {}
        url = hooks.url.replace("http://", "http://bot:pw%2Fs3cr3t@")
        flow = _one_file(tmp_path, _USERINFO.replace("URL", url))
        async with stage(flow, store=store) as s:
            ann = await s.person()
            await ann.say("ticket")
            shown = f"POST {hooks.url.replace('http://', 'http://[redacted]@')}/tickets"
            assert await ann.hear(2) == ["Hello.", f"not now: {shown} answered 503"]
            await ann.hear_end()
            await s.idle()
    assert hooks.headers[0]["Authorization"] == "Basic Ym90OnB3L3MzY3IzdA=="  # bot:pw/s3cr3t
    (record,) = await store.conversations(ConversationQuery())
    lines = await store.transcript(BOT, record.conversation)
    kept = json.dumps([line.data for line in lines])
    assert "s3cr3t" not in kept
    assert f"{shown} answered 503" in kept
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{shown} answered 503" in logged
    assert "s3cr3t" not in logged
