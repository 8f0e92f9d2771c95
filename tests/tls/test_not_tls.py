"""The advice for an ``https://`` URL whose server answered in plain HTTP, whatever the
OpenSSL version words it as (the end-to-end case runs on this machine's OpenSSL:
``tests/e2e/test_cli.py``)."""

from __future__ import annotations

import ssl

import httpx
import pytest

from ucwa_flow.ucwa._tls import not_tls_hint

ADVICE = "; the server does not speak TLS there (a plain HTTP server?): try http://h:8/x"


@pytest.mark.parametrize(
    "text",
    [
        "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",  # OpenSSL < 3.2
        "[SSL] record layer failure (_ssl.c:1000)",  # OpenSSL >= 3.2
    ],
)
def test_either_wording_gets_the_advice(text: str) -> None:
    wrapped = httpx.ConnectError(text)  # what httpx raises keeps only the text
    assert not_tls_hint(wrapped, "https://h:8/x") == ADVICE
    cause = ssl.SSLError(1, text)
    cause.reason = "RECORD_LAYER_FAILURE" if "record" in text else "WRONG_VERSION_NUMBER"
    outer = httpx.ConnectError("could not connect")
    outer.__cause__ = cause
    assert not_tls_hint(outer, "https://h:8/x") == ADVICE


def test_no_advice_for_other_failures_or_a_plain_url() -> None:
    assert not_tls_hint(httpx.ConnectError("[Errno 111] Connection refused"), "https://h/") == ""
    wrapped = httpx.ConnectError("[SSL] record layer failure (_ssl.c:1000)")
    assert not_tls_hint(wrapped, "http://h/") == ""
