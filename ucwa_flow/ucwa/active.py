"""What the server still has, read after the event channel lost track of it.

After a ``resync`` or a ``resume`` the events of the gap are gone, and the protocol's advice
is to drop cached transient state and read it again from the server (``ucwa-protocol.md``
section 5.4 and the ``communication.conversations`` link, "use it for rebuilding after
resync or resume"). Two reads serve that:

* :func:`active_conversations`: ``GET`` the communication resource's ``conversations``
  link (``.../communication/conversations?filter=active``) once; the hrefs it lists, as
  absolute URLs (:meth:`~ucwa_flow.ucwa.UcwaClient.absolute`);
* :func:`messaging_now`: one conversation's IM modality as the server has it now (``GET``
  the conversation, then its ``messaging`` link), as the :class:`MessagingEvent` an
  ``updated`` event would carry: a consumer feeds it to its tracker like any record.

Both follow links only. Every failure is a :class:`~ucwa_flow.ucwa.errors.UcwaError` (the
client's, or a missing link or resource that does not read as expected) or an ``httpx``
error; nothing here decides what to do about it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ucwa_flow.ucwa._http import link
from ucwa_flow.ucwa.client import UcwaClient
from ucwa_flow.ucwa.errors import UcwaError
from ucwa_flow.ucwa.events import MessagingEvent, decode_batch

__all__ = ["active_conversations", "listed_conversations", "messaging_now", "messaging_record"]


async def active_conversations(client: UcwaClient) -> frozenset[str]:
    """The conversations the server lists as active now (absolute hrefs); one ``GET``
    (two when the application snapshot has no ``conversations`` link yet)."""
    href = client.application.conversations_href
    if href is None:
        href = (await client.refresh_application()).conversations_href
    if href is None:
        raise UcwaError(
            f"{client.user}: the application's communication resource has no "
            "'conversations' link, so the server cannot say which conversations are still "
            "open; the bot ends every conversation it lost track of, as it would without "
            "rebuilding"
        )
    listing = await client.get(href)
    return frozenset(client.absolute(h) for h in listed_conversations(listing))


async def messaging_now(client: UcwaClient, conversation: str) -> MessagingEvent | None:
    """Conversation ``conversation``'s IM modality as the server has it now, as a record
    about ``conversation`` (the href as the caller names it); ``None`` when the
    conversation offers no messaging link."""
    resource = await client.get(conversation)
    href = link(resource, "messaging")
    if href is None:
        return None
    return messaging_record(conversation, href, await client.get(href))


def listed_conversations(listing: Mapping[str, Any]) -> list[str]:
    """The hrefs of a ``conversations`` resource's ``_links.conversation`` (one link or a
    list of them; none when the server has no active conversation)."""
    links = listing.get("_links")
    entries = links.get("conversation") if isinstance(links, Mapping) else None
    if isinstance(entries, Mapping):
        entries = [entries]
    if not isinstance(entries, list):
        return []
    hrefs = (entry.get("href") for entry in entries if isinstance(entry, Mapping))
    return [href for href in hrefs if isinstance(href, str) and href]


def messaging_record(conversation: str, href: str, resource: Mapping[str, Any]) -> MessagingEvent:
    """The messaging ``resource`` read from ``href`` as the ``updated`` event of
    conversation ``conversation`` that would have carried it (decoded as the event
    channel's records are)."""
    body = {
        "_links": {"self": {"href": href}},
        "sender": [
            {
                "rel": "conversation",
                "href": conversation,
                "events": [
                    {
                        "link": {"rel": "messaging", "href": href},
                        "type": "updated",
                        "_embedded": {"messaging": dict(resource)},
                    }
                ],
            }
        ],
    }
    records = decode_batch(body).events
    if len(records) != 1 or not isinstance(records[0], MessagingEvent):
        raise UcwaError(f"{href}: the messaging resource does not read as a messaging record")
    return records[0]
