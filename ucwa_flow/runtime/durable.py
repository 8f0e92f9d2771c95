"""A durable engine: every step committed to the store before anything is performed.

:class:`Durable` stands between an :class:`~ucwa_flow.runtime.engine.Engine` and a
:class:`~ucwa_flow.store.Store`. It gives the engine a
:class:`~ucwa_flow.runtime.journal.Journal`, so what conversations decide waits, and
commits in one transaction (group commit):

* an event batch: :meth:`Durable.handle` hands the batch to the engine, waits until every
  conversation has handled it, and commits its effects together with the event channel's
  new position. Only then are its messages sent and its webhooks started, and only then
  does the bot ask for the next batch (which acknowledges this one). A crash before the
  commit loses nothing: the server re-delivers the batch to the restarted bot;
* anything else (a timer, a webhook's answer, the outcome of a send): :meth:`run`, in the
  background, commits whatever is waiting whenever no batch is being handled. Outcomes of
  sends alone wait a moment (:attr:`Durable.hold`) for a batch to take them: the batch
  that reports a sent message comes right after it, and its commit records the message as
  sent anyway (see :class:`~ucwa_flow.runtime.doubt.Doubt`), so a commit of their own
  would only hold that batch up.

Restart: :meth:`restore` puts the stored conversations back into the engine (state,
variables, ladder, links; overdue timers fire at once, once; pending webhooks are sent
again with the same ``Idempotency-Key``, those of conversations that ended too:
:mod:`~ucwa_flow.runtime.after_end`). Messages committed but perhaps not sent are *in
doubt*: the channel's message events carry each send's ``OperationContext``, so one that
shows up in the batches read after the restart went out and is not sent again; the others
are sent once two batches have been read since the restart (the second is formed after
the restart, so it holds every event of a send made before it).

Campaign runs (:mod:`ucwa_flow.runtime.campaigns`) are committed with the step that
changed them; :meth:`restore` puts the runs under way back before their conversations
(each record names its run), and the bot carries them on once it is up
(:meth:`~ucwa_flow.runtime.campaigns.Campaigns.resume`).

Each record names the conversation's flow (its name in the engine's catalog) and version
(the digest). A restart carries it on with the current version of that flow (a transcript
``version`` line says so when the version changed); one whose state no longer exists in
that version, or whose flow the bot no longer runs, is ended politely (the flow's
``changed_message``; the default flow's for a flow that is gone).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Literal

from ucwa_flow.flow import Flow
from ucwa_flow.runtime.after_end import carry_on_ended, held_secrets
from ucwa_flow.runtime.changes import PageWriter
from ucwa_flow.runtime.doubt import Doubt
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.journal import Journal, Page
from ucwa_flow.runtime.restore import carry_on
from ucwa_flow.store import (
    ChannelPosition,
    CommitResult,
    Snapshot,
    Store,
    StoreError,
)
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.events import EventBatch

__all__ = ["Durable", "Performed"]

#: what :meth:`Durable.commit` performs of what it committed (see there)
Performed = Literal["all", "sends", "nothing"]

log = logging.getLogger("ucwa_flow.runtime")


class Durable:
    """Commits ``engine``'s steps to ``store`` for ``account`` (see the module docstring).

    ``now`` is the wall clock in epoch seconds (deadlines and transcript times).
    """

    def __init__(
        self,
        engine: Engine,
        store: Store,
        account: str,
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.store = store
        self.account = account
        self._now = now
        self.journal = engine.journal = Journal(now, self._secrets_of)
        self._lock = asyncio.Lock()
        self._between = True  # no batch is being handled
        #: what the committer (run) waits on: something to commit while no batch is handled
        self._wanted: asyncio.Future[None] | None = None
        self._position: str | None = None  # the committed events_next
        self.doubt = Doubt()
        self._pages = PageWriter(engine, account, now, self.doubt)
        #: puts a marker in the event stream (a presence update); True once it is there
        self.marker: Callable[[], Awaitable[bool]] | None = None
        self.marked = False
        self.commits = 0
        #: the store's commit and its page, of a commit() a cancellation cut short
        self._interrupted: tuple[asyncio.Future[CommitResult], Page] | None = None
        #: conversations a restart carried on (their state still in the flow)
        self.carried = 0
        #: back-off (seconds) while the store fails retryably
        self.retry, self.max_retry = 1.0, 30.0
        #: how long (real seconds) outcomes of sends alone wait for a batch's commit
        self.hold = 0.02
        self._holding: asyncio.Future[None] | None = None
        self._held: Page | None = None  # the page whose outcomes waited already
        self.journal.on_work = self._work
        self.journal.on_outcome = self._wake
        engine.campaigns.on_change = self.journal.campaign

    @property
    def committing(self) -> bool:
        """Whether a commit is under way (or waits for the one under way)."""
        return self._lock.locked()

    @property
    def flow(self) -> Flow:
        """The current version of the engine's default flow."""
        return self.engine.flow

    def _secrets_of(self, href: str) -> frozenset[str]:
        instance = self.engine.instances.get(href)
        return (instance.flow if instance is not None else self.flow).secrets

    @property
    def unsure(self) -> bool:
        """Something restored may or may not have been done before the restart (a message
        committed but perhaps not sent, an invitation the server never named)."""
        if self.doubt.pending:
            return True
        return any(
            p.conversation is None
            for href in self.engine.instances
            for p in self.engine.invitations.waiting(href)
        )

    # -- restart ------------------------------------------------------------------------------

    def restore(self, snapshot: Snapshot, *, reattached: bool) -> None:
        """Carry on from ``snapshot``: its conversations, when the application it had is
        the one the bot is attached to now (``reattached``; see
        :func:`~ucwa_flow.runtime.restore.carry_on`), and its position; its flows'
        round-robin positions and the webhooks of conversations that had ended
        (:func:`~ucwa_flow.runtime.after_end.carry_on_ended`) either way (they are about
        the agents and other services, not the application)."""
        application = snapshot.application
        self._position = application.events_next if application and reattached else None
        self.engine.bridges.rotation.restore(snapshot.rotations)
        if reattached:  # the invitations given up belong to the application
            self.engine.invitations.resume_abandoned(snapshot.abandoned)
            self.carried = carry_on(
                self.engine,
                snapshot,
                pages=self._pages,
                journal=self.journal,
                doubt=self.doubt,
                now=self._now(),
            )
        # the webhooks of conversations that ended: no UCWA conversation needed for them
        for record in snapshot.after_end:
            self._pages.held(record.conversation, held_secrets(record))
        sent = sum(carry_on_ended(self.engine, r, self.journal) for r in snapshot.after_end)
        if sent:
            log.info("%d webhook(s) of conversations that had ended sent again", sent)

    # -- event batches ------------------------------------------------------------------------

    async def handle(
        self, item: EventBatch | ConversationsLost, application: str, next_url: str | None
    ) -> None:
        """Handle one channel item and commit it with the channel's next position."""
        self._between = False
        self._release()  # this batch's commit takes the outcomes waiting
        try:
            if isinstance(item, EventBatch):
                for sent in self.doubt.recognise(item):
                    self.journal.sent(sent)
            self.engine.handle(item)
            await self.engine.drained()
            await self._commit_surely(ChannelPosition(application, next_url, self._now()))
        finally:
            self._between = True
            if self.journal.news.is_set():
                self._wake()
        doubt = self.doubt
        if doubt.restarting and isinstance(item, EventBatch):  # a loss is no batch
            doubt.since_restart += 1
            if doubt.since_restart == 1 and self.marker is not None and self.unsure:
                # after the first batch, which may be one the server built before the restart
                # and hands out again as it was (with an older marker in it, perhaps): the next
                # batch is built after this marker, so the marker in it is never an old one
                self.marked = await self.marker()
            if doubt.caught_up(item, self.marked):
                if doubt.pending:
                    log.info(
                        "sending %d message(s) not sent before the restart", len(doubt.pending)
                    )
                self.engine.sender.send(doubt.release())
                self.engine.invitations.send_unconfirmed()

    # -- commits ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Commit what timers, webhooks and sends decide between batches (until cancelled).

        It sleeps while a batch is being handled (the batch's commit takes what is
        decided meanwhile): only news between batches, or a batch ending with news
        still uncommitted, wakes it (:meth:`_wake`)."""
        journal = self.journal
        loop = asyncio.get_running_loop()
        while True:
            if not (self._between and journal.news.is_set()):
                wanted = self._wanted = loop.create_future()
                try:
                    await wanted
                finally:
                    self._wanted = None
            await asyncio.sleep(0)  # let the steps of this moment join the commit
            if not self._between:
                continue
            if not journal:
                journal.news.clear()
                continue
            if journal.outcomes_only and self._held is not journal.page and self.hold > 0:
                self._held = journal.page
                await self._wait_for_batch()
                continue
            await self._commit_surely(None)

    async def _wait_for_batch(self) -> None:
        """Until a batch is handed over, something else is decided, or :attr:`hold` passes."""
        loop = asyncio.get_running_loop()
        holding = self._holding = loop.create_future()
        timer = loop.call_later(self.hold, self._release)
        try:
            await holding
        finally:
            timer.cancel()
            self._holding = None

    def _work(self) -> None:
        """Something other than a send's outcome was decided: outcomes held for a batch
        wait no longer (:meth:`_release`), and a committer sleeping between batches wakes
        (:meth:`_wake`). Both inline: twice per step."""
        holding = self._holding
        if holding is not None and not holding.done():
            holding.set_result(None)
        wanted = self._wanted
        if wanted is not None and self._between and not wanted.done():
            wanted.set_result(None)

    def _wake(self) -> None:
        """Wake the committer (:meth:`run`) if nothing holds a batch."""
        wanted = self._wanted
        if wanted is not None and self._between and not wanted.done():
            wanted.set_result(None)

    def _release(self) -> None:
        holding = self._holding
        if holding is not None and not holding.done():
            holding.set_result(None)

    async def _commit_surely(self, position: ChannelPosition | None) -> None:
        """Commit, trying again with back-off while the store fails retryably (a locked
        file, a full disk, a database that went away): one log line each time, and
        meanwhile nothing is performed and no further batch is read, so no new
        conversation is taken without durability. Other store errors are raised."""
        delay = self.retry
        while True:
            try:
                await self.commit(position)
                if delay > self.retry:
                    log.warning("the store works again; carrying on")
                return
            except StoreError as exc:
                if not exc.retryable:
                    raise
                log.error(
                    "%s; nothing is sent or read until it works again (next try in %g s)",
                    exc,
                    delay,
                )
                await self.engine.clock.sleep(delay)
                delay = min(self.max_retry, delay * 2)

    async def settle(self, *, send: bool = False) -> None:
        """Wait for the store commit of a :meth:`commit` that a cancellation interrupted.
        With ``send`` (a graceful stop), the messages it decided are sent now; the rest of
        its work (all of it, without) waits in the store for the next start."""
        if self._interrupted is None:
            return
        (storing, page), self._interrupted = self._interrupted, None
        try:
            result = await storing
        except StoreError as exc:
            log.error("an interrupted commit failed: %s", exc)
            return
        if send and result.applied:
            self._perform(page, "sends")

    async def commit(
        self, position: ChannelPosition | None = None, *, perform: Performed = "all"
    ) -> bool:
        """Commit everything decided so far (with ``position``), then perform it: all of it,
        only its sends (``"sends"``: a graceful stop's) or nothing (``"nothing"``: after the
        engine closed); what is not performed waits in the store for the next start."""
        async with self._lock:
            page = self.journal.take()
            if not page and position is None:
                return True
            changes = self._pages.changes(page, position, self._position)
            try:
                result = self.store.commit_now(self.account, changes)
                if result is None:
                    # shielded: a stop that cancels the bot mid-commit waits for it (settle),
                    # so what it wrote (the answers to sends, say) is not lost
                    storing = asyncio.ensure_future(self.store.commit(self.account, changes))
                    try:
                        result = await asyncio.shield(storing)
                    except asyncio.CancelledError:
                        self._interrupted = storing, page  # what settle() waits for
                        raise
            except StoreError:
                self.journal.put_back(page)
                raise
            self.commits += 1
            if position is not None:
                self._position = position.events_next
            if not result.applied:
                log.warning("a batch was committed before (another process?); not performed")
                return False
            self._perform(page, perform)
            return True

    def _perform(self, page: Page, perform: Performed) -> None:
        """What a committed page decided: its sends, webhooks, invitations, accepts."""
        if perform == "nothing":
            return
        self.engine.sender.send(self.doubt.route(page.outgoing))
        if perform == "sends":
            return
        for call in page.webhooks:
            self.engine.calls.start(call)
        for op in page.invites:
            self.engine.invitations.dispatch(op)
        for href, link in page.accepts:  # new conversations after those under way
            self.engine.spawn(self.engine.answers.accept(href, link))
