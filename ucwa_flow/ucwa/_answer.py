"""What one ``200`` answer of the event channel carries (:func:`read_answer`).

The channel's loop hands every ``200`` here and gets back, as data, the items for its
consumer and the URL of its next P-GET, or :class:`Refused` when the body is not a UCWA
event body. Nothing here sends a request or touches the consumer's queue; the only state
it reads and updates is what the caller passes in (the keys of the batches already handed
on, the counters).
"""

from __future__ import annotations

import logging
from collections import deque

import httpx

from ucwa_flow import bounded_json
from ucwa_flow.ucwa._http import resolve, same_origin, with_query
from ucwa_flow.ucwa._stats import ChannelStats
from ucwa_flow.ucwa.channel_items import ChannelItem, ConversationsLost, ReadPosition
from ucwa_flow.ucwa.errors import MalformedEventBody
from ucwa_flow.ucwa.events import decode_batch

__all__ = ["Entry", "Refused", "read_answer"]

log = logging.getLogger("ucwa_flow.ucwa")

#: an item for the consumer and where it was read
Entry = tuple[ChannelItem, ReadPosition]


class Refused(Exception):
    """The body is not a UCWA event body; ``continue_at`` is its readable ``next`` link."""

    def __init__(self, error: MalformedEventBody, continue_at: str | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.continue_at = continue_at


def read_answer(
    response: httpx.Response,
    url: str,
    here: str,
    *,
    seen: deque[str],
    prefetch: bool,
    hold: float,
    stats: ChannelStats,
    user: str,
) -> tuple[list[Entry], str]:
    """The items a ``200`` to the P-GET of ``url`` carries, and the URL of the next P-GET.

    ``here`` is the application's own href (for the positions). A batch whose key is in
    ``seen`` (delivered twice) is not handed on again; one handed on is added to it. An
    empty batch is handed on only without ``prefetch``. ``hold`` is the timeout asked for
    again after a ``resume``. Raises :class:`Refused` for a body that is not an event body.
    """
    try:
        body = bounded_json.loads(response.content)
    except bounded_json.TooDeep:  # json.loads' RecursionError ended the channel's reader
        problem = f"the answer to GET {url} is JSON nested too deeply"
        raise Refused(MalformedEventBody(problem), None) from None
    except ValueError:
        raise Refused(MalformedEventBody(f"the answer to GET {url} is not JSON"), None) from None
    try:
        batch = decode_batch(body)
    except MalformedEventBody as exc:
        log.error("%s: refused event body from %s: %.500r", user, url, body)
        raise Refused(exc, _next_of(body, url)) from None

    if batch.resync_href:
        follow = _followed(url, batch.resync_href)
        lost = ConversationsLost("resync", f"server asked to resync at {url}")
        stats.resyncs += 1
        return [(lost, ReadPosition(url, follow, here))], follow
    if batch.resume_href:
        follow = with_query(_followed(url, batch.resume_href), timeout=str(int(hold)))
    elif batch.next_href:
        follow = _followed(url, batch.next_href)
    else:
        raise Refused(MalformedEventBody("no next, resync or resume link", "$._links"), None)
    items: list[Entry] = []
    key = resolve(url, batch.self_href or url)
    if key in seen:
        log.info("%s: batch %s delivered twice; handed on once", user, key)
    elif not batch.is_empty or not prefetch:
        seen.append(key)
        stats.batches += 1
        items.append((batch, ReadPosition(url, follow, here)))
    if batch.resume_href:
        # before its batch; resuming after it reads this answer again, batch included
        lost = ConversationsLost("resume", f"server resumed the channel at {url}")
        items.insert(0, (lost, ReadPosition(url, url if items else follow, here)))
    return items, follow


def _followed(url: str, href: str) -> str:
    """The link ``href`` of the answer to ``url``, resolved; :class:`Refused` (no place to
    go on at: the same poll is asked again) when it leads to another origin."""
    follow = resolve(url, href)
    if not same_origin(follow, url):
        problem = f"the answer to GET {url} links to another host: {follow}"
        raise Refused(MalformedEventBody(problem, "$._links"), None)
    return follow


def _next_of(body: object, url: str) -> str | None:
    """The ``next`` href of a body the decoder refused, if it has a readable one."""
    if isinstance(body, dict):
        links = body.get("_links")
        if isinstance(links, dict):
            entry = links.get("next")
            if isinstance(entry, dict) and isinstance(entry.get("href"), str):
                follow = resolve(url, entry["href"])
                return follow if same_origin(follow, url) else None
    return None
