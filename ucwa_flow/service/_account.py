"""One bot account of a deployment, supervised: :class:`AccountRunner`.

The runner signs its account in and serves it with a durable :class:`~ucwa_flow.runtime.Bot`
until the service stops. Each attempt builds a new :class:`~ucwa_flow.ucwa.UcwaClient`
with the password read from its :class:`~ucwa_flow.deploy.SecretSource` at that moment
(a rotated secret is picked up by the next attempt); the store is opened once and kept.

What fails is reported as one line and tried again after a capped exponential back-off
with jitter (:class:`~ucwa_flow.service._backoff.Backoff`): a sign-in that fails (wrong
password, server down, store unreachable) and a bot whose run ends with an error (it is
restarted, and being durable, carries its conversations on). One account failing never
touches the others: each runner is its own task. :meth:`AccountRunner.health` is what
``/readyz`` shows of it, the error text without secrets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from ucwa_flow import logcontext
from ucwa_flow.admin import AccountHealth
from ucwa_flow.clock import Clock
from ucwa_flow.deploy import AccountSpec
from ucwa_flow.errors import OperationalError, UcwaFlowError
from ucwa_flow.flow import Flow
from ucwa_flow.live import LiveBoard
from ucwa_flow.observe.logs import add_secret
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bot import Bot
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.routing import Catalog, Route
from ucwa_flow.service._backoff import Backoff
from ucwa_flow.service._lease_check import LeaseExpired, check_lease
from ucwa_flow.service._stores import StoreHub, StoreNotOpened
from ucwa_flow.store import FencedStore, Store, StoreFenced
from ucwa_flow.ucwa import ChannelStats, UcwaClient

__all__ = [
    "CHANNEL_FAILING",
    "AccountRunner",
    "LeaseExpired",
    "Server",
    "SinkFactory",
    "describe_error",
]

log = logging.getLogger("ucwa_flow.service")

#: event-channel requests failed in a row from which an account is not ready (``/readyz``)
CHANNEL_FAILING = 3

#: per-account trace sinks: (account id, conversation href -> flow name) -> sink
SinkFactory = Callable[[str, Callable[[str], str | None]], t.TraceSink | None]


@dataclass(frozen=True)
class Server:
    """The UCWA server every account signs in to, how its certificate is checked, and the
    sign-in hosts trusted besides its own and each account's SIP domain."""

    url: str
    ca_bundle: str | None = None
    insecure: bool = False
    trusted_hosts: tuple[str, ...] = ()


