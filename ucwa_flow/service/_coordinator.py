"""A worker among several on one PostgreSQL store: :class:`Coordinator`.

When a deployment's store is PostgreSQL, every ``ucwa-flow serve`` process of it is a
*worker*. Its coordinator joins the store's ``workers`` table, then every ``heartbeat``
(``workers:`` in the deployment file; 2 s by default) renews the leases it holds for
``lease`` (10 s) and balances. A serving worker renews from a thread of its own
(:mod:`~ucwa_flow.service._renewer`: a starved machine runs the service's loop seconds
late, and a renewal that waited for it lost the leases), and its rounds read what the
renewer renewed; without one (``renew_from`` not given) the rounds renew.

* its fair share is ``ceil(accounts / live workers)`` (a worker is live when it renewed
  within one lease time, by the database's clock, and not merely joined);
* under its share, it takes free or expired leases (:meth:`LeaseBook.acquire`: the token
  grows by one) and starts the account's runner with that token: the bot re-attaches to
  the stored application, resumes the channel and carries the conversations on, its every
  store write fenced by the token;
* over its share (a worker joined), it hands accounts over: the runner stops gracefully
  (new invitations ring, the steps under way are committed, the conversations stay on the
  server) and the lease is released at once, for the other worker's next round.

**Validity.** A lease is relied on only while it is provably valid on the worker's own
monotonic clock (:mod:`._held`); a guard task revokes an account's store writes and stops
its bot the moment it is not, and a write the database fences does the same.

**A store that cannot be opened for good.** An account's bot whose store this worker
cannot open, and trying again would not mend (a non-retryable :class:`StoreError`), stops
with one error line; the worker releases the lease at once (:meth:`LeaseBook.give_up`)
and keeps away from every account it does not hold for a while, marked so in the store;
how long, what the mark says and which accounts are forgiven is :class:`~._away.Away`'s
to decide (see :mod:`._away`), the rounds write what it decides. The accounts it serves,
it keeps. The account is not ready on it meanwhile (``/readyz``; ``ucwa_flow_account_ready``
0).

**Graceful stop.** :meth:`Coordinator.stop` ends the rounds; once the service has stopped
its runners (committing their last steps), :meth:`Coordinator.leave` releases every lease
in one statement, so the other workers take the accounts over at their next heartbeat,
without waiting for the expiry.

**Configuration.** At the start, each account's spec is registered; a deployment file
that disagrees with a live worker's is refused with one line (:mod:`._joining`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from ucwa_flow.deploy import WorkersSpec
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.service._account import AccountRunner
from ucwa_flow.service._away import Away
from ucwa_flow.service._backoff import Backoff
from ucwa_flow.service._held import Held, Holding, uptime
from ucwa_flow.service._joining import account_digest, join
from ucwa_flow.service._renewer import Renewer
from ucwa_flow.service._sight import Sight
from ucwa_flow.store import StoreError
from ucwa_flow.store.leases import Lease, LeaseBook, WorkerInfo, new_worker

__all__ = ["Coordinator", "account_digest"]

log = logging.getLogger("ucwa_flow.service")

#: the renewer stops renewing once the service's loop has not run for this long (or three
#: leases, if longer): a stuck worker must not keep its accounts forever
LOOP_STUCK = 30.0


class Coordinator:
    """Shares ``runners`` (by account id) with the other workers of ``book`` (see the
    module docstring). ``stop_timeout`` bounds each runner's graceful stop; ``away`` is how
    long it keeps away from the accounts after each refusal in a row of a store."""

    def __init__(
        self,
        book: LeaseBook,
        runners: dict[str, AccountRunner],
        spec: WorkersSpec,
        *,
        metrics: Metrics | None = None,
        stop_timeout: float = 10.0,
        worker: WorkerInfo | None = None,
        margin: float | None = None,
        monotonic: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        renew_from: str | None = None,
        away: Backoff | None = None,
    ) -> None:
        self.book = book
        self.runners = runners
        self.worker = worker or new_worker()
        self.ttl, self.heartbeat = spec.lease, spec.heartbeat
        self.margin = spec.lease * 0.25 if margin is None else margin
        self._metrics = metrics
        self._stop_timeout = stop_timeout
        self._monotonic, self._sleep = monotonic or uptime, sleep
        #: the accounts (ids) whose lease this worker holds
        self.held = Holding(self.ttl, self.margin, self._monotonic)
        #: the accounts whose store could not be opened here for good (see the docstring)
        self.away = Away(self.ttl, self._monotonic, away)
        self._tasks: list[asyncio.Task[None]] = []
        self._stops: set[asyncio.Task[None]] = set()
        self._round_lock = asyncio.Lock()
        #: the last heartbeat failed (the store cannot be reached)
        self.unreachable = False
        #: what ``/readyz`` tells of the store and of the accounts it does not serve
        self.sight = Sight()
        #: it left (or is leaving): a round still under way takes nothing any more
        self.left = False
        #: rounds completed (renewed and balanced): a worker is ready after its first
        self.rounds = 0
        #: when the service's loop last ran (the guard's last look), on ``_monotonic``
        self._loop_seen = self._monotonic()
        #: the renewer stops renewing once the loop has not run for this long (seconds)
        self.stalled = max(LOOP_STUCK, 3 * self.ttl)
        self._users = {runner.user: account for account, runner in runners.items()}
        #: renews from a thread of its own too (``renew_from``: the store's URL), so that a
        #: late loop does not make a late renewal (see ``_renewer``)
        self.renewer = (
            None
            if renew_from is None
            else Renewer(
                renew_from,
                self.worker,
                ttl=self.ttl,
                heartbeat=self.heartbeat,
                stalled=self.stalled,
                monotonic=self._monotonic,
                alive=self.loop_late,
                renewed=self._renewed,
            )
        )

    @property
    def serving(self) -> list[str]:
        """The accounts (ids) held and not being handed over."""
        return [account for account, held in self.held.items() if not held.leaving]

    def kept_away(self) -> dict[str, str]:
        """The accounts (ids) this worker keeps away from now, each with the error that
        made it (its store could not be opened here)."""
        return self.away.kept()

    # -- lifetime -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join, register every account's configuration (:class:`OperationalError`, one
        line, when another live worker's file disagrees), then share the accounts. A
        retryable :class:`StoreError` when the store cannot be reached meanwhile."""
        await join(self.book, self.worker, self.runners.values(), self.ttl)
        for account, runner in self.runners.items():
            runner.on_fenced = self._fenced
            runner.on_refused = self._refused
            runner.lease_valid = self.held.validity(account)
        log.info("worker %s: sharing %d account(s)", self.worker.id, len(self.runners))
        self.resume()

    async def pause(self) -> None:
        """Stop renewing and checking (as if the process were frozen; for tests, and the
        first step of :meth:`stop`). A round under way finishes first: a store operation
        cancelled half-way would leave its transaction (and its row locks) open."""
        try:
            async with asyncio.timeout(self.ttl):
                await self._round_lock.acquire()
        except TimeoutError:  # a store that hangs: cancel the round after all
            log.warning("worker %s: a heartbeat hangs; cancelled", self.worker.id)
        else:
            self._round_lock.release()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.renewer is not None:
            await self.renewer.stop()

    def resume(self) -> None:
        """Renew and check again after :meth:`pause` (as after ``SIGCONT``)."""
        self._loop_seen = self._monotonic()
        if self.renewer is not None:
            self.renewer.start()
        self._tasks = [
            asyncio.create_task(self._rounds(), name="leases: heartbeat"),
            asyncio.create_task(self._guard(), name="leases: guard"),
        ]

    async def stop(self) -> None:
        """No more rounds: the leases stay held until :meth:`leave`."""
        await self.pause()

    async def leave(self) -> None:
        """Release every lease at once and leave (after the runners stopped). A round that
        :meth:`pause` gave up waiting for (its store hung) may still be under way: it stops
        after its renewal, and releases what it took meanwhile. It went on, and after the
        leave took every account again (a worker that left is in no share), started their
        bots after the service had stopped, and held them until the leases expired."""
        self.left = True
        await asyncio.gather(*self._stops, return_exceptions=True)
        try:
            released = await self.book.leave(self.worker.id)
        except StoreError as exc:
            log.warning("worker %s: could not hand the accounts over: %s", self.worker.id, exc)
            return
        if released:
            log.info("worker %s: handed %d account(s) over", self.worker.id, released)
        while self.held:
            self.held.popitem()
            self._count(len(self.held), "handover")

    # -- rounds ---------------------------------------------------------------------------

    async def _rounds(self) -> None:
        while True:
            async with self._round_lock:
                await asyncio.shield(self.round())  # see pause()
            await self._sleep(self.heartbeat)

    async def round(self) -> None:
        """One heartbeat: renew (or, with a renewer, read what it renewed), drop what was
        lost, balance."""
        if self.left:
            return
        sent = self._monotonic()
        try:
            renewed = {lease.account: lease for lease in await self._renew()}
        except StoreError as exc:
            if not self.unreachable:
                self.sight.cut_off(str(exc))
                log.error(
                    "worker %s: cannot renew its leases (%s); serving each account only while "
                    "its lease is surely valid",
                    self.worker.id,
                    exc,
                )
            self.unreachable = True
            return
        if self._gone():  # left while it renewed
            return
        if self.unreachable:
            log.warning("worker %s: the store answers again", self.worker.id)
            self.unreachable = False
            self.sight.reached()
        for account, held in list(self.held.items()):
            lease = renewed.get(self.runners[account].user)
            if lease is not None and lease.token == held.token:
                if self.renewer is None or not self.renewer.running:
                    held.valid_until = max(held.valid_until, self.held.valid_after(sent))
            else:
                self._lose(account, "its lease expired or was taken by another worker")
        serving = self.serving
        served = [a for a in self.away.refused if a in serving and self.runners[a].signed_in]
        for account in self.away.forgive(served, self.held):
            self.runners[account].forgive()
        mark = self.away.mark_due()  # the store's mark follows the time away
        try:
            if mark is not None:
                await self.book.mark_away(self.worker.id, mark.seconds)
                self.away.marked(mark)
        except StoreError as exc:  # the next round tries again
            log.warning(
                "worker %s: cannot mark its time away in the store: %s", self.worker.id, exc
            )
        try:
            mine = {self.runners[account].user for account in self.held}
            for lease in renewed.values():  # given up here (revoked) but still ours there
                if lease.account not in mine:
                    await self.book.release(lease.account, self.worker.id, lease.token)
            await self._balance()
        except StoreError as exc:
            log.warning("worker %s: balancing: %s", self.worker.id, exc)
            return
        self.rounds += 1

    async def _renew(self) -> list[Lease]:
        """The leases still this worker's. With a renewer, they are only read: renewing
        here too would hold the worker's rows locked for as long as this loop is late in
        the middle of its transaction, and the renewer would wait behind it."""
        if self.renewer is None or not self.renewer.running:
            return await self.book.heartbeat(self.worker, self.ttl)
        mine = self.worker.id
        return [
            lease
            for lease in self.sight.saw(await self.book.owners())
            if lease.worker == mine and lease.valid
        ]

    async def _balance(self) -> None:
        if self.kept_away():  # serves what it holds, takes nothing and hands nothing over
            return
        takers = await self.book.workers(live_within=self.ttl, taking=True)
        live = {w.id for w in takers} | {self.worker.id}
        share = math.ceil(len(self.runners) / len(live))
        serving = sorted(a for a, held in self.held.items() if not held.leaving)
        if len(serving) > share:  # in the background: the heartbeat must go on meanwhile
            for account in serving[share:]:
                self.held[account].leaving = True
                self._spawn(self._hand_over(account), f"hand {account} over")
            return
        if len(self.held) >= share:  # the accounts being handed over count until released
            return
        leases = {lease.account: lease for lease in self.sight.saw(await self.book.owners())}
        ids = sorted(self.runners)
        turn = int(hashlib.sha256(self.worker.id.encode()).hexdigest(), 16) % len(ids)
        for account in ids[turn:] + ids[:turn]:  # workers start at different accounts
            if len(self.held) >= share:
                break
            runner = self.runners[account]
            current = leases.get(runner.user)
            if account in self.held or (current is not None and current.valid):
                continue
            if runner.busy:
                continue  # still stopping after a loss: next round
            sent = self._monotonic()
            lease = await self.book.acquire(runner.user, self.worker.id, self.ttl)
            if lease is not None and self._gone():  # left meanwhile
                await self.book.release(runner.user, self.worker.id, lease.token)
                return
            if lease is not None:
                self._grant(account, lease, sent, previous=current)

    def _grant(self, account: str, lease: Lease, sent: float, previous: Lease | None) -> None:
        runner = self.runners[account]
        self.held[account] = Held(lease.token, self.held.valid_after(sent))
        self.sight.took(account)
        takeover = previous is not None and previous.worker not in (None, self.worker.id)
        event = "takeover" if takeover else "acquired"
        how = f"took it over from {previous.worker}" if takeover and previous else "acquired it"
        log.info("%s: worker %s %s (lease token %d)", account, self.worker.id, how, lease.token)
        self._count(len(self.held), event)
        runner.lease_token = lease.token
        runner.start()

    async def _hand_over(self, account: str, away: float | None = None) -> None:
        """Stop the bot gracefully (its last commits still carry the token, the lease still
        renewed meanwhile), then release the lease; given up (its store refused: stopped
        already, nothing was written), for ``away`` seconds."""
        held = self.held[account]
        runner = self.runners[account]
        await self._stop_runner(runner)
        if self.held.get(account) is not held:  # lost meanwhile (the round marks it away)
            return
        try:
            if away is None:
                await self.book.release(runner.user, self.worker.id, held.token)
            else:
                until = self.away.until()
                await self.book.give_up(runner.user, self.worker.id, held.token, away)
                self.away.given_up(until)
        except StoreError as exc:  # it expires instead (the next round marks it away)
            log.warning("%s: could not release the lease: %s", account, exc)
        self.held.pop(account, None)
        if away is None:
            log.info("%s: worker %s handed it over", account, self.worker.id)
        self._count(len(self.held), "handover")

    def _refused(self, runner: AccountRunner) -> None:
        """``runner``'s store cannot be opened here for good (its bot stopped, with one
        error line): give the account up at once and keep away (see the docstring)."""
        account = runner.spec.id
        away = self.away.refuse(account, runner.error or "its store cannot be opened")
        log.warning(
            "%s: worker %s gives it up (its store cannot be opened here) and takes no new "
            "account for %.0f s",
            account,
            self.worker.id,
            away,
        )
        held = self.held.get(account)
        if held is None or held.leaving:  # lost or being handed over meanwhile: let go there
            return
        held.leaving = True
        self._spawn(self._hand_over(account, away), f"give {account} up")

    def _gone(self) -> bool:
        """It left (an await ago, possibly)."""
        return self.left

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._stops.add(task)
        task.add_done_callback(self._stops.discard)

    def _lose(self, account: str, why: str) -> None:
        held = self.held.pop(account, None)
        if held is None:
            return
        self.sight.lost_lease(account, why)
        runner = self.runners[account]
        runner.revoke(f"worker {self.worker.id} lost the lease (token {held.token}): {why}")
        log.warning("%s: worker %s stops serving it: %s", account, self.worker.id, why)
        self._count(len(self.held), "lost")
        self._spawn(self._stop_runner(runner), f"stop {account}")

    def _renewed(self, sent: float, leases: list[Lease]) -> None:
        """The renewer's answer (in its thread): see :meth:`Holding.extend`."""
        self.held.extend(((self._users.get(lease.account), lease.token) for lease in leases), sent)

    def loop_late(self) -> float:
        """Seconds since the service's loop last ran (the renewer asks, from its thread)."""
        return self._monotonic() - self._loop_seen

    def _fenced(self, runner: AccountRunner) -> None:
        self._lose(runner.spec.id, f"its bot stopped: {runner.error or 'a write was fenced'}")

    async def _stop_runner(self, runner: AccountRunner) -> None:
        try:
            async with asyncio.timeout(self._stop_timeout):
                await runner.stop()
        except TimeoutError:
            log.warning("%s: not stopped after %g s; cancelled", runner.spec.id, self._stop_timeout)
            await runner.abandon()

    async def _guard(self) -> None:
        """Revoke an account the moment its lease is no longer provably valid."""
        step = max(0.05, min(self.margin, self.heartbeat) / 2)
        while True:
            now = self._loop_seen = self._monotonic()
            for account in self.held.lapsed(now):
                self._lose(account, "its lease could not be renewed in time")
            await self._sleep(step)

    def _count(self, owned: int, event: str | None = None) -> None:
        if self._metrics is not None:
            self._metrics.leases(owned, event)
