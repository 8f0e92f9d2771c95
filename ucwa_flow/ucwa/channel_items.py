"""What the event channel hands on, and where each item sits in the channel.

:class:`~ucwa_flow.ucwa.EventChannel` yields :data:`ChannelItem` values: decoded
:class:`~ucwa_flow.ucwa.events.EventBatch` es and :class:`ConversationsLost` records. After
each one, ``channel.position`` is a :class:`ReadPosition`.

Durable consumption (``EventChannel(client, prefetch=False)``). Fetching an answer's
``next`` link acknowledges the answer, and the server re-delivers an answer that was not
acknowledged (``ucwa-protocol.md`` section 5.4). Without prefetch the channel fetches
``next`` only when the consumer asks for the item after the last one of an answer, so a
consumer that, for every item,

1. applies it and commits its effects together with ``channel.position`` (at least
   ``next_url`` and ``application``), then
2. asks for the next item,

can restart at any moment: a new process signs in with ``expect=`` the stored
application (:meth:`~ucwa_flow.ucwa.UcwaClient.sign_in`), and when it got that
application back (``reattached``) starts ``EventChannel(client, prefetch=False,
start_at=stored next_url)``. An item read but not committed is delivered again, none is
skipped, and none is handed twice within one channel. Every 200 answer is handed on in
this mode, empty (timeout) ones too: each moves the position, and a stored link the
server has since been acknowledged past would be answered with ``resync``. When the
application was not got back, its links are dead and its conversations ended: start
from the new application's events link (``start_at=None``) and forget them.

The consumer must ask for the next item promptly: a server ends an application whose
event channel stays idle for about 15 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ucwa_flow.ucwa.events import EventBatch

__all__ = ["ChannelItem", "ConversationsLost", "ReadPosition"]


@dataclass(frozen=True, slots=True)
class ConversationsLost:
    """The channel lost track: what it said of conversations and invitations so far is no
    longer to be trusted.

    ``reason`` is ``"resync"`` (the server lost our place) or ``"resume"`` (we were away too
    long): the events of the gap may be gone, and the conversations may still be open on
    the server; read them again (:mod:`ucwa_flow.ucwa.active`). Or it is ``"application
    re-created"`` (the old application expired): its conversations ended on the server and
    all its hrefs are dead. ``detail`` says what happened.
    """

    reason: str
    detail: str = ""


ChannelItem = EventBatch | ConversationsLost


@dataclass(frozen=True, slots=True)
class ReadPosition:
    """Where an item of the event channel was read, and where the channel goes on.

    All three are absolute URLs. ``read_at`` is the URL of the P-GET whose answer carried
    the item. ``next_url`` is where a channel that resumes *after* this item must read
    next: the answer's ``next`` (or ``resync``/``resume``) link, or, for an item that is
    not the last one of its answer (a ``resume`` record before its batch), ``read_at``
    again, so that what follows it in the answer is read again. After an application was
    re-created it is the new application's events link. ``application`` is the self href
    of the application the position belongs to (a link is valid for one application
    only; compare it with :meth:`~ucwa_flow.ucwa.UcwaClient.sign_in`'s result before
    resuming).

    With ``prefetch=False`` the server has not been acknowledged past ``next_url`` when
    the item is handed on, so storing it is exact. With prefetch it has, possibly: the
    positions are for logs only.
    """

    read_at: str
    next_url: str
    application: str