def describe_error(exc: BaseException, secret: str | None = None) -> str:
    """One line for a log and for ``/readyz``: the error's first line (with its type when
    it is not one of ours), ``secret`` blanked should it appear."""
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if not isinstance(exc, UcwaFlowError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text.replace(secret, "***") if secret else text


class AccountRunner:
    """Signs ``spec`` in and serves it (see the module docstring).

    ``flows`` are the versions the next bot starts with; a reload replaces them here and
    in the running engine.
    """

    def __init__(
        self,
        spec: AccountSpec,
        flows: dict[str, Flow],
        *,
        server: Server,
        stores: StoreHub,
        clock: Clock,
        backoff: Backoff,
        sinks: SinkFactory | None = None,
        metrics: Metrics | None = None,
        live: LiveBoard | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.spec = spec
        self.flows = flows
        self.server = server
        self._stores = stores
        self._clock = clock
        self._backoff = backoff
        self._metrics = metrics
        self._http = http
        self._sink = sinks(spec.id, self.flow_of) if sinks is not None else None
        self._metrics_sink: t.TraceSink | None = None
        if metrics is not None:
            self._metrics_sink = metrics.sink(spec.id, self.flow_of)
            metrics.track(spec.id, self)
            for name, flow in flows.items():
                metrics.flow_version(spec.id, name, flow.digest)
        self._live = live
        self._live_sink = (
            live.sink(spec.id, self.instance_of, self.secrets_owner) if live is not None else None
        )
        self.bot: Bot | None = None
        self._started = False  # the bot's start() completed
        self.signed_in = False
        self.channel_live = False
        self.error: str | None = None
        self.failures = 0  # sign-ins and runs that failed in a row
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._retiring: asyncio.Future[None] | None = None
        self._gave_up = False  # stopped by an error trying again would not mend
        #: the lease token every store write carries (a worker of several; None: alone)
        self.lease_token: int | None = None
        self._fenced: FencedStore | None = None
        #: called when a write was fenced: the account is another worker's now
        self.on_fenced: Callable[[AccountRunner], None] | None = None
        #: called when its store cannot be opened for good (it stopped): a worker hands the
        #: account over, for another worker whose store opens
        self.on_refused: Callable[[AccountRunner], None] | None = None
        #: whether the lease is provably valid now: checked before every request to the
        #: UCWA server, so a worker resumed after a pause sends nothing once it is not
        self.lease_valid: Callable[[], bool] | None = None

    # -- what the admin endpoint and the metrics see ------------------------------------

    @property
    def user(self) -> str:
        return self.spec.user

    def health(self) -> AccountHealth:
        """Signed in, and the event channel live: its run loop going and its last
        :data:`CHANNEL_FAILING` requests not all failed (the server is unreachable)."""
        live, error = self.channel_live, self.error
        stats = self.channel
        if live and stats is not None and stats.failing >= CHANNEL_FAILING:
            live = False
            error = f"the event channel failed {stats.failing} times in a row; retrying"
        return AccountHealth(self.spec.id, self.user, self.signed_in, live, error)

    def ready(self) -> bool | None:
        """For the metrics: signed in with a live event channel; ``None`` while this
        process does not run the account (its supervisor not started: a worker's account
        that another worker holds)."""
        task = self._task
        if task is None or task.done():
            return False if self._gave_up else None
        return self.health().ready

    def flow_of(self, conversation: str) -> str | None:
        instance = self.bot.engine.instances.get(conversation) if self.bot is not None else None
        return instance.flow_name if instance is not None else None

    def instance_of(self, conversation: str) -> FlowInstance | None:
        """The running bot's flow instance of ``conversation`` (for the live board)."""
        bot = self.bot
        return bot.engine.instances.get(conversation) if bot is not None else None

    def secrets_owner(self, conversation: str) -> FlowInstance | None:
        """Whose secrets ``conversation`` keeps out (for the live board): see
        :meth:`Engine.secrets_owner <ucwa_flow.runtime.engine.Engine.secrets_owner>`."""
        bot = self.bot
        return bot.engine.secrets_owner(conversation) if bot is not None else None

    def active(self) -> Counter[tuple[str, str]]:
        return self.bot.engine.active() if self.bot is not None else Counter()

    def versions(self) -> Counter[tuple[str, str]]:
        """Live conversations by (flow name, version: the digest's first 12 hex digits)."""
        if self.bot is None:
            return Counter()
        return Counter(
            (i.flow_name, i.flow.digest[:12])
            for i in self.bot.engine.instances.values()
            if not i.ended
        )

    @property
    def channel(self) -> ChannelStats | None:
        bot = self.bot
        channel = bot.channel if bot is not None else None
        return channel.stats if channel is not None else None

    @property
    def gave_up(self) -> bool:
        """Its bot stopped for good, with :attr:`error` (a store that cannot be opened)."""
        return self._gave_up

    @property
    def busy(self) -> bool:
        """Its supervisor runs, or its last bot is still being closed."""
        task, retiring = self._task, self._retiring
        return (task is not None and not task.done()) or (
            retiring is not None and not retiring.done()
        )

    def apply(self, name: str, flow: Flow) -> str:
        """Serve ``flow`` as ``name`` from now on (a reload); returns the line to report.
        Should the running engine refuse it, the version the runner holds stays too."""
        head = f"{self.spec.id}: {name}: version {flow.digest[:12]}"
        bot = self.bot
        done = bot.engine.reload(name, flow) if bot is not None and self._started else None
        self.flows[name] = flow
        if self._metrics is not None:
            self._metrics.flow_version(self.spec.id, name, flow.digest)
        if done is None:
            return f"{head}, from the next sign-in"
        return f"{head}; {done.moved} conversation(s) moved to it, {done.kept} kept their version"

    # -- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping = self._gave_up = False  # a worker starts it again with each lease
        self._task = asyncio.create_task(self._supervise(), name=f"account {self.spec.id}")

    def stop_answering(self) -> None:
        """New invitations ring from now on; the supervisor starts nothing new."""
        self._stopping = True
        if self.bot is not None:
            self.bot.stop_answering()

    async def stop(self) -> None:
        """Stop serving: stop reading the event channel, let the steps under way finish,
        commit them and leave the conversations on the server for the next start."""
        self.stop_answering()
        task, self._task = self._task, None
        try:
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if self._retiring is not None:  # a failed bot being closed when the stop came
                await self._retiring
            await self._retire()
        finally:  # a stop that ran out of time too: they are not served here any more
            self._unlist()

    def _unlist(self) -> None:
        """Take the account's conversations off the live picture (they may carry on
        elsewhere)."""
        if self._live is not None:
            self._live.sweep(self.spec.id, (), "no longer served by this process")

    def forgive(self) -> None:
        """What stopped it for good is no longer this process's to report: a worker's
        time away from the account is over (:meth:`ready` is ``None`` again while it is
        not started here; a start clears it too)."""
        self._gave_up = False

    def revoke(self, why: str) -> None:
        """The lease cannot be proved valid any more: every further store write of this
        runner's bot fails at once (:class:`~ucwa_flow.store.StoreFenced`, ``why``)."""
        if self._fenced is not None:
            self._fenced.revoke(why)

    async def abandon(self) -> None:
        """After a stop ran out of time: cancel what runs and close the connections;
        nothing more is committed (the next start resumes from the last commit)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
        bot, self.bot = self.bot, None
        self.signed_in = self.channel_live = False
        self._unlist()
        if bot is not None:
            with contextlib.suppress(Exception):
                if bot.channel is not None:
                    await bot.channel.aclose()
                await bot.client.aclose()

    async def _supervise(self) -> None:
        with logcontext.bind(account=self.spec.id):
            while not self._stopping:
                await self._attempt()

    async def _attempt(self) -> None:
        password: str | None = None
        started_at = None
        try:
            store = await self._stores.open(self.user)
            if self._metrics is not None:
                store = self._metrics.timed_store(store)
            if self.lease_token is not None:
                store = self._fenced = FencedStore(store, self.lease_token)
            password = self.spec.password.read()
            add_secret(password)
            built = dict(self.flows)
            self.bot = bot = _make_bot(
                self.spec,
                built,
                self._client(password),
                clock=self._clock,
                sink=self._trace,
                http=self._http,
                store=store,
            )
            await bot.start()
            password = None  # the client has it; the runner keeps none
            self._started = True
            for name, flow in self.flows.items():  # reloaded while the bot was starting
                if built.get(name) is not flow:
                    bot.engine.reload(name, flow)
            if self._live is not None:  # what the new bot did not carry on is over
                self._live.sweep(self.spec.id, bot.engine.instances, "not carried on by the bot")
                self._live.carried(self.spec.id, bot.engine.instances)
            started_at = self._clock.monotonic()
            self.signed_in = self.channel_live = True
            self.error = None
            self._announce(bot)
            await bot.run()
            raise OperationalError("the event channel ended")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            await self._failed(exc, password, started_at)

    async def _failed(self, exc: Exception, secret: str | None, started_at: float | None) -> None:
        text = self.error = describe_error(exc, secret)
        self.signed_in = self.channel_live = False
        served_long = (
            started_at is not None and self._clock.monotonic() - started_at >= self._backoff.cap
        )
        self.failures = 1 if served_long else self.failures + 1
        if isinstance(exc, (StoreFenced, LeaseExpired)):  # not to retry: the lease is gone
            self._stopping = True
            log.warning("%s: stops serving: %s", self.spec.id, text)
            if self.on_fenced is not None:
                self.on_fenced(self)
        elif isinstance(exc, StoreNotOpened) and not exc.retryable:
            # another process serves its file, or a mistake in the deployment (a file
            # that is not a database, a store of a newer version): trying again would not
            # help, only log for ever. A worker hands the lease over (on_refused)
            self._stopping = self._gave_up = True
            log.error("%s: stops serving: %s", self.spec.id, text)
            if self.on_refused is not None:
                self.on_refused(self)
        await self._retire()
        if self._stopping:
            return
        delay = self._backoff.delay(self.failures)
        what = "the bot stopped" if started_at is not None else f"cannot sign in as {self.user}"
        if isinstance(exc, StoreNotOpened):  # its text says what: no sign-in was tried
            log.warning("%s: %s; trying again in %.0f s", self.spec.id, text, delay)
        else:
            log.warning("%s: %s: %s; trying again in %.0f s", self.spec.id, what, text, delay)
        await self._clock.sleep(delay)

    def _client(self, password: str) -> UcwaClient:
        server = self.server
        client = UcwaClient(
            self.user,
            password,
            server_url=server.url,
            clock=self._clock,
            ca_bundle=server.ca_bundle,
            insecure=server.insecure,
            trusted_hosts=server.trusted_hosts,
        )
        valid, token, fenced = self.lease_valid, self.lease_token, self._fenced
        if valid is not None:
            # this bot's lease, not the account's: the worker may take the account again
            # (a new token, a new bot) while this bot is still closing; its requests stay
            # refused then, and a refusal revokes its own store, not the new bot's
            def mine() -> bool:
                return self.lease_token == token and valid()

            revoke = fenced.revoke if fenced is not None else self.revoke
            check_lease(client, self.spec.id, mine, revoke)
        return client

    def _trace(self, record: t.Trace) -> None:
        if self._metrics_sink is not None:
            self._metrics_sink(record)
        if self._live_sink is not None:
            self._live_sink(record)
        if self._sink is not None:
            self._sink(record)

    def _announce(self, bot: Bot) -> None:
        log.info(
            "%s: signed in as %s, serving %s%s",
            self.spec.id,
            self.user,
            ", ".join(self.flows),
            bot.resumed,
        )

    async def _retire(self) -> None:
        """Close the current bot: a started one commits what is pending and keeps its
        conversations and application for the next start; a bot that never finished
        starting has decided nothing, so only its connections are closed. A stop that
        cancels the supervisor meanwhile does not cut this short (it waits for it)."""
        self._retiring = asyncio.ensure_future(self._close_bot())
        await asyncio.shield(self._retiring)

    async def _close_bot(self) -> None:
        bot, self.bot = self.bot, None
        started, self._started = self._started, False
        self.signed_in = self.channel_live = False
        if bot is None:
            return
        try:
            if started:
                await bot.aclose(keep=True)
        except Exception as exc:
            log.warning("%s: while stopping the bot: %s", self.spec.id, describe_error(exc))
        finally:
            await bot.client.aclose()


def _make_bot(
    spec: AccountSpec,
    flows: dict[str, Flow],
    client: UcwaClient,
    *,
    clock: Clock,
    sink: t.TraceSink | None,
    http: httpx.AsyncClient | None,
    store: Store | None,
) -> Bot:
    """A durable bot running ``spec``'s flows, routes and limits."""
    routes = [
        Route(r.flow, caller=r.caller, subject=r.subject, first_message=r.first_message)
        for r in spec.routes
    ]
    catalog = Catalog(dict(flows), routes, default=spec.default_flow)
    lim = spec.limits
    limits = Limits(
        max_conversations=lim.max_conversations,
        max_answering=lim.max_answering,
        when_full=lim.when_full,
        busy_message=lim.busy_message,
    )
    return Bot(catalog, client, clock=clock, sink=sink, http=http, store=store, limits=limits)
