"""The live picture of running engines, kept from their trace records: :class:`LiveBoard`.

The board is a :data:`~ucwa_flow.runtime.trace.TraceSink`, called synchronously by the
engine for every record, so each call is a handful of dictionary operations: the record's
conversation is found (or opened), what changed is applied to running counts (never
recomputed), a step is appended to a bounded list, and a sequence number is bumped. The
JSON is built only when someone asks (:meth:`LiveBoard.snapshot`, cached per sequence
number); readers of :meth:`LiveBoard.changes` are woken through futures, never by polling.

**Which flow a conversation runs.** Trace records do not say; as the metrics sink does
(:mod:`ucwa_flow.observe._traces`), the board asks a *lookup* (conversation href -> the
engine's live :class:`~ucwa_flow.runtime.instance.FlowInstance`, or ``None``) and keeps the
answer for the conversation's life: the engine forgets a conversation before its last
records (``Ended``, what its ``ended`` handler does). The instance also gives the flow's
version, the caller and the secret variables whose values are blanked from steps. The
lookup is asked until it knows the conversation, then no more (a dictionary lookup saved
per record); after a bot's restart, :meth:`sweep` makes the board ask again, so the new
engine's instance of a conversation carried on is adopted. Without a lookup the flow is
unknown and only lifecycle counts are kept.

**One board, several engines.** ``board(record)`` is the sink of the engine
:meth:`attach` named (or of none); :meth:`sink` gives the sink of one account of a
``serve`` process, with its own lookup. Conversations are told apart by (account, href).

**What counts as active.** A conversation opens on its invitation's decision, its first
lifecycle move, or any record of a conversation the lookup knows; it stays active until
its ``Ended`` record, its invitation is declined or shed (``busy``), or, for one that never
ran a flow, its conversation lifecycle reaches Disconnected. A bot that starts again (a
``serve`` account signing in again) may not carry on every conversation: :meth:`sweep`
ends those its new engine does not have (``serve`` also sweeps an account it stops serving:
another worker took it over). A swept conversation that a later engine runs after all is
active again at its next record. Records of the outbound
actions that run when no conversation could be started (``outbound:<uri>``) are left out.

**Memory** is bounded three ways: at most ``max_steps`` steps per conversation (the
oldest go), at most ``max_conversations`` active ones (beyond it the oldest is forgotten)
plus ``recent`` ended ones, and at most ``step_budget`` steps in all (beyond it ended
conversations lose their steps first, then the oldest active ones their older half).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

from ucwa_flow._display import iso, short_id
from ucwa_flow.live._counts import Counts
from ucwa_flow.live._entry import Entry
from ucwa_flow.live._signal import Signal
from ucwa_flow.live._steps import Steps
from ucwa_flow.runtime import trace as t

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["LiveBoard", "Lookup"]

#: conversation href -> the engine's live flow instance of it, or ``None``
Lookup = Callable[[str], "FlowInstance | None"]

_NEW = "(new)"  # FlowMachine.NEW: accepted, not connected yet
_OVER = ("Disconnecting", "Disconnected")
_KEY = tuple[str | None, str]


class _HasInstances(Protocol):
    @property
    def instances(self) -> Mapping[str, FlowInstance]: ...

    def secrets_owner(self, href: str) -> FlowInstance | None: ...


class LiveBoard:
    """The running picture of one or more engines (see the module docstring); it
    implements :class:`~ucwa_flow.live.LiveSource`.

    ``max_steps`` steps are kept per conversation, ``recent`` ended conversations,
    ``max_conversations`` active ones and ``step_budget`` steps in all; the snapshot lists
    the newest ``max_listed`` active conversations (all are counted). :meth:`changes`
    yields at most ``rate`` snapshots a second to each reader. ``now`` is the wall clock
    (epoch seconds) that stamps steps.
    """

    def __init__(
        self,
        *,
        max_steps: int = 500,
        recent: int = 100,
        max_conversations: int = 50_000,
        step_budget: int = 250_000,
        max_listed: int = 1_000,
        rate: float = 10.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._recent = recent
        self._max_active = max_conversations
        self._max_listed = max_listed
        self._interval = 1.0 / rate
        self._now = now
        self._lookups: dict[str | None, Lookup | None] = {}
        #: the instance whose secrets a conversation without one of its own keeps out
        self._owners: dict[str | None, Lookup] = {}
        self._active: dict[_KEY, Entry] = {}  # in the order they opened
        self._ended: dict[_KEY, Entry] = {}  # in the order they ended
        self._ids: dict[str, Entry] = {}
        self._steps = Steps(max_steps, step_budget, self._by_age)
        self._counts = Counts()
        self._signal = Signal()
        self._cache: tuple[int, dict[str, Any]] | None = None
        self._handlers: dict[type[t.Trace], Callable[[Entry, Any, float], None]] = {
            t.InvitationDecided: self._invitation,
            t.LifecycleChanged: self._lifecycle,
            t.StateEntered: self._entered,
            t.MessageIn: self._message_in,
            t.MessageOut: self._message_out,
            t.HandlerMatched: self._matched,
            t.NoMatch: self._no_match,
            t.TimeoutFired: self._timeout,
            t.ActionDone: self._action,
            t.OutcomeReceived: self._outcome,
            t.FlowError: self._error,
            t.VersionChanged: self._version,
            t.Ended: self._ended_record,
        }

    # -- feeding ----------------------------------------------------------------------------

    def attach(self, engine: _HasInstances | Lookup, account: str | None = None) -> None:
        """Resolve the conversations of ``account`` (``None``: the records given to
        ``board(record)``) through ``engine``: an engine (its ``instances``) or a lookup."""
        if callable(engine):
            self._lookups[account] = engine
        else:
            instances = engine.instances
            self._lookups[account] = lambda href: instances.get(href)
            self._owners[account] = engine.secrets_owner

    def sink(
        self, account: str | None, lookup: Lookup | None = None, owner: Lookup | None = None
    ) -> t.TraceSink:
        """The trace sink of ``account``'s engine; ``lookup`` resolves its conversations,
        ``owner`` whose secrets one without a flow of its own keeps out (a handoff's agent)."""
        if lookup is not None:
            self._lookups[account] = lookup
        if owner is not None:
            self._owners[account] = owner

        def take(record: t.Trace) -> None:
            self._take(account, record)

        return take

    def sweep(self, account: str | None, alive: Collection[str], reason: str) -> int:
        """End ``account``'s active conversations whose href is not in ``alive``: they are
        gone without an ``Ended`` record (a bot restarted and did not carry them on, its
        application having ended meanwhile). The others are resolved again through the
        lookup at their next record (the new engine has new instances). Returns how many
        ended."""
        gone = []
        for key, entry in self._active.items():
            if key[0] == account:
                entry.instance = entry.owner = None  # the new engine's: at the next record
                if key[1] not in alive:
                    gone.append(entry)
        now = self._now()
        for entry in gone:
            entry.listed = None
            self._steps.add(entry, now, "ended", reason)
            self._finish(entry, reason, now)
        if gone:
            self._changed()
        return len(gone)

    def carried(self, account: str | None, instances: Mapping[str, FlowInstance]) -> int:
        """List ``account``'s conversations a bot carried on from its store (a restart, a
        takeover from another worker): they emit no record until their next step, and were
        missing from the picture (and the counts) until then. Listed from now on, in their
        flow state and lifecycle states; one the board still lists as active is shown as
        the store has it (the board may have seen a later step that was never committed,
        or another worker may have moved it on since). Returns how many were added."""
        added = 0
        now = self._now()
        for href, instance in instances.items():
            key = (account, href)
            if instance.ended or href.startswith("outbound:"):
                continue
            entry = self._active.get(key)
            if entry is not None:
                self._adopt(entry, instance)
            else:
                added += 1
                entry = self._ended.get(key)
                if entry is not None:
                    self._reopen(entry, instance)
                else:
                    entry = self._open(key, now)
                    self._adopt(entry, instance)
            self._counts.add(entry, -1)
            entry.lifecycle = str(instance.conv.lifecycle.state)
            entry.messaging = str(instance.conv.messaging.state)
            self._counts.add(entry, +1)
            entry.updated_at = now
            entry.listed = None
        if instances:
            self._changed()
        return added

    def __call__(self, record: t.Trace) -> None:
        self._take(None, record)

    def _take(self, account: str | None, record: t.Trace) -> None:
        handler = self._handlers.get(type(record))
        if handler is None:
            return
        href = record.conversation
        if not href or href.startswith("outbound:"):
            return
        key = (account, href)
        now = self._now()
        entry = self._active.get(key)
        if entry is None:
            entry = self._ended.get(key)
            instance = self._instance(account, href)
            if entry is None:
                if not self._opens(record, instance):
                    return
                entry = self._open(key, now)
                if instance is not None:
                    self._adopt(entry, instance)
            elif instance is not None and instance is not entry.instance and not instance.ended:
                self._reopen(entry, instance)  # swept, yet carried on after all
        elif entry.instance is None:  # not known yet, or known before a restart
            instance = self._instance(account, href)
            if instance is not None:
                self._adopt(entry, instance)
            elif entry.owner is None and (owner := self._owners.get(account)) is not None:
                entry.owner = owner(href)  # a handoff's agent: the caller's secrets
        entry.updated_at = now
        entry.listed = None
        handler(entry, record, now)
        self._changed()

    def _instance(self, account: str | None, href: str) -> FlowInstance | None:
        lookup = self._lookups.get(account)
        return lookup(href) if lookup is not None else None

    @staticmethod
    def _opens(record: t.Trace, instance: FlowInstance | None) -> bool:
        if isinstance(record, t.InvitationDecided):
            return True
        if isinstance(record, t.LifecycleChanged):
            return record.new not in _OVER
        return instance is not None and not instance.ended

    def _open(self, key: _KEY, now: float) -> Entry:
        href = key[1]
        short = short_id(href)
        id, n = short, 1
        while id in self._ids:
            n += 1
            id = f"{short}~{n}"
        entry = self._ids[id] = self._active[key] = Entry(key, id, now)
        while len(self._active) > self._max_active:
            self._drop(next(iter(self._active.values())))
        return entry

    def _adopt(self, entry: Entry, instance: FlowInstance) -> None:
        self._counts.add(entry, -1)
        entry.instance = instance
        entry.flow = instance.flow_name
        entry.version = instance.flow.digest[:8]
        entry.caller = entry.caller or instance.caller_uri
        if instance.state != _NEW and not instance.ended:
            entry.state = instance.state
        self._counts.know(entry.flow)
        self._counts.add(entry, +1)

    # -- counts -----------------------------------------------------------------------------

    def _by_age(self) -> Iterable[Entry]:
        """Ended conversations, then active ones, the oldest first (who loses steps)."""
        return (*self._ended.values(), *self._active.values())

    def _finish(self, entry: Entry, reason: str, now: float) -> None:
        if entry.ended is not None:
            return
        self._counts.add(entry, -1)
        entry.ended, entry.ended_at = reason, now  # its instance is kept: the records
        # its ``ended`` handler emits after this one are cleaned of its secrets too
        del self._active[entry.key]
        self._ended[entry.key] = entry
        while len(self._ended) > self._recent:
            self._drop(next(iter(self._ended.values())))

    def _reopen(self, entry: Entry, instance: FlowInstance) -> None:
        del self._ended[entry.key]
        self._active[entry.key] = entry
        self._adopt(entry, instance)  # counts nothing while it is ended
        entry.ended = entry.ended_at = None
        self._counts.add(entry, +1)

    def _drop(self, entry: Entry) -> None:
        """Forget ``entry`` altogether (the oldest beyond a bound)."""
        self._counts.add(entry, -1)
        self._active.pop(entry.key, None)
        self._ended.pop(entry.key, None)
        self._ids.pop(entry.id, None)
        self._steps.forget(entry)

    # -- steps ------------------------------------------------------------------------------

    # -- per record type --------------------------------------------------------------------

    def _invitation(self, entry: Entry, record: t.InvitationDecided, now: float) -> None:
        entry.caller = record.caller or entry.caller
        line = record.location.line if record.location is not None else None
        self._steps.add(entry, now, "action", f"invitation: {record.decision}", line)
        if record.decision != "accept":
            reason = "declined" if record.decision == "decline" else "busy: too many conversations"
            self._finish(entry, reason, now)

    def _lifecycle(self, entry: Entry, record: t.LifecycleChanged, now: float) -> None:
        self._counts.add(entry, -1)
        if record.kind == "conversation":
            entry.lifecycle = record.new
        elif record.kind == "messaging":
            entry.messaging = record.new
        self._counts.add(entry, +1)
        text = f"{record.old} -> {record.new}"
        self._steps.add(entry, now, "lifecycle", text, machine=record.kind)
        if record.kind == "conversation" and record.new == "Disconnected" and entry.flow is None:
            self._finish(entry, "disconnected", now)

    def _entered(self, entry: Entry, record: t.StateEntered, now: float) -> None:
        self._counts.add(entry, -1)
        entry.state = record.state
        self._counts.add(entry, +1)
        self._steps.add(entry, now, "enter", previous=record.previous)

    def _message_in(self, entry: Entry, record: t.MessageIn, now: float) -> None:
        self._steps.add(entry, now, "in", entry.clean(record.text))

    def _message_out(self, entry: Entry, record: t.MessageOut, now: float) -> None:
        self._steps.add(entry, now, "out", entry.clean(record.text))

    def _matched(self, entry: Entry, record: t.HandlerMatched, now: float) -> None:
        instance = entry.instance
        if instance is not None and instance.flow.secrets & record.captures.keys():
            entry.redact_last_in()
        label = f"command {record.command}" if record.command else f"{record.kind} handler"
        self._steps.add(entry, now, "match", label, record.location.line)

    def _no_match(self, entry: Entry, record: t.NoMatch, now: float) -> None:
        self._steps.add(entry, now, "nomatch", f"no match #{record.miss}")

    def _timeout(self, entry: Entry, record: t.TimeoutFired, now: float) -> None:
        line = record.location.line if record.location is not None else None
        self._steps.add(entry, now, "timeout", f"{record.after:g}s of silence", line)

    def _action(self, entry: Entry, record: t.ActionDone, now: float) -> None:
        if record.action == "say":
            return  # its message is the step
        text = f"{record.action} {entry.clean(record.detail)}" if record.detail else record.action
        self._steps.add(entry, now, "action", text, record.location.line)

    def _outcome(self, entry: Entry, record: t.OutcomeReceived, now: float) -> None:
        text = f"{record.action}: {record.branch}"
        self._steps.add(entry, now, "action", text, record.location.line)

    def _error(self, entry: Entry, record: t.FlowError, now: float) -> None:
        line = record.location.line if record.location is not None else None
        self._steps.add(entry, now, "error", entry.clean(record.message), line)

    def _version(self, entry: Entry, record: t.VersionChanged, now: float) -> None:
        entry.version = record.new[:8]
        self._steps.add(entry, now, "action", f"now runs version {record.new[:8]} of {record.flow}")

    def _ended_record(self, entry: Entry, record: t.Ended, now: float) -> None:
        reason = f"ended by the {record.by}"
        self._steps.add(entry, now, "ended", reason)
        self._finish(entry, reason, now)

    # -- reading ----------------------------------------------------------------------------

    def _changed(self) -> None:
        self._signal.bump()

    @property
    def seq(self) -> int:
        """Grows with every change."""
        return self._signal.seq

    def snapshot(self) -> dict[str, Any]:
        """The picture now (:mod:`ucwa_flow.live._source` shows its shape); the same
        object until the next change, so callers must not modify it."""
        cached = self._cache
        seq = self._signal.seq
        if cached is not None and cached[0] == seq:
            return cached[1]
        newest = islice(reversed(self._active.values()), self._max_listed)
        conversations = [entry.summary() for entry in newest]
        conversations += [entry.summary() for entry in reversed(self._ended.values())]
        body = {
            "seq": seq,
            "at": iso(self._now()),
            "active": len(self._active),
            "flows": self._counts.flows(),
            "lifecycle": self._counts.lifecycle(),
            "conversations": conversations,
        }
        self._cache = (seq, body)
        return body

    def conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """One conversation of the snapshot's list with its steps, or ``None``."""
        entry = self._ids.get(conversation_id)
        return entry.detail() if entry is not None else None

    async def changes(self) -> AsyncIterator[dict[str, Any]]:
        """A snapshot at once, then one after each change, at most ``rate`` a second."""
        seen = -1
        while True:
            await self._signal.past(seen)
            body = self.snapshot()
            seen = body["seq"]
            yield body
            await asyncio.sleep(self._interval)

    @property
    def waiting(self) -> int:
        """Readers of :meth:`changes` waiting for a change now (to check none is left)."""
        return self._signal.waiting
