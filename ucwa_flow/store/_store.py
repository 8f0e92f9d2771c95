"""The one interface the runtime and the ``transcripts`` command use: :class:`Store`.

A backend supplies three things: how to run a :data:`~ucwa_flow.store._sql.Program` in one
transaction (:meth:`Store._run`), how to open (migrating the schema) and how to close. Every
public operation is defined here once, on top of ``_run``; so the two backends cannot drift
apart in behaviour, only in how they talk to their database.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterable
from dataclasses import replace
from types import TracebackType
from typing import Literal, TypeVar

from ucwa_flow.store import _operations as ops
from ucwa_flow.store._changes import Changes, CommitResult, ConversationQuery, Pruned, Snapshot
from ucwa_flow.store._fencing import fenced
from ucwa_flow.store._records import ConversationRecord, TranscriptEntry
from ucwa_flow.store._sql import Program

__all__ = ["Store"]

T = TypeVar("T")


class Store(abc.ABC):
    """A conversation store. Open one with :func:`~ucwa_flow.store.open_store`.

    All methods may raise :class:`~ucwa_flow.store.StoreError`; see its ``retryable``.
    """

    #: ``"sqlite"`` or ``"postgres"``
    backend: Literal["sqlite", "postgres"]

    def __init__(self, target: str) -> None:
        #: the file or URL (without its password), as errors name it
        self.target = target

    # -- writes ---------------------------------------------------------------------------

    async def commit(
        self, account: str, changes: Changes, *, fence: int | None = None
    ) -> CommitResult:
        """Write ``changes`` in one transaction: all of it or (on error) none of it.

        ``fence``: the lease token of the worker writing (several workers on one
        PostgreSQL store); a token that is no longer the account's fails the write with
        :class:`~ucwa_flow.store.StoreFenced` (see :mod:`ucwa_flow.store._fencing`)."""
        return await self._write(
            account, ops.commit(account, changes, self.backend), fence, changes.rows
        )

    def commit_now(self, account: str, changes: Changes) -> CommitResult | None:
        """:meth:`commit` on the caller's thread, without waiting, when the backend can
        (a small write with nothing in its way); ``None`` when it cannot, with nothing
        written: then use :meth:`commit`. Raises like :meth:`commit`. Never fenced: a
        fenced store (:class:`~ucwa_flow.store.FencedStore`) always answers ``None``."""
        return None

    async def forget_application(
        self, account: str, reason: str, at: float, *, fence: int | None = None
    ) -> int:
        """The account's application is gone (404/410): end its active conversations with
        ``reason``, fail its pending outbox entries, finish its campaign runs under way,
        forget the application and its channel position. Returns how many conversations
        were ended. ``fence`` as for :meth:`commit`."""
        return await self._write(account, ops.forget_application(account, reason, at), fence)

    async def _write(
        self, account: str, program: Program[T], fence: int | None, rows: int | None = None
    ) -> T:
        if fence is not None:
            program = fenced(account, fence, program, self.backend)
        return await self._run(program, write=True, rows=rows)

    async def prune(self, before: float) -> Pruned:
        """Retention: delete what ended before ``before`` (epoch seconds), every account,
        and the round-robin positions of agents who have not accepted since (they count as
        never having accepted). Returns how many conversations and positions went."""
        return await self._run(ops.prune(before), write=True)

    # -- reads ----------------------------------------------------------------------------

    async def load(self, account: str) -> Snapshot:
        """What a (re)starting bot of ``account`` resumes from."""
        return await self._run(ops.load(account), write=False)

    async def conversations(
        self, query: ConversationQuery | None = None
    ) -> list[ConversationRecord]:
        """Stored conversations, active and ended, filtered by ``query``."""
        return await self._run(ops.conversations(query or ConversationQuery()), write=False)

    async def transcript(self, account: str, conversation: str) -> list[TranscriptEntry]:
        """One conversation's history, in order."""
        return await self._run(ops.transcript(account, conversation), write=False)

    async def transcript_counts(
        self, conversations: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], dict[str, int]]:
        """How many transcript entries of each kind (``{"message_in": 3, ...}``) each
        ``(account, conversation)`` has; a conversation without entries is left out."""
        return await self._run(ops.transcript_counts(tuple(conversations)), write=False)

    async def endings(
        self, conversations: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], TranscriptEntry]:
        """The last ``ended`` transcript entry of each ``(account, conversation)``: its
        ``data`` says who ended it and, when the bot did, why (``{"reason": "ended by the
        bot", "why": "stop"}``); a conversation without one is left out."""
        return await self._run(ops.endings(tuple(conversations)), write=False)

    async def export(
        self, query: ConversationQuery | None = None, *, page: int = 100
    ) -> AsyncIterator[tuple[ConversationRecord, list[TranscriptEntry]]]:
        """Every conversation ``query`` selects (ignoring its limit and offset), in its
        order, with its transcript, page by page."""
        base = query or ConversationQuery()
        offset = 0
        while True:
            batch = await self.conversations(replace(base, limit=page, offset=offset))
            for record in batch:
                yield record, await self.transcript(record.account, record.conversation)
            if len(batch) < page:
                return
            offset += page

    # -- lifetime -------------------------------------------------------------------------

    @abc.abstractmethod
    async def aclose(self) -> None:
        """Close the store (idempotent)."""

    async def __aenter__(self) -> Store:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- the backend's part ---------------------------------------------------------------

    @abc.abstractmethod
    async def _run(self, program: Program[T], *, write: bool, rows: int | None = None) -> T:
        """Run ``program`` in one transaction (a write transaction when ``write``).

        ``rows`` is about how many rows a write changes, when known: a backend whose driver
        blocks may run a small write on the caller's thread (see ``_sqlite``)."""
