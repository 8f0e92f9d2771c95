"""What a conversation sends, as data, and the sender that performs it in order.

A flow instance never performs a UCWA request itself: saying something, showing typing,
stopping the conversation are :class:`Outgoing` values it hands to the engine. The engine
decides when they go out: at once (a bot without a store), or once the step that decided them
is committed to the store (a durable bot: the outbox). Either way :class:`Sender` performs
them, strictly in order per conversation, one request at a time, and reports each outcome as
a :class:`Sent` value to the engine, which turns a failure into ``delivery_failed`` and an
error trace.

An ``Outgoing`` is plain data (:meth:`Outgoing.to_payload`), so a store can keep it between
the commit and the send, and its ``operation_context`` (a fresh UUID, put on the
sendMessage request as ``OperationContext``) lets a restarted bot recognise, among the
conversation's message events, a message it sent before it died.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from ucwa_flow._fastinit import builder
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Location
from ucwa_flow.runtime.port import Port
from ucwa_flow.runtime.runner import Runner

__all__ = ["Outgoing", "Sender", "Sent", "sent_record"]

log = logging.getLogger("ucwa_flow.runtime")

Kind = Literal["message", "typing", "stop", "leave"]


_VERSION_4 = (0x4 << 76) | (0x2 << 62)  # the version and variant bits of a random UUID
_NOT_RANDOM = ~((0xF << 76) | (0x3 << 62))


def _new_context() -> str:
    """A random UUID's hex, as ``uuid.uuid4().hex`` but without its system call (one per
    message sent): the operation context must be unique, not secret, and ``random`` is
    seeded from the system and re-seeded in a forked child. (``bytes.hex`` writes the
    32 digits in half the time of a ``032x`` format.)"""
    return (random.getrandbits(128) & _NOT_RANDOM | _VERSION_4).to_bytes(16, "big").hex()


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request a conversation decided to make.

    ``link`` is the href the server handed out for it (sendMessage, setIsTyping,
    stopMessaging, or the conversation itself for ``leave``). A ``message`` has ``text``
    and, when the conversation takes HTML, ``html``; ``quiet`` marks one sent by
    ``delivery_failed`` (its loss does not run ``delivery_failed`` again). ``why`` says why
    a ``stop``/``leave`` was decided. ``location`` (the action in the flow file) is for
    error reports only and is not stored.
    """

    conversation: str
    kind: Kind
    link: str
    text: str | None = None
    html: str | None = None
    quiet: bool = False
    why: str = ""
    operation_context: str = field(default_factory=_new_context)
    location: Location | None = field(default=None, compare=False)

    @classmethod
    def message(
        cls,
        conversation: str,
        link: str,
        text: str,
        html: str | None,
        quiet: bool,
        location: Location | None,
    ) -> Outgoing:
        """A ``message`` with a new operation context, as the constructor makes it but
        quicker (:mod:`ucwa_flow._fastinit`): every message said makes one."""
        # the context as _new_context() makes it, a call less
        context = (random.getrandbits(128) & _NOT_RANDOM | _VERSION_4).to_bytes(16, "big").hex()
        return _outgoing(conversation, "message", link, text, html, quiet, "", context, location)

    def to_payload(self) -> dict[str, Any]:
        """The parts a store keeps (JSON data)."""
        return {
            "link": self.link,
            "text": self.text,
            "html": self.html,
            "quiet": self.quiet,
            "why": self.why,
        }

    @classmethod
    def from_payload(
        cls, conversation: str, kind: str, payload: Mapping[str, Any], operation_context: str
    ) -> Outgoing:
        """The value :meth:`to_payload` described (after a trip through a store)."""
        if kind not in ("message", "typing", "stop", "leave"):
            raise ValueError(f"unknown outbox entry kind {kind!r}")
        return cls(
            conversation,
            kind,  # type: ignore[arg-type]
            str(payload["link"]),
            payload.get("text"),
            payload.get("html"),
            bool(payload.get("quiet", False)),
            str(payload.get("why", "")),
            operation_context,
        )


