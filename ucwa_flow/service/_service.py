"""A deployment served: :class:`Service`, what ``ucwa-flow serve`` runs.

::

    service = Service(load_deployment("deploy.yaml"))
    await service.start()          # flows loaded, accounts signing in, admin listening
    ...                            # service.reload(), service.readiness(), ...
    await service.stop()           # or: await service.run() until stopped

Every account is an :class:`~ucwa_flow.service._account.AccountRunner`, supervised on its
own (a failing sign-in is retried with back-off while the others serve). The service is
the admin endpoint's target (``readiness``, ``reload``, ``start_outbound``).

**Graceful stop** (:meth:`Service.stop`; SIGTERM/SIGINT in the CLI): at once every bot
leaves new invitations unanswered (they ring, for another instance of the bot or until
the caller gives up) and the schedules stop; then each bot stops reading its event
channel, the steps under way finish and are committed, and the conversations and the
UCWA application are left on the server, so the next start carries them on. All of it
within ``stop_timeout``; past it, what is left is cancelled with a warning line. Then the
admin server and the stores close.

**Reload** (:meth:`Service.reload`; SIGHUP, ``POST /reload``, ``--watch``): every flow
file the deployment names is read and checked again. A flow with errors is refused (its
``file:line:col`` diagnostics in the report and the log) and its running version stays;
a valid one whose digest changed goes to the account's engine (``engine.reload``: new
conversations get it at once, running ones move to it when their state still exists).
The deployment file itself is not read again: accounts, store, admin and limits change
with a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

from ucwa_flow import logcontext
from ucwa_flow._listen import format_listen
from ucwa_flow.admin import AdminServer, Readiness, ReloadReport, create_app, unguarded
from ucwa_flow.clock import Clock, SystemClock
from ucwa_flow.deploy import Deployment
from ucwa_flow.errors import OperationalError
from ucwa_flow.live import LiveBoard
from ucwa_flow.observe.logs import add_secret
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.service._account import AccountRunner, Server, SinkFactory
from ucwa_flow.service._backoff import Backoff
from ucwa_flow.service._coordinator import Coordinator
from ucwa_flow.service._flows import FlowsRefused
from ucwa_flow.service._preflight import SecretsUnreadable, preflight
from ucwa_flow.service._readiness import readiness
from ucwa_flow.service._reload import reload_lines
from ucwa_flow.service._schedule import Starter, start_schedules
from ucwa_flow.service._stores import StoreHub, StoreNotOpened
from ucwa_flow.service._watch import Watcher
from ucwa_flow.service._workers import open_coordinator
from ucwa_flow.store import is_postgres_url
from ucwa_flow.ucwa._tls import client_context

__all__ = ["FlowsRefused", "SecretsUnreadable", "Service", "StoreNotOpened"]

log = logging.getLogger("ucwa_flow.service")

_NOT_SIGNED_IN = "{account} is not signed in; try again once /readyz shows it signed in"


class Service:
    """Serves every account of ``deployment`` (see the module docstring).

    ``server`` overrides the file's ``server.url`` (``--server``). ``sinks`` gives each
    account a trace sink (transcripts on a terminal, tests); ``metrics`` is where the
    accounts count (:mod:`ucwa_flow.observe`; a new one by default). ``watch``
    reloads on file changes. ``probe`` is how often (clock seconds) the stores are checked
    for readiness.
    """

    def __init__(
        self,
        deployment: Deployment,
        *,
        server: str | None = None,
        clock: Clock | None = None,
        backoff: Backoff | None = None,
        sinks: SinkFactory | None = None,
        metrics: Metrics | None = None,
        watch: bool = False,
        probe: float = 15.0,
    ) -> None:
        url = server or deployment.server.url
        if url is None:
            raise OperationalError("no UCWA server: give server.url in the file or --server")
        spec = deployment.server
        self.deployment = deployment
        self.server = Server(
            url,
            str(spec.ca_bundle) if spec.ca_bundle else None,
            spec.insecure,
            spec.trusted_hosts,
        )
        self.clock: Clock = clock or SystemClock()
        self.metrics = metrics if metrics is not None else Metrics()
        #: the live picture the admin endpoint's ``/live`` routes serve (with the endpoint)
        self.live: LiveBoard | None = LiveBoard() if deployment.admin.enabled else None
        self._backoff = backoff or Backoff()
        self._sinks = sinks
        self._watching = watch
        self._stores = StoreHub(
            deployment.store, self.clock, retention=deployment.retention, probe=probe
        )
        self.runners: dict[str, AccountRunner] = {}
        self._http: httpx.AsyncClient | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._watcher: Watcher | None = None
        self._admin: AdminServer | None = None
        #: where the admin endpoint listens, once started (None: not started)
        self.admin_address: tuple[str, int] | None = None
        self._reloading = asyncio.Lock()
        self._stop_task: asyncio.Task[bool] | None = None
        self._done = asyncio.Event()
        self._started = False
        #: with a PostgreSQL store, this process is one worker of several (see _coordinator)
        self.coordinator: Coordinator | None = None
        #: why the start waits for a PostgreSQL store that cannot be reached (None: it
        #: does not); ``/readyz`` gives it as each account's error
        self.waiting_for_store: str | None = None
        #: since when it waits (``time.time()``; None: it does not)
        self.waiting_since: float | None = None
        self._joining: asyncio.Task[Coordinator] | None = None

    # -- lifetime -------------------------------------------------------------------------

    async def start(self) -> None:
        """Load every flow (:class:`FlowsRefused` when one has errors) and read every
        secret (:class:`SecretsUnreadable`), open the SQLite stores (:class:`StoreNotOpened`
        when one never can be), then start the admin endpoint when enabled
        (:class:`OperationalError` when it cannot listen), every account and the file
        watch. A PostgreSQL store that cannot be reached is waited for (see
        :mod:`._workers`); a :meth:`stop` meanwhile ends the wait, and the start returns
        with nothing started (:attr:`stopping`)."""
        flows = preflight(self.deployment)
        self._started = True
        logcontext.enrich_with(self._where)  # log lines name their conversation's flow, state
        try:  # first: a store that can never open, a port in use, fail the start at once
            if not self.shared:  # a PostgreSQL store: the coordinator opens it first
                await self._stores.check([spec.user for spec in self.deployment.accounts])
            await self._start_admin()
        except BaseException:
            await self.stop()
            raise
        if self.stopping:  # a stop came meanwhile: it ended what it found, not what came after
            await self.stop()
            await self._end_late()
            return
        if self.server.ca_bundle is not None:  # webhooks trust the private CA too, as in run
            verify = client_context(self.server.ca_bundle)
            self._http = httpx.AsyncClient(verify=verify, follow_redirects=False)
        for spec in self.deployment.accounts:
            runner = AccountRunner(
                spec,
                flows[spec.id],
                server=self.server,
                stores=self._stores,
                clock=self.clock,
                backoff=self._backoff,
                sinks=self._sinks,
                metrics=self.metrics,
                live=self.live,
                http=self._http,
            )
            self.runners[spec.id] = runner
            if not self.shared:
                runner.start()
            starter = self._starter(runner)
            self._tasks += start_schedules(spec.id, spec.schedules, starter, self.clock)
        if self.shared:  # the accounts start as their leases come
            self._joining = asyncio.create_task(
                open_coordinator(self, self._backoff), name="workers: joining"
            )
            try:
                self.coordinator = await self._joining
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if self._stop_task is None or (current is not None and current.cancelling()):
                    await self.stop()
                    raise
                return  # stopped while waiting for the store: _stop() cancelled the wait
            except BaseException:
                await self.stop()
                raise
        if self._watching:
            self._watcher = Watcher(self.watched_files(), self._changed)
            self._watcher.start()

    @property
    def stopping(self) -> bool:
        """A stop has begun (a start that waited for the store returns with it)."""
        return self._stop_task is not None

    @property
    def stores(self) -> StoreHub:
        """Where the accounts' stores are opened."""
        return self._stores

    @property
    def shared(self) -> bool:
        """The store is PostgreSQL: the accounts are shared with the other workers."""
        return is_postgres_url(self.deployment.store or "")

    async def _start_admin(self) -> None:
        admin = self.deployment.admin
        if not admin.enabled:
            return
        token = admin.token.read() if admin.token is not None else None
        if token is not None:
            add_secret(token)
        try:
            hosts = [admin.host, *admin.allow_hosts]
            server = AdminServer(
                create_app(self, self.metrics, token, live=self.live, hosts=hosts),
                admin.host,
                admin.port,
            )
            self.admin_address = await server.start()
        except OSError as exc:
            raise OperationalError(
                f"cannot listen on {format_listen(admin.host, admin.port)}: {exc.strerror or exc}"
            ) from None
        self._admin = server
        log.info("admin endpoint on http://%s", format_listen(*self.admin_address))
        if (warning := unguarded(admin.host, token, self.admin_address[0])) is not None:
            log.warning("%s", warning)

    def _where(self, bound: Mapping[str, str]) -> dict[str, str]:
        """The flow and state of the conversation a log line is about, if it is live."""
        runner = self.runners.get(bound.get("account", ""))
        bot = runner.bot if runner is not None else None
        conversation = bound.get("conversation")
        if bot is None or conversation is None:
            return {}
        instance = bot.engine.instances.get(conversation)
        return {"flow": instance.flow_name, "state": instance.state} if instance else {}

    def watched_files(self) -> list[Path]:
        """The deployment file, every flow file it names and every file the loading of
        the running flows read (``Flow.files``: the files they include, the sub-flows they
        call, and what those include, whatever each one holds)."""
        files = [self.deployment.source]
        for spec in self.deployment.accounts:
            files += [flow.path for flow in spec.flows]
        for runner in self.runners.values():
            for flow in runner.flows.values():
                files += [Path(file) for file in flow.files]
        return list(dict.fromkeys(files))

    async def _changed(self, paths: list[Path]) -> None:
        if self.deployment.source.resolve() in paths:
            log.warning(
                "%s changed: the flow files it named at the start are read again; the rest "
                "(accounts, flow paths, vars, routes, limits, schedules, store, admin, logging) "
                "will change at the next start",
                self.deployment.source,
            )
        await self.reload()

    async def run(self) -> None:
        """Start (unless started) and serve until :meth:`stop`; cancelled, it stops."""
        if not self._started:
            await self.start()
        try:
            await self._done.wait()
        finally:
            if not self._done.is_set():
                await self.stop()

    async def stop(self) -> bool:
        """Stop gracefully (see the module docstring); ``False`` when ``stop_timeout`` ran
        out and what was left was cancelled. Calling it again waits for the same stop."""
        if self._stop_task is None:
            self._stop_task = asyncio.create_task(self._stop())
        return await asyncio.shield(self._stop_task)

    async def _stop(self) -> bool:
        cut = await self._end_joining()  # no account was started then: nothing to finish
        # a worker that never joined (its store refused for good) started no account either
        joined = not self.shared or self.coordinator is not None
        runners = list(self.runners.values()) if joined and not cut else []
        for runner in runners:
            runner.stop_answering()
        for task in self._tasks:
            task.cancel()
        if self._watcher is not None:
            await self._watcher.aclose()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.coordinator is not None:  # no more leases taken; the held ones go below
            await self.coordinator.stop()
        limit = self.deployment.stop_timeout
        if runners:  # not when the start failed before any account
            log.info("stopping: new invitations ring; finishing the steps under way (%g s)", limit)
        clean = True
        try:
            async with asyncio.timeout(limit):
                await asyncio.gather(*(runner.stop() for runner in runners))
        except TimeoutError:
            clean = False
            log.warning("stop: not done after %g s; cancelled what was left", limit)
            for runner in runners:
                await runner.abandon()
        if self.coordinator is not None:  # the others take the accounts over at once
            await self.coordinator.leave()
            await self.coordinator.book.store.aclose()
        await self._end_late()
        if self._http is not None:
            await self._http.aclose()
        self._done.set()
        logcontext.enrich_with(None)
        if runners:
            log.info("stopped")
        elif cut:
            log.info("stopped while %s", self.waiting_for_store or "connecting to the store")
        return clean

    async def _end_late(self) -> None:
        """Stop the admin endpoint and close the stores (again, for what a start still in
        progress opened after the stop had closed them)."""
        admin, self._admin = self._admin, None
        if admin is not None:
            with contextlib.suppress(Exception):
                await admin.stop()
        await self._stores.aclose()

    async def _end_joining(self) -> bool:
        """Cancel a wait for the store (``True``: it was cut short); a join that was done
        keeps its coordinator (its leases are released as the stop goes on)."""
        joining = self._joining
        if joining is None:
            return False
        joining.cancel()
        await asyncio.gather(joining, return_exceptions=True)
        if joining.cancelled():
            return True
        if self.coordinator is None and joining.exception() is None:
            self.coordinator = joining.result()
        return False

    # -- what the admin endpoint offers (AdminTarget) ------------------------------------

    def readiness(self) -> Readiness:
        """Ready when every account is signed in with its event channel live and every
        store answers; never while stopping. Why not, as data (:mod:`._readiness`)."""
        return readiness(self)

    async def reload(self) -> ReloadReport:
        """Check every flow file again and hand the changed, valid ones to their engines.
        Each account's lines (and the runtime's, as its engine takes a new version) carry
        the account, as its other lines do."""
        async with self._reloading:
            lines = reload_lines(self.runners.values())  # each file read (and told) once
            if self._watcher is not None:  # the files the flows include now
                self._watcher.follow(self.watched_files())
            for level, line, account in lines:
                with logcontext.bind(account=account):
                    log.log(level, "%s", line)
            ok = all(level < logging.ERROR for level, _, _ in lines)
            self.metrics.reloaded(ok)
            return ReloadReport(ok, [line for _, line, _ in lines])

    def has_account(self, account: str) -> bool:
        return account in self.runners

    async def start_outbound(
        self, account: str, flow: str, invitee: str | Sequence[str] | None
    ) -> str | None:
        """Start ``flow`` of ``account`` with ``invitee`` (several people; ``None``: its
        ``outbound.to``) now; a campaign flow's run id is returned. LookupError for an
        unknown account or flow, ValueError for an invitee that is not a SIP address,
        OperationalError while the account is not signed in."""
        runner = self.runners.get(account)
        if runner is None:
            raise LookupError(f"no account {account!r}")
        return self._starter(runner)(flow, invitee)

    def _starter(self, runner: AccountRunner) -> Starter:
        def start(flow: str, invitee: str | Sequence[str] | None) -> str | None:
            if flow not in runner.flows:
                raise LookupError(f"account {runner.spec.id!r} has no flow {flow!r}")
            people = [invitee] if isinstance(invitee, str) else list(invitee or ())
            for person in people:
                if not _is_sip(person):
                    raise ValueError(
                        f"{person!r} is not a SIP address like sip:someone@contoso.com"
                    )
            coordinator = self.coordinator
            if coordinator is not None and runner.spec.id not in coordinator.held:
                raise OperationalError(
                    f"{runner.spec.id} is served by another worker now (ucwa-flow workers)"
                )
            bot = runner.bot
            if bot is None or not runner.signed_in or self._stop_task is not None:
                raise OperationalError(_NOT_SIGNED_IN.format(account=runner.spec.id))
            return bot.engine.start_outbound(flow, invitee)

        return start


def _is_sip(uri: str) -> bool:
    user, at, domain = uri.removeprefix("sip:").partition("@")
    return uri.startswith("sip:") and bool(user and at and domain) and " " not in uri
