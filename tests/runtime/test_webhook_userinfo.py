"""A webhook URL's password is in no failure's line, however the URL is written.

httpx reads the userinfo up to the authority's last ``@``, ending it only at ``/?#``: the
password of ``http://bot:s3cr\\et@127.0.0.1:9/x`` is ``s3cr\\et``, which a repr shows as
``s3cr\\\\et``. A closed port on loopback makes the call fail for real.
"""

from __future__ import annotations

import pytest

from ucwa_flow.runtime.webhooks import WebhookCaller


@pytest.mark.parametrize(
    "url",
    [
        "http://bot:s3cr\\et@127.0.0.1:9/x",
        "http://bot:s3cr\\et@127.0.0.1:9/a/../x",
        "http://bot:s3cr@et@127.0.0.1:9/x",
        "http://bot:s3cr@et@127.0.0.1:9/a/../x",
        "http://bot:s3cr'et@127.0.0.1:9/a/../x",
    ],
)
async def test_the_password_is_in_no_failure(url: str) -> None:
    caller = WebhookCaller()
    try:
        result = await caller.call("POST", url, headers={}, body=None, timeout=5)
    finally:
        await caller.aclose()
    assert result.error is not None
    assert "127.0.0.1:9" in result.error
    assert "[redacted]@127.0.0.1:9" in result.error
    for part in ("s3cr", "et@", "bot:"):
        assert part not in result.error
