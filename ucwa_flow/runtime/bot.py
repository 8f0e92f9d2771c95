"""A bot: one signed-in UCWA identity running its flow(s) for every conversation.

:class:`Bot` wires the layers together: a :class:`~ucwa_flow.ucwa.UcwaClient` signs in and
makes itself available, its :class:`~ucwa_flow.ucwa.EventChannel` feeds the
:class:`~ucwa_flow.runtime.engine.Engine`, and a keep-alive reports activity so that the
server keeps the application. :meth:`Bot.aclose` ends cleanly: open conversations are
stopped from the bot's side, the event channel is closed, the application deleted.

It runs one flow, or the flows of a :class:`~ucwa_flow.runtime.routing.Catalog` (routes
pick the flow of each incoming invitation), within :class:`~ucwa_flow.runtime.limits.Limits`.

Use it as an async context manager::

    async with Bot(flow, client, clock=SystemClock(), sink=print) as bot:
        await bot.run()          # until cancelled (Ctrl-C)

With a ``store`` (:mod:`ucwa_flow.store`) the bot is durable
(:class:`~ucwa_flow.runtime.durable.Durable`): each event batch is committed before it is
acknowledged and before anything it decided is performed, and a restarted bot re-attaches
to its application, resumes the event channel where the store says and carries on every
conversation. Stopping a durable bot leaves its conversations and application on the server
for the next start (the server keeps an application about 15 minutes without a P-GET).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.durable import Durable
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.port import UcwaPort
from ucwa_flow.runtime.routing import Catalog
from ucwa_flow.store import Snapshot, Store, StoreError
from ucwa_flow.ucwa import EventChannel, UcwaClient
from ucwa_flow.ucwa.errors import MalformedEventBody

__all__ = ["Bot"]

log = logging.getLogger("ucwa_flow.runtime")


class Bot:
    """Runs ``flows`` (one flow or a catalog) as ``client``'s identity (see the module
    docstring).

    ``hold`` is the event channel's long-poll time; ``keep_alive`` the reportMyActivity
    interval in seconds (the server wants one at least every 4 minutes). A bot of one flow
    with an ``outbound`` section invites its ``outbound.to`` when it starts (not when it
    carries on after a restart); with a catalog, outbound conversations are started with
    ``bot.engine.start_outbound``.
    """

    def __init__(
        self,
        flows: Flow | Catalog,
        client: UcwaClient,
        *,
        clock: Clock,
        sink: t.TraceSink | None = None,
        http: httpx.AsyncClient | None = None,
        hold: float = 180.0,
        keep_alive: float = 120.0,
        store: Store | None = None,
        account: str | None = None,
        limits: Limits = Limits(),  # noqa: B008 (frozen)
    ) -> None:
        self.client = client
        self.clock = clock
        self.engine = Engine(flows, UcwaPort(client), clock, sink, http=http, limits=limits)
        self.engine.account = client.user
        self._outbound_at_start = not isinstance(flows, Catalog)
        self.durable: Durable | None = None
        if store is not None:
            self.durable = Durable(
                self.engine, store, account or client.user, now=lambda: clock.now().timestamp()
            )
        self._hold = hold
        self._keep_alive_interval = keep_alive
        self._channel: EventChannel | None = None
        self._keep_alive: asyncio.Task[None] | None = None
        self._committer: asyncio.Task[None] | None = None
        #: a durable bot found its application again and carries on its conversations
        self.reattached = False
        #: conversations a durable bot found ended because its application was gone
        self.lost = 0

    @property
    def flow(self) -> Flow:
        """The current version of the bot's (default) flow."""
        return self.engine.flow

    @property
    def resumed(self) -> str:
        """What the start took over from the store, as the end of a start line
        (``"; 2 conversation(s) carried on"``), or ``""``."""
        if self.durable is not None and self.reattached:
            return f"; {self.durable.carried} conversation(s) carried on"
        if self.lost:
            return f"; the application had ended, {self.lost} conversation(s) recorded as ended"
        return ""

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Sign in, make the bot available for IM, and open the event channel.

        A durable bot loads its store first: when sign-in gives back the application the
        store knew, the channel resumes at the stored position and every stored
        conversation carries on; when that application is gone, its conversations are
        recorded as ended and the bot starts clean.
        """
        durable = self.durable
        snapshot = await durable.store.load(durable.account) if durable is not None else None
        stored = snapshot.application if snapshot is not None else None
        application = await self.client.sign_in(expect=stored.application_url if stored else None)
        start_at = None
        if durable is not None and snapshot is not None:
            start_at = await self._reattach(durable, snapshot, application.reattached)
        await self.client.make_me_available()
        self._keep_alive = self.client.start_keep_alive(self._keep_alive_interval)
        if durable is None:
            self._channel = EventChannel(self.client, hold=self._hold, clock=self.clock)
        else:  # acknowledge a batch only once it is committed
            self._channel = EventChannel(
                self.client, hold=self._hold, clock=self.clock, prefetch=False, start_at=start_at
            )
        if durable is not None:
            self._committer = asyncio.create_task(durable.run(), name="ucwa-flow commits")
            durable.marker = self._mark  # again once the first batch is read (see Durable)
            if durable.unsure:
                durable.marked = await self._mark()
        if self.reattached:  # the stored campaign runs carry on (no new ones start)
            self.engine.campaigns.resume()
        elif self._outbound_at_start:
            self.engine.invitations.start_outbound()

    async def _reattach(self, durable: Durable, snapshot: Snapshot, reattached: bool) -> str | None:
        stored = snapshot.application
        self.reattached = stored is not None and reattached
        if stored is not None and not self.reattached:
            ended = self.lost = await durable.store.forget_application(
                durable.account,
                "the UCWA application ended while the bot was stopped",
                self.clock.now().timestamp(),
            )
            log.warning(
                "%s: the application the store knew is gone; %d conversation(s) recorded as "
                "ended, starting clean",
                self.client.user,
                ended,
            )
        durable.restore(snapshot, reattached=self.reattached)
        if self.reattached and stored is not None:
            log.info(
                "%s: re-attached to %s; %d conversation(s) carry on",
                self.client.user,
                stored.application_url,
                len(snapshot.conversations),
            )
            return stored.events_next
        return None

    async def _mark(self) -> bool:
        """Put a marker in the event stream: every event of what the bot did before a
        restart comes before it, so the batches up to it tell what was done (and the
        event channel does not wait a whole hold for them when the account is quiet)."""
        try:
            await self.client.set_my_presence("Online")
        except (UcwaFlowError, httpx.HTTPError) as exc:
            log.warning("%s: could not mark the event stream: %s", self.client.user, exc)
            return False
        return True

    @property
    def channel(self) -> EventChannel | None:
        """The event channel, once :meth:`start` has opened it."""
        return self._channel

    def stop_answering(self) -> None:
        """Leave new invitations unanswered from now on (they ring for another instance
        of the bot, or until the caller gives up): a graceful stop's first step. The
        conversations under way carry on until the bot is closed."""
        self.engine.stop_answering()

    async def run(self) -> None:
        """Serve conversations until cancelled; channel errors other than a bad body end it."""
        if self._channel is None:
            await self.start()
        assert self._channel is not None
        channel, durable = self._channel, self.durable
        while True:
            try:
                async for item in channel:
                    if durable is None:
                        self.engine.handle(item)
                    else:
                        position = channel.position
                        assert position is not None
                        await durable.handle(item, position.application, position.next_url)
                return
            except MalformedEventBody as exc:
                # the channel asked for it again first, and carries on after it; say what
                # was lost
                log.error("refused an event-channel body (its events are lost): %s", exc)

    async def aclose(self, *, keep: bool | None = None) -> None:
        """Stop the bot.

        ``keep`` (the default for a durable bot) leaves the open conversations and the UCWA
        application on the server for the next start, after committing what is pending.
        Without it, open conversations are stopped from the bot's side and the application
        is deleted (the default for a bot without a store).
        """
        durable = self.durable
        keep = durable is not None if keep is None else keep
        try:
            if durable is None:
                await self.engine.aclose(stop=not keep)
            else:
                await self._close_durable(durable, keep)
        finally:
            if self._keep_alive is not None:
                self._keep_alive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keep_alive
            if self._channel is not None:
                await self._channel.aclose()
            if not keep:
                with contextlib.suppress(UcwaFlowError, httpx.HTTPError):
                    await self.client.delete_application()

    async def _close_durable(self, durable: Durable, keep: bool) -> None:
        if self._committer is not None:
            self._committer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._committer
        engine = self.engine
        try:
            if keep:
                # the replies of the steps under way are committed, then sent: one left
                # unsent would be in doubt for the next start (another worker's, after a
                # hand-over), which answers only once its event channel has settled it
                await durable.settle(send=True)
                await _send_replies(engine, durable)
            else:  # stops are decided, committed, then sent, like any other step
                await durable.settle()
                engine.stop_all("shutdown")
                await engine.drained()
                await durable.commit()
                await engine.idle()
                # the agents of handoffs too; a caller's end seen after this tells none
                await engine.bridges.aclose()
            await engine.aclose(stop=False)
            # the sends' outcomes; what else it holds waits for the next start
            await durable.commit(perform="nothing")
        except StoreError as exc:
            log.error("could not commit the last steps before stopping: %s", exc)
            await engine.aclose(stop=not keep)


#: how many times a graceful stop commits and sends what its steps said (see _send_replies)
_REPLY_ROUNDS = 3


async def _send_replies(engine: Engine, durable: Durable) -> None:
    """A graceful stop's replies: what the steps under way say is committed and sent; a
    reply that fails meanwhile runs ``delivery_failed``, whose replies go the same way.

    Bounded by :data:`_REPLY_ROUNDS`: what ``delivery_failed`` says is quiet (its loss runs
    no further step, :class:`~ucwa_flow.runtime.delivery.DeliveryGuard`; and the event
    channel, whose Failure events run it too, is not read any more), so the replies under
    way and what their loss makes ``delivery_failed`` say take two rounds; the third is
    for a timer or a webhook's answer that came meanwhile. A round waits for its steps and
    its sends (each bounded by the client's time-outs and retries). What is said after the
    last round waits in the store for the next start, as before.
    """
    rounds = 0
    while True:
        await engine.drained()
        if rounds and not durable.journal.page.outgoing:
            return
        if rounds == _REPLY_ROUNDS:
            log.warning("stopping with replies still unsent; they wait for the next start")
            return
        await durable.commit(perform="sends")
        while running := engine.sender.running():
            await asyncio.wait(running)
        rounds += 1
