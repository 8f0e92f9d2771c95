"""The event channel: the one pending GET (P-GET) loop of a UCWA application.

:class:`EventChannel` is an async iterator. It yields, strictly in server order and once
each, the :class:`~ucwa_flow.ucwa.events.EventBatch` of every non-empty answer (of every
answer without prefetch), and
:class:`ConversationsLost` records when the server says that transient state is gone.
After each item, :attr:`EventChannel.position` says where it was read and where the
channel goes on (:class:`ReadPosition`).

Two modes (:mod:`ucwa_flow.ucwa.channel_items` tells how a durable consumer uses them):

* ``prefetch=True`` (the default): the next P-GET is sent as soon as a batch arrives,
  before the consumer has processed it (batches wait in an in-memory queue); empty
  (timeout) answers are not handed on;
* ``prefetch=False``: the next P-GET (which acknowledges the last answer) is sent only
  when the consumer asks for the item after the last one of an answer, and every 200
  answer is handed on, empty ones too.

The rules it keeps (``ucwa-protocol.md`` section 5):

* exactly one P-GET outstanding;
* always the server's own ``next`` / ``resync`` / ``resume`` href, never an edited ack; the
  ``timeout`` parameter is added with a URL parser to the first URL only (the events link,
  or ``start_at``) and again after ``resume``, as the server may have forgotten it;
* the HTTP read timeout is the hold plus a margin, so a quiet channel is never cut short;
* transport errors and 5xx/429 answers: the *same* URL again, with capped exponential
  backoff and jitter on the injected clock, so that no batch is skipped (the server
  re-delivers an unacknowledged batch; a batch seen before is not handed on twice);
* a token refused right after its grant (:class:`~ucwa_flow.ucwa.errors.TokenRefused`,
  e.g. a front end that does not accept the token service's keys yet) is not the end: the
  same URL again after a capped exponential back-off, one warning line each time, and the
  next try signs in with another token (a wrong password, on the other hand, ends the
  channel);
* ``409 PGetReplaced`` on our own request means another reader took over: the same URL is
  tried again a few times, then :class:`~ucwa_flow.ucwa.errors.EventChannelReplaced`;
* ``404 ApplicationNotFound`` / ``410 InactiveApplicationExpired``: the application is
  re-created, makeMeAvailable redone, polling restarts from its new events link, and a
  :class:`ConversationsLost` record is yielded;
* a body that is not a UCWA event body is asked for again (the same URL, with back-off:
  the server re-delivers an unacknowledged batch, so a body spoilt on the way loses
  nothing). One that is still refused after ``max_refused`` tries raises
  :class:`~ucwa_flow.ucwa.errors.MalformedEventBody` from the iterator (after every batch
  before it), and iterating again continues at its ``next`` link: nothing is skipped
  without the consumer having seen the error. A body with nowhere to go on (not JSON, no
  link) is retried like a transport failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections import deque
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ucwa_flow.clock import Clock
from ucwa_flow.ucwa._answer import Entry, Refused, read_answer
from ucwa_flow.ucwa._http import NETWORK_ERRORS, error_for, with_query
from ucwa_flow.ucwa._stats import ChannelStats
from ucwa_flow.ucwa.application import Application
from ucwa_flow.ucwa.channel_items import ChannelItem, ConversationsLost, ReadPosition
from ucwa_flow.ucwa.client import UcwaClient
from ucwa_flow.ucwa.errors import (
    ApplicationGone,
    EventChannelReplaced,
    ServerUnreachable,
    TokenRefused,
    UcwaHttpError,
)
from ucwa_flow.ucwa.events import EventBatch

__all__ = ["ChannelItem", "ConversationsLost", "EventChannel", "ReadPosition"]

log = logging.getLogger("ucwa_flow.ucwa")

_DEFAULT_HOLD = 180.0
_RETRY_STATUSES = frozenset({408, 429})


@dataclass(frozen=True, slots=True)
class _Failure:
    error: BaseException
    continue_at: str | None  # where iterating again would resume, if anywhere
    position: ReadPosition | None = None


_CLOSED = object()


class EventChannel:
    """Async iterator over a client's event channel (see the module docstring).

    ``prefetch=False`` sends the next P-GET only when the consumer asks for it and hands
    on empty answers too (durable consumers; see the module docstring). ``start_at`` is
    the URL of the first P-GET (a stored ``position.next_url``) instead of the
    application's events link; it must belong to the client's current application (sign
    in with ``expect=`` and check ``reattached``); later, after a re-creation, polling
    restarts from the new application's events link. ``hold`` is the P-GET ``timeout``
    the server is asked for (180-1800 s); the read timeout is ``hold + margin``.
    ``backoff``/``max_backoff`` shape the retry delays on the client's clock (or
    ``clock``); ``rng`` makes the jitter reproducible. Use it as::

        async with EventChannel(client) as channel:
            async for item in channel:
                ...

    :meth:`aclose` cancels the outstanding P-GET. The client must be signed in.
    """

    def __init__(
        self,
        client: UcwaClient,
        *,
        hold: float = _DEFAULT_HOLD,
        margin: float = 30.0,
        backoff: float = 0.5,
        max_backoff: float = 30.0,
        max_replaced: int = 3,
        max_refused: int = 3,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        prefetch: bool = True,
        start_at: str | None = None,
    ) -> None:
        if not 180 <= hold <= 1800:
            raise ValueError(f"the event-channel hold must be 180-1800 seconds, got {hold}")
        self._client = client
        self._hold = hold
        self.read_timeout = hold + margin
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._max_replaced = max_replaced
        self._max_refused = max_refused
        self._clock = clock or client.clock
        self._rng = rng or random.Random()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._failure: _Failure | None = None
        self._seen: deque[str] = deque(maxlen=64)
        self._url: str | None = None
        self._prefetch = prefetch
        self._start_at = start_at
        self._demand = asyncio.Event()  # prefetch=False: the consumer wants the next answer
        self._position: ReadPosition | None = None
        self.polls = 0  # P-GETs sent (observability and tests)
        self.stats = ChannelStats()  # reconnects, resyncs, re-creations, batches (metrics)

    @property
    def url(self) -> str | None:
        """The URL of the outstanding (or next) P-GET; ``None`` before the first one."""
        return self._url

    @property
    def prefetch(self) -> bool:
        """False when the next P-GET waits for the consumer (see the module docstring)."""
        return self._prefetch

    @property
    def closed(self) -> bool:
        """Whether the channel was closed or its iteration has ended."""
        return self._closed

    @property
    def unread(self) -> int:
        """Items (and end or error markers) read from the server that the consumer has not
        taken yet."""
        return self._queue.qsize()

    @property
    def with_consumer(self) -> bool:
        """``prefetch=False``: whether the consumer has not yet asked for the item after the
        last answer's (the next P-GET waits for it). Always false with prefetch."""
        return not self._prefetch and not self._demand.is_set()

    @property
    def position(self) -> ReadPosition | None:
        """Where the item last handed on was read and where the channel goes on from it.

        ``None`` before the first item. After :class:`~ucwa_flow.ucwa.errors.MalformedEventBody`
        was raised, it is the refused answer's position: ``next_url`` is where iterating
        again goes on (past the refused batch).
        """
        return self._position

    @property
    def read_at(self) -> str | None:
        """``position.read_at``: the URL the last item was read at."""
        return self._position.read_at if self._position is not None else None

    @property
    def next_url(self) -> str | None:
        """``position.next_url``: where a channel resuming after the last item reads next."""
        return self._position.next_url if self._position is not None else None

    # -- consumer side --------------------------------------------------------------------

    def start(self) -> None:
        """Start polling now (iteration starts it too)."""
        if self._task is None and not self._closed:
            application = self._client.application
            start, self._start_at = self._start_at, None
            first = self._first_url(application, start)
            self._run(first, application)

    def __aiter__(self) -> EventChannel:
        return self

    async def __anext__(self) -> ChannelItem:
        if self._closed:
            raise StopAsyncIteration
        if self._failure is not None:
            failure, self._failure = self._failure, None
            if failure.continue_at is None:
                self._closed = True
                raise StopAsyncIteration
            self._run(failure.continue_at, self._client.application)
        self.start()
        if self._queue.empty():
            self._demand.set()  # prefetch=False: the consumer is done with the last answer
        entry = await self._queue.get()
        if entry is _CLOSED:
            raise StopAsyncIteration
        if isinstance(entry, _Failure):
            self._failure = entry
            if entry.position is not None:
                self._position = entry.position
            raise entry.error
        item, self._position = entry
        assert isinstance(item, EventBatch | ConversationsLost)
        return item

    async def aclose(self) -> None:
        """Stop: cancel the outstanding P-GET and end the iteration."""
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._queue.put_nowait(_CLOSED)

    async def __aenter__(self) -> EventChannel:
        self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the loop -------------------------------------------------------------------------

    def _run(self, url: str, application: Application) -> None:
        self._task = asyncio.get_running_loop().create_task(
            self._pump(url, application), name=f"ucwa-events {self._client.user}"
        )

    def _first_url(self, application: Application, start_at: str | None = None) -> str:
        url = self._client.absolute(start_at) if start_at else application.events_href
        return with_query(url, timeout=str(int(self._hold)))

    async def _pump(self, url: str, application: Application) -> None:
        try:
            await self._loop(url, application)
        except asyncio.CancelledError:
            raise
        except Refused as refused:
            position = None
            if refused.continue_at is not None and self._url is not None:
                position = ReadPosition(
                    self._url, refused.continue_at, self._client.application.self_href
                )
            self._queue.put_nowait(_Failure(refused.error, refused.continue_at, position))
        except Exception as exc:
            self._queue.put_nowait(_Failure(exc, None))

    async def _loop(self, url: str, application: Application) -> None:
        failures = replaced = refused = 0
        while True:
            self.polls += 1
            self.stats.polling(failures + replaced + refused)
            self._url = url
            try:
                response = await self._client.long_poll(url, read_timeout=self.read_timeout)
            except NETWORK_ERRORS as exc:
                failures += 1
                log.warning("%s: event channel: %r; retrying %s", self._client.user, exc, url)
                await self._pause(failures)
                continue
            except UcwaHttpError as exc:  # a 5xx from the token service during the poll
                if exc.status < 500:
                    raise
                failures += 1
                await self._pause(failures)
                continue
            except TokenRefused as exc:
                failures += 1
                delay = self._delay(failures)
                log.warning(
                    "%s: event channel: %s; signing in again in %.1f s",
                    self._client.user,
                    exc,
                    delay,
                )
                await self._clock.sleep(delay)
                continue

            status = response.status_code
            if status == 200:
                try:
                    items, next_url = read_answer(
                        response,
                        url,
                        application.self_href,
                        seen=self._seen,
                        prefetch=self._prefetch,
                        hold=self._hold,
                        stats=self.stats,
                        user=self._client.user,
                    )
                except Refused as exc:
                    # Ask for the same ack again: the server re-delivers an unacknowledged
                    # batch, so a body spoilt on the way loses nothing. A body that stays
                    # bad is handed to the consumer as an error when it says where to go
                    # on; one that does not (not JSON: a proxy's page) is retried like a
                    # transport failure, for as long as it takes.
                    log.warning(
                        "%s: refused an event body (%s); asking again", self._client.user, exc.error
                    )
                    if exc.continue_at is None:
                        failures += 1
                        await self._pause(failures)
                        continue
                    refused += 1
                    if refused >= self._max_refused:
                        raise
                    await self._pause(refused)
                    continue
                failures = replaced = refused = 0
                url = next_url
                await self._hand_on(items)
                continue
            if status >= 500 or status in _RETRY_STATUSES:
                failures += 1
                log.warning("%s: event channel got %d; retrying", self._client.user, status)
                await self._pause(failures)
                continue
            error = error_for(response)
            if isinstance(error, ApplicationGone):
                application = await self._recreate(application)
                lost = ConversationsLost(
                    "application re-created", f"the old application ended: {error}"
                )
                failed_at, url = url, self._first_url(application)
                await self._hand_on([(lost, ReadPosition(failed_at, url, application.self_href))])
                continue
            if status == 409 and error.subcode == "PGetReplaced":
                replaced += 1
                if replaced > self._max_replaced:
                    raise EventChannelReplaced(
                        f"another client keeps reading the event channel of {self._client.user} "
                        f"(409 PGetReplaced {replaced} times); run one bot process per account"
                    )
                log.warning("%s: P-GET replaced by another request", self._client.user)
                await self._pause(replaced)
                continue
            raise error

    async def _hand_on(self, items: list[Entry]) -> None:
        """Queue what one answer carried; without prefetch, wait until the consumer is
        done with it (asks for the item after the last one) before the next P-GET."""
        for entry in items:
            self._queue.put_nowait(entry)
        if items and not self._prefetch:
            self._demand.clear()
            await self._demand.wait()

    async def _recreate(self, stale: Application) -> Application:
        attempts = 0
        while True:
            try:
                application = await self._client.recreate_application(stale)
            except (ServerUnreachable, ApplicationGone, TokenRefused) as exc:
                attempts += 1
                log.warning("%s: re-creating the application failed: %s", self._client.user, exc)
                await self._pause(attempts)
                continue
            except UcwaHttpError as exc:
                if exc.status < 500 and exc.status not in _RETRY_STATUSES:
                    raise
                attempts += 1
                await self._pause(attempts)
                continue
            self._seen.clear()
            self.stats.recreations += 1
            return application

    async def _pause(self, attempt: int) -> None:
        await self._clock.sleep(self._delay(attempt))

    def _delay(self, attempt: int) -> float:
        """The back-off before try ``attempt + 1``: doubling, capped, with jitter."""
        delay: float = min(self._max_backoff, self._backoff * 2.0 ** min(attempt - 1, 30))
        return delay * self._rng.uniform(0.5, 1.0)