@dataclass(frozen=True, slots=True)
class Sent:
    """What performing an :class:`Outgoing` came to: ``message`` is the new message's
    href (a sent ``message``), ``error`` the failure (``None``: it went out)."""

    item: Outgoing
    message: str | None = None
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


_outgoing = builder(Outgoing)
#: ``sent_record(item, message, error)`` is ``Sent(item, message, error)``, made quicker
sent_record = builder(Sent)


class Sender:
    """Performs :class:`Outgoing` requests through ``port``, in order per conversation.

    ``report(item, message, error)`` hears of each request as soon as it is over (what a
    :class:`Sent` holds: made by whoever needs one, :func:`sent_record`); ``runner`` runs the
    per-conversation send loops (the engine's :class:`~ucwa_flow.runtime.runner.Runner`:
    a send that never waits, as a test's port, costs no task; one that waits on the
    network gets its own; once it is cancelled, what was queued is forgotten). The number
    in flight is bounded by the port's HTTP client. A request that fails unexpectedly (a
    bug) is logged and reported as failed, and the conversation's next one goes out.
    """

    def __init__(
        self,
        port: Port,
        report: Callable[[Outgoing, str | None, Exception | None], None],
        runner: Runner,
    ) -> None:
        self._port = port
        self._report = report
        self._start = runner.start
        runner.on_cancel(self._clear)
        # a list each, not a deque: a new deque costs a block of 64 (a malloc) per message
        self._queues: dict[str, list[Outgoing]] = {}
        self._empty: asyncio.Future[None] | None = None

    @property
    def busy(self) -> bool:
        return bool(self._queues)

    def running(self) -> list[asyncio.Future[None]]:
        """What to wait for until every request queued so far is over (empty: none is)."""
        if not self._queues:
            return []
        if self._empty is None:
            self._empty = asyncio.get_running_loop().create_future()
        return [self._empty]

    def send(self, items: Iterable[Outgoing]) -> None:
        """Queue ``items`` behind what each conversation is already sending."""
        for item in items:
            self.send_one(item)

    def send_one(self, item: Outgoing) -> None:
        """Queue ``item`` behind what its conversation is already sending."""
        queue = self._queues.get(item.conversation)
        if queue is None:
            queue = self._queues[item.conversation] = [item]
            start = self._start  # (an attribute holding a function: slow to call as a method)
            start(self._drain(item.conversation, queue))
        else:
            queue.append(item)

    def _clear(self) -> None:
        """The runner dropped what was queued (:meth:`Runner.cancel`): forget every send."""
        for queue in self._queues.values():
            queue.clear()
        self._queues.clear()
        self._done()

    def _done(self) -> None:
        if not self._queues and self._empty is not None:
            if not self._empty.done():
                self._empty.set_result(None)
            self._empty = None

    async def _drain(self, conversation: str, queue: list[Outgoing]) -> None:
        port, report = self._port, self._report  # (report: slow to call as a method)
        try:
            while queue:
                item = queue[0]
                message: str | None = None
                error: Exception | None = None
                try:  # the request (inline: a coroutine less per send)
                    if item.kind == "message":
                        text = item.text or ""
                        context = item.operation_context
                        message = await port.send_message(
                            item.link, text, item.html, operation_context=context
                        )
                    elif item.kind == "typing":
                        await port.set_typing(item.link)
                    elif item.kind == "stop":
                        await port.stop_messaging(item.link)
                    else:
                        await port.leave(item.link)
                except (UcwaFlowError, httpx.HTTPError) as exc:
                    error = exc
                except Exception as exc:  # a bug: the request counts as failed
                    log.exception("%s: unexpected error sending a %s", conversation, item.kind)
                    error = exc
                try:
                    report(item, message, error)
                except Exception:
                    log.exception("%s: unexpected error in the flow runtime", conversation)
                if queue:  # emptied if the runner was cancelled meanwhile
                    del queue[0]
        finally:
            if self._queues.get(conversation) is queue:
                del self._queues[conversation]
            if self._empty is not None:  # someone waits (a call less when nobody does)
                self._done()
