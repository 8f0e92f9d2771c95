"""Structured logs: JSON lines and text, context fields, redaction of secrets everywhere."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import secrets
from typing import Any

import pytest

from ucwa_flow import logcontext
from ucwa_flow.observe.logs import Redactor, add_secret, configure_logging, redact
from ucwa_flow.runtime.mailboxes import Mailboxes

log = logging.getLogger("ucwa_flow.tests.observe")


def _lines(output: io.StringIO) -> list[dict[str, Any]]:
    """Every line of ``output`` as a JSON object (each must parse)."""
    text = output.getvalue()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def _secret() -> str:
    return f"pw-{secrets.token_hex(8)}"


def test_json_lines_carry_time_level_logger_message_and_context(log_output: io.StringIO) -> None:
    configure_logging("json", "debug", stream=log_output)
    log.debug("plain")
    with logcontext.bind(account="helpdesk"):
        with logcontext.bind(conversation="/conv/1", flow="helpdesk"):
            log.warning("inside %s", "both")
        log.info("account only")
        with logcontext.bind(account=None):
            log.info("none")
    lines = _lines(log_output)
    assert [line["message"] for line in lines] == ["plain", "inside both", "account only", "none"]
    first = lines[0]
    assert first["level"] == "debug"
    assert first["logger"] == "ucwa_flow.tests.observe"
    assert first["time"].endswith("Z")
    assert "T" in first["time"]
    assert "account" not in first
    assert lines[1]["level"] == "warning"
    assert {k: lines[1][k] for k in ("account", "conversation", "flow")} == {
        "account": "helpdesk",
        "conversation": "/conv/1",
        "flow": "helpdesk",
    }
    assert lines[2]["account"] == "helpdesk"
    assert "conversation" not in lines[2]
    assert "account" not in lines[3]


def test_a_json_line_writes_no_control_a_terminal_obeys(log_output: io.StringIO) -> None:
    # ensure_ascii=False leaves C1 controls (U+009B is CSI) and U+2028 raw on stderr
    configure_logging("json", "info", stream=log_output)
    said = "a\u009b2Jb\u2028c\x1b]0;t\x07"
    log.info("caller said %s", said)
    text = log_output.getvalue()
    assert not any(ch in text for ch in "\u009b\u2028\x1b\x07")
    assert _lines(log_output)[0]["message"] == f"caller said {said}"


def test_an_enricher_adds_fields_at_format_time_and_cannot_break_a_line(
    log_output: io.StringIO,
) -> None:
    configure_logging("json", "info", stream=log_output)
    states = {"/conv/1": "menu"}
    logcontext.enrich_with(
        lambda f: {"flow": "helpdesk", "state": states[f["conversation"]], "bad": 3}  # type: ignore[dict-item]
    )
    with logcontext.bind(conversation="/conv/1"):
        log.info("one")
        states["/conv/1"] = "ask_id"
        log.info("two")
    with logcontext.bind(conversation="/unknown"):
        log.info("three")  # the enricher raises KeyError: the line goes out without it
    one, two, three = _lines(log_output)
    assert (one["flow"], one["state"], two["state"]) == ("helpdesk", "menu", "ask_id")
    assert "bad" not in one
    assert three["conversation"] == "/unknown"
    assert "state" not in three


def test_exceptions_are_one_string_field(log_output: io.StringIO) -> None:
    configure_logging("json", "info", stream=log_output)
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")
    (line,) = _lines(log_output)
    assert line["level"] == "error"
    assert line["exc"].startswith("Traceback")
    assert "RuntimeError: boom" in line["exc"]


def test_a_secret_is_redacted_from_message_args_and_exception(log_output: io.StringIO) -> None:
    password, later = _secret(), _secret()
    configure_logging("json", "debug", secrets=[password], stream=log_output)
    log.info(f"in the message {password} itself")
    log.info("as an argument: %s", password)
    log.info("in a repr: %r", {"password": password})
    try:
        raise ValueError(f"refused {password}")
    except ValueError:
        log.exception("with an exception")
    log.info("before it was registered %s", later)
    add_secret(later)
    log.info("after it was registered %s", later)
    with logcontext.bind(account=password):
        log.info("in a context field")
    log.info("a broken format %d", password)  # shown, not raised, and still redacted
    text = log_output.getvalue()
    lines = _lines(log_output)
    assert password not in text
    assert text.count(later) == 1  # only the line written before add_secret
    assert lines[0]["message"] == "in the message *** itself"
    assert lines[1]["message"] == "as an argument: ***"
    assert "refused ***" in lines[3]["exc"]
    assert lines[-3]["message"] == "after it was registered ***"
    assert lines[-2]["account"] == "***"
    assert lines[-1]["message"] == "a broken format %d % ('***',)"


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("Authorization: Bearer cwt=AAEBHAAQ+/x9z", "Authorization: Bearer ***"),
        ("GET /x?cwt=AAEB_x-9&a=1", "GET /x?cwt=***&a=1"),
        ('{"access_token": "cwt=AAEB", "expires_in": 3600}', '{"access_token": "***", '),
        ("grant_type=password&username=u&password=s3cr%40t", "password=***"),
        ("wrong user name or password for sip:u@contoso.com", "or password for sip"),
        ("HTTP Request: POST https://bot:pw%2F1@t.example/x", "POST https://bot:***@t.example/x"),
        ("store postgresql://bots@db.example/x", "store postgresql://bots@db.example/x"),
        ("POST http://[redacted]@t.example/x answered 503", "http://[redacted]@t.example/x"),
    ],
)
def test_tokens_are_redacted_whatever_their_value(line: str, shown: str) -> None:
    assert shown in redact(line)
    assert redact(redact(line)) == redact(line)  # redacting twice changes nothing


def test_text_lines_and_handlers_of_others_are_redacted_too(log_output: io.StringIO) -> None:
    password = _secret()
    other_stream = io.StringIO()
    other = logging.StreamHandler(other_stream)  # someone else's handler, set up before
    named = logging.getLogger("ucwa_flow.tests.observe.other")
    named.addHandler(other)
    try:
        configure_logging("text", "info", secrets=[password], stream=log_output)
        assert any(isinstance(f, Redactor) for f in other.filters)
        with logcontext.bind(account="hr", conversation="/conv/9"):
            named.warning("token %s", password)
    finally:
        named.removeHandler(other)
    (line,) = log_output.getvalue().splitlines()
    assert line.endswith(
        " WARNING ucwa_flow.tests.observe.other: token *** [account=hr conversation=/conv/9]"
    )
    assert other_stream.getvalue() == "token ***\n"


def test_configuring_again_replaces_the_handler(log_output: io.StringIO) -> None:
    first = configure_logging("text", "info", stream=log_output)
    second = configure_logging("json", "warning", stream=log_output)
    root = logging.getLogger()
    assert first not in root.handlers
    assert second in root.handlers
    assert root.level == logging.WARNING
    assert logging.getLogger("httpx").level == logging.WARNING
    log.info("not shown")
    log.warning("shown")
    assert [line["message"] for line in _lines(log_output)] == ["shown"]


def test_unknown_format_or_level_is_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="use text or json"):
        configure_logging("yaml", "info")
    with pytest.raises(ValueError, match="use one of debug, info, warning, error, critical"):
        configure_logging("json", "verbose")


async def test_a_conversation_step_logs_with_its_conversation(log_output: io.StringIO) -> None:
    configure_logging("json", "info", stream=log_output)
    boxes = Mailboxes(lambda href: None)
    gate = asyncio.Event()

    def job(text: str, wait: bool = False) -> Any:
        async def run() -> None:
            if wait:
                await gate.wait()  # both conversations are in a step at once
            log.info(text)

        return run

    with logcontext.bind(account="helpdesk"):
        boxes.post("/conv/a", job("a1", wait=True))
        boxes.post("/conv/b", job("b1"))
        boxes.post("/conv/a", job("a2"))
    log.info("outside")
    await asyncio.sleep(0)
    gate.set()
    await boxes.drained()
    seen = {
        (line["message"], line.get("conversation"), line.get("account"))
        for line in _lines(log_output)
    }
    assert seen == {
        ("outside", None, None),
        ("a1", "/conv/a", "helpdesk"),
        ("a2", "/conv/a", "helpdesk"),
        ("b1", "/conv/b", "helpdesk"),
    }


def test_a_secret_of_one_or_two_characters_is_masked_only_where_it_stands_alone() -> None:
    add_secret("Q7")
    assert redact("cannot reach https://Q7host.contoso.com as Q7Q; password Q7 refused") == (
        "cannot reach https://Q7host.contoso.com as Q7Q; password *** refused"
    )


def test_a_text_line_is_one_line_whatever_a_caller_wrote(log_output: io.StringIO) -> None:
    # a flow's `log:` action with the caller's message: a line break forged a line of its
    # own (another logger, level ERROR), an escape sequence drove the terminal
    configure_logging("text", "info", stream=log_output)
    forged = "hi\n2026-01-05T09:00:00.000Z ERROR ucwa_flow.admin: reload failed\x1b[2K\r"
    with logcontext.bind(conversation="/conv/1\x1b[8m"):
        logging.getLogger("ucwa_flow.runtime.acting").info("%s: %s", "/conv/1", forged)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ucwa_flow.test").exception("failed\nhere")
    lines = log_output.getvalue().splitlines()
    assert lines[0].endswith(
        "ucwa_flow.runtime.acting: /conv/1: hi\\n2026-01-05T09:00:00.000Z ERROR "
        "ucwa_flow.admin: reload failed\\u001b[2K\\r [conversation=/conv/1\\u001b[8m]"
    ), lines
    assert "\x1b" not in log_output.getvalue()
    assert lines[1].endswith("ucwa_flow.test: failed\\nhere")
    assert lines[2] == "Traceback (most recent call last):"  # a traceback keeps its lines


def test_a_secret_is_masked_as_a_url_encodes_it_too() -> None:
    # a deployment's API key in a webhook's query, as urlencode writes it (httpx's request
    # lines at debug, a failure's line): it was shown in clear
    key = f"k+{secrets.token_hex(4)}/x=="
    add_secret(key)
    encoded = key.replace("+", "%2B").replace("=", "%3D")
    assert redact(f"POST https://crm.example/r?key={encoded} failed") == (
        "POST https://crm.example/r?key=*** failed"
    )
    assert redact(f"/r/{encoded.replace('/', '%2F')}/card") == "/r/***/card"


@pytest.mark.parametrize(
    ("line", "shown", "secret"),
    [
        ("GET https://user:pa@ss@host/x", "GET https://user:***@host/x", "ss"),
        ("GET https://a:b@c:d@host/", "GET https://a:***@host/", "c:d"),
        ('GET https://bot:p"w@host/', "GET https://bot:***@host/", 'p"w'),
        ("GET http://bot:s3cr\\et@127.0.0.1:9/x", "GET http://bot:***@127.0.0.1:9/x", "s3cr"),
    ],
)
def test_a_url_password_is_masked_up_to_the_authoritys_last_at(
    line: str, shown: str, secret: str
) -> None:
    # httpx reads the userinfo up to the last ``@`` before ``/?#``, quotes and ``\\`` in it
    assert redact(line) == shown
    assert secret not in redact(line)
    assert redact(redact(line)) == redact(line)


def test_a_url_with_a_user_and_no_password_is_left_as_it_is() -> None:
    for line in ("postgresql://postgres@host/db", "postgresql://postgres@host:5432/db"):
        assert redact(line) == line
