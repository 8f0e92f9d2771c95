"""After the event channel lost track: which conversations carry on, asked of the server.

When the server answers the event channel with ``resync`` (it lost the bot's place) or
``resume`` (the bot was away long), the events of the gap are gone and the tracker's view
of every conversation may be stale. The protocol's advice is to read it again from the
server (``ucwa-protocol.md`` section 5.4). The engine hands the conversations it follows
alone (those with no ``invite``, side conversation or handoff under way: those end as
before) to a :class:`Rebuild`, whose :meth:`~Rebuild.ask` runs as a task of the engine's
and asks the server, through the engine's :class:`~ucwa_flow.runtime.port.Port`:

1. once, which of them it still lists as active (the application's conversations link);
2. for each one listed, its messaging modality now (re-read, not taken from the tracker),
   at most :data:`READS_AT_ONCE` at a time, the whole within :data:`DEADLINE`.

The answer is data, a :class:`Rebuilt`: the re-read messaging record of every conversation
that carries on (still listed, messaging Connected). When a read fails (a UCWA or HTTP
error, a lost connection) the answer depends on which: when the listing fails it keeps
nothing and says why, in one log line, and every conversation then ends as it did before
rebuilding existed; when one conversation's read fails (its caller hung up between the
listing and the read, a ``503``, no connection free in time) that one is not kept (it
ends, with a log line saying why) and the others are decided on what was read.

Order. The engine posts one job per conversation to its mailbox, which waits for the answer
(:meth:`Rebuild.decide`): what later batches bring for that conversation queues behind it,
so its decision comes before anything the server says of it afterwards, while other work
(other conversations, new invitations, the event channel) goes on meanwhile.

The decision for one conversation (:meth:`Rebuild.decide`): ``None``, end it as before; or
the changes of refreshing the tracker with the re-read record (its messaging state and
links, through :meth:`~ucwa_flow.lifecycle.LifecycleTracker.apply` like any record), for
the engine to dispatch. When records read since the loss already moved that
conversation's messaging, they are newer than the loss and in order, and the tracker is
left as they made it. A kept conversation logs once, at warning, that messages of the gap
may be lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.lifecycle import Change, Conversation, LifecycleTracker
from ucwa_flow.runtime.port import Port
from ucwa_flow.ucwa.events import MessagingEvent

if TYPE_CHECKING:
    from ucwa_flow.runtime.bridge import Bridges
    from ucwa_flow.runtime.invites import Invitations

__all__ = ["DEADLINE", "READS_AT_ONCE", "Rebuild", "Rebuilt", "alone", "rebuild"]

log = logging.getLogger("ucwa_flow.runtime")

#: At most this many conversations are re-read at a time (two GETs each): the client's
#: pool serves the bot's sends too, and a request waits at most about 15 s for a free
#: connection, so all of them at once would time out themselves and hold the sends up.
READS_AT_ONCE = 8

#: Seconds, on the engine's clock, the whole rebuild may take (listing and reads). The
#: engine's clock is the one its flows' timeouts run on: real time in production (the
#: wait it bounds is real: a durable bot's commit and a graceful stop wait for the
#: decisions), virtual in tests, which move it. Past it, a listing not answered yet ends
#: every conversation, and the conversations not re-read yet end (those read are kept).
DEADLINE = 30.0

_T = TypeVar("_T")

#: what the tracker knows of a conversation's messaging (compared, to see it moved)
_Mark = tuple[str, str | None, str | None, str | None, tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """What the server still has: ``kept`` maps each conversation that carries on to its
    messaging as re-read; ``failed`` says why the server could not be asked (nothing is
    kept then); ``unread`` maps each listed conversation whose messaging could not be
    re-read to why (it is not kept: it ends); ``cancelled``: the asking was cancelled
    (the engine closes), nothing is decided."""

    kept: Mapping[str, MessagingEvent] = field(default_factory=dict)
    failed: str | None = None
    unread: Mapping[str, str] = field(default_factory=dict)
    cancelled: bool = False


def alone(hrefs: Iterable[str], invitations: Invitations, bridges: Bridges) -> list[str]:
    """Those of conversations ``hrefs`` with no ``invite`` action waiting, no side
    conversation and no handoff under way. The others wait on what a loss lets go of
    (:meth:`Invitations.lose_all <ucwa_flow.runtime.invites.Invitations.lose_all>`,
    :meth:`Bridges.lose_all <ucwa_flow.runtime.bridge.Bridges.lose_all>`): they end as
    before."""
    return [
        href
        for href in hrefs
        if not (invitations.waiting(href) or invitations.sides(href) or bridges.waiting(href))
    ]


async def rebuild(port: Port, followed: Sequence[str], clock: Clock) -> Rebuilt:
    """Which of ``followed`` are still open on the server with messaging Connected, and
    their messaging as re-read (one listing, then two reads per listed conversation, at
    most :data:`READS_AT_ONCE` conversations at a time), all within :data:`DEADLINE`
    seconds of ``clock``. The listing's errors are the port's (a UCWA error, an ``httpx``
    error); a listing not answered in time keeps nothing (``failed``). A read that fails,
    or is not done in time, leaves that conversation out (``unread``, with why) and the
    others as read."""
    if not followed:
        return Rebuilt()
    late = asyncio.Event()
    timer = clock.call_later(DEADLINE, late.set)
    try:
        listed = await _before(late, port.still_open(followed))
        if isinstance(listed, _Late):
            return Rebuilt(failed=f"no answer within {DEADLINE:g} s")
        slots = asyncio.Semaphore(READS_AT_ONCE)
        records = await asyncio.gather(*(_before(late, _read(port, h, slots)) for h in listed))
    finally:
        timer.cancel()
    kept: dict[str, MessagingEvent] = {}
    unread: dict[str, str] = {}
    for href, record in zip(listed, records, strict=True):
        if isinstance(record, _Late):
            unread[href] = f"not re-read within {DEADLINE:g} s"
        elif isinstance(record, str):
            unread[href] = record
        elif record is not None and record.state == "Connected":
            kept[href] = record
    return Rebuilt(kept, unread=unread)


async def _read(port: Port, href: str, slots: asyncio.Semaphore) -> MessagingEvent | str | None:
    """Conversation ``href``'s messaging re-read, or why it could not be (one caller
    hanging up between the listing and its read is no reason to end the others)."""
    async with slots:
        try:
            return await port.messaging_now(href)
        except (UcwaFlowError, httpx.HTTPError) as exc:
            return str(exc) or type(exc).__name__


class _Late:
    """What :func:`_before` gives for work not done by the deadline."""


async def _before(late: asyncio.Event, work: Coroutine[Any, Any, _T]) -> _T | _Late:
    """``work``'s result (or its exception), or a :class:`_Late` once ``late`` is set
    first (``work`` is cancelled then, as it is when the caller is)."""
    task = asyncio.ensure_future(work)
    waiting = asyncio.ensure_future(late.wait())
    try:
        await asyncio.wait((task, waiting), return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiting.cancel()
        task.cancel()  # nothing when it is done
    if task.done() and not task.cancelled():
        return task.result()
    return _Late()


class Rebuild:
    """One rebuild after losing track for ``reason`` (``resync`` or ``resume``) of the
    conversations ``followed`` (see the module docstring); ``tracker`` is the engine's.
    The engine runs :meth:`ask` as a task, and each conversation's job :meth:`decide`;
    ``clock`` is the engine's (:data:`DEADLINE`)."""

    def __init__(
        self,
        port: Port,
        tracker: LifecycleTracker,
        reason: str,
        followed: Sequence[str],
        clock: Clock,
    ) -> None:
        self.reason = reason
        self._port = port
        self._clock = clock
        self._tracker = tracker
        self._marks = {href: _mark(tracker.get(href)) for href in followed}
        self._answer: asyncio.Future[Rebuilt] = asyncio.get_running_loop().create_future()

    async def ask(self) -> None:
        """Ask the server and publish the answer: a failure is an answer that keeps
        nothing (logged once), never an exception. Cancelled (the engine closes), it
        publishes one that decides nothing: the conversations are neither kept nor ended
        by this process, and their jobs return (``drained`` does not wait forever)."""
        answer = Rebuilt(cancelled=True)
        try:
            answer = await self._asked()
        finally:
            self._answer.set_result(answer)

    async def _asked(self) -> Rebuilt:
        try:
            answer = await rebuild(self._port, list(self._marks), self._clock)
        except (UcwaFlowError, httpx.HTTPError) as exc:
            answer = Rebuilt(failed=str(exc) or type(exc).__name__)
            log.error(
                "could not read which conversations are still open after the %s (%s); "
                "ending all %d of them",
                self.reason,
                answer.failed,
                len(self._marks),
            )
        except Exception as exc:  # a bug must not leave the conversations waiting
            answer = Rebuilt(failed=repr(exc))
            log.exception("unexpected error rebuilding after the %s; ending them all", self.reason)
        for href, why in answer.unread.items():
            log.error(
                "%s: could not re-read it after the %s (%s); ending it", href, self.reason, why
            )
        return answer

    async def decide(self, href: str) -> list[Change] | None:
        """Once the server answered: ``None`` when conversation ``href`` is to end as
        before, else the changes of refreshing the tracker with its re-read messaging
        (often none), for the engine to dispatch; none when the asking was cancelled
        (the conversation is left as it is)."""
        answer = await asyncio.shield(self._answer)  # one job's cancellation is its own
        if answer.cancelled:
            return []  # the engine closes: neither ended nor kept here
        record = answer.kept.get(href)
        if record is None:
            return None
        log.warning(
            "%s: carries on after the %s (still open on the server; messages of the gap "
            "may be lost)",
            href,
            self.reason,
        )
        conv = self._tracker.get(href)
        if conv is None or _mark(conv) != self._marks.get(href):
            return []  # records read since the loss moved it: newer, and in order
        return self._tracker.apply(record)


def _mark(conv: Conversation | None) -> _Mark | None:
    if conv is None:
        return None
    m = conv.messaging
    return m.state, m.send_message_href, m.stop_messaging_href, m.set_is_typing_href, m.formats
