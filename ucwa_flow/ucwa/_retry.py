"""When an ordinary UCWA operation is sent again (private; the event channel has its own).

A 5xx, 408 or 429 answer (from UCWA, or from the token service on the way) means the
request was not performed: it is sent again after a back-off on the client's clock. So is
one whose token was refused right after its grant (:class:`~ucwa_flow.ucwa.errors.TokenRefused`):
the server performed nothing, and the next try fetches another token. A lost answer (the
connection broke) is sent again only for a GET, or when what broke was the token grant on
the way (the operation itself was not sent): a POST or DELETE may have been performed, and
sending it twice could say a message twice. A rejected certificate is final.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.ucwa.errors import (
    CertificateRejected,
    ServerUnreachable,
    TokenRefused,
    UcwaHttpError,
)

__all__ = ["RETRY_STATUSES", "with_retries"]

log = logging.getLogger("ucwa_flow.ucwa")

#: Answers that say the request was not performed: it may be sent again as it is.
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_MAX_BACKOFF = 8.0


async def with_retries(
    send: Callable[[], Awaitable[httpx.Response]],
    *,
    method: str,
    retries: int,
    backoff: float,
    clock: Clock,
    who: str,
) -> httpx.Response:
    """``await send()``, again up to ``retries`` times when that is safe (module docstring).

    The delays are ``backoff`` seconds, doubling, at most 8 s, on ``clock``.
    """
    attempt = 0
    while True:
        try:
            return await send()
        except CertificateRejected:
            raise
        except UcwaHttpError as exc:
            if exc.status not in RETRY_STATUSES or attempt >= retries:
                raise
            reason: Exception = exc
        except ServerUnreachable as exc:
            if (method != "GET" and not exc.unsent) or attempt >= retries:
                raise
            reason = exc
        except TokenRefused as exc:
            if attempt >= retries:
                raise
            reason = exc
        attempt += 1
        delay = min(_MAX_BACKOFF, backoff * 2 ** (attempt - 1))
        log.warning("%s: %s; trying again in %g s", who, reason, delay)
        await clock.sleep(delay)
