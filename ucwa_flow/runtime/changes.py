"""A journal page as the store's :class:`~ucwa_flow.store.Changes`: what one commit writes.

:class:`PageWriter` turns what conversations decided (a
:class:`~ucwa_flow.runtime.journal.Page`) into records and rows: each touched
conversation's record (state, variables, pending webhooks and invites as data, its
tracked lifecycle), the work ended conversations still wait on
(:mod:`~ucwa_flow.runtime.after_end`: their webhooks, written as it changes, until none is
left), the transcript lines, the invitations turned away (an ended
conversation each), the outbox entries of what is to be sent, the outcomes of sends (one
update per send), the campaign runs changed and the round-robin positions moved (the
agent each flow's handoff was accepted by).

A variable's change is a line where it happened (the journal's); one of the flow's own
variables (in a sub-flow: its outermost caller's) that changed since the last commit with
no such line gets one at the end. A sub-flow's variables are never diffed: every change
in one is traced, its parameters at the call, so a call or a return between two commits
writes nothing twice. It remembers, per live conversation, when it was created and the
flow's own variables last committed, which is what such a line is measured against.

Messages, variable, outcome, error and ``campaign_set`` lines are cleaned of the values of
the flow's secret variables, in every scope (a sub-flow's parameter made from a caller's
secret) and as last committed (:func:`~ucwa_flow.runtime.records.without_secrets`); those
a webhook's answer writes after the conversation ended (its ``ended`` handler's) or in a
campaign's report, by the instance that called it (``Page.answered``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from ucwa_flow.lifecycle import dump_conversation
from ucwa_flow.runtime.after_end import MARK, after_end_of, resume_data
from ucwa_flow.runtime.context import same_value
from ucwa_flow.runtime.doubt import Doubt
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.journal import Journal, Page
from ucwa_flow.runtime.outbox import Sent
from ucwa_flow.runtime.records import (
    declined_record,
    invite_work,
    outbox_entry_of,
    record_of,
    without_secrets,
)
from ucwa_flow.runtime.records import secret_values as _secret_values
from ucwa_flow.runtime.webhook_calls import STABLE_KEYS
from ucwa_flow.store import (
    Abandoned,
    AfterEnd,
    CampaignRecord,
    Changes,
    ChannelPosition,
    OutboxUpdate,
    RotationRecord,
    TranscriptEntry,
    longest_first,
    scrub,
)

__all__ = ["PageWriter"]

#: the lines cleaned of the values of the flow's secret variables: those that may hold a
#: caller's text or a value the flow made (an error names a webhook's URL, `set:
#: {campaign.NAME: ...}` is a line of its own)
_CLEANED = frozenset(("message_in", "message_out", "variable", "outcome", "error", "campaign_set"))
_NONE = object()  # no variable line in the page


class PageWriter:
    """Builds the :class:`Changes` of each commit of ``account`` (see the module docstring)."""

    def __init__(
        self, engine: Engine, account: str, now: Callable[[], float], doubt: Doubt
    ) -> None:
        self.engine = engine
        self.account = account
        self._now = now
        self._doubt = doubt
        self._created: dict[str, float] = {}
        #: per conversation, the instance whose variables were last committed, and them
        self._committed_vars: dict[str, tuple[FlowInstance | None, dict[str, Any]]] = {}
        #: per conversation of a flow with secrets, every secret text it has held since this
        #: bot started (one set, used and cleared still blanks out what was made from it)
        self._secret_texts: dict[str, list[str]] = {}

    @property
    def _journal(self) -> Journal:
        journal = self.engine.journal
        assert journal is not None
        return journal

    def restored(
        self,
        href: str,
        created_at: float,
        variables: Mapping[str, Any],
        instance: FlowInstance,
    ) -> None:
        """``href`` came back from the store with these variables (the flow's own: in a
        sub-flow, its outermost caller's), committed, carried on by ``instance``."""
        self._created[href] = created_at
        self._committed_vars[href] = (instance, dict(variables))

    def held(self, href: str, texts: list[str]) -> None:
        """Ended ``href`` came back from the store waiting on webhooks, and had held these
        secret texts (:func:`~ucwa_flow.runtime.after_end.held_secrets`): its answers'
        lines are cleaned of them."""
        if texts:
            self._secret_texts[href] = longest_first(texts)

    def changes(
        self, page: Page, position: ChannelPosition | None, committed: str | None
    ) -> Changes:
        """``page`` as the store's :class:`Changes` (with ``position``, to be written only
        after the ``committed`` one: see :class:`~ucwa_flow.store.Changes`)."""
        now, account, engine = self._now(), self.account, self.engine
        campaigns, calls, invitations = engine.campaigns, engine.calls, engine.invitations
        journal, tracked = self._journal, self._tracked
        committed_vars, created_at = self._committed_vars, self._created
        offset = now - engine.clock.monotonic()  # monotonic deadline -> epoch seconds
        records = []
        later: list[AfterEnd] = []  # the work of ended conversations, as it now stands
        secret_values: dict[str, list[str]] = {}  # by conversation, once per commit
        held = self._secret_texts
        set_on_page: dict[str, list[dict[str, Any]]] | None = None  # variable lines, by href

        def values(href: str) -> list[str]:
            nonlocal set_on_page
            found = secret_values.get(href)
            if found is None:
                owner = _owner(page, href)
                last = committed_vars.get(href)
                before: tuple[Mapping[str, Any], ...] = (
                    (last[1],) if last is not None and last[0] is owner else ()
                )
                if owner is not None and owner.flow.secrets:
                    # what a secret held during the page counts too (set, used, cleared)
                    if set_on_page is None:
                        set_on_page = _variable_lines(page)
                    before = (*before, *set_on_page.get(href, ()))
                found = _secret_values(owner, *before)
                if found or href in held:
                    found = held[href] = longest_first({*held.get(href, ()), *found})
                secret_values[href] = found
            return found

        lines = [
            TranscriptEntry(
                account,
                line.conversation,
                line.at,
                line.kind,
                without_secrets(line.data, values(line.conversation))
                if line.kind in _CLEANED
                else line.data,
                key=line.key,
            )
            for line in page.lines
        ]
        shown = page.shown
        for href, instance in page.touched.items():
            flow = instance.flow
            # the flow's own variables (a sub-flow's, and the changes made in it, are
            # lines where they happened): the changes no line shows yet
            frames = instance.calls.frames
            variables = frames[0].variables if frames else instance.variables
            if variables:
                # a new conversation (or one invited again into the same href, which
                # replaced the instance): measured against the defaults
                last = committed_vars.get(href)
                before = last[1] if last is not None and last[0] is instance else flow.variables
                for name, value in variables.items():
                    if name not in before or not same_value(before[name], value):
                        if shown and same_value(shown.get((href, name), _NONE), value):
                            continue  # its line is where it was set
                        data = without_secrets({"name": name, "value": value}, values(href))
                        lines.append(TranscriptEntry(account, href, now, "variable", data))
            created = created_at.setdefault(href, now)
            waiting_on, opened = invitations.waiting(href), invitations.sides(href)
            invites = (
                [
                    invite_work(p, due=offset + p.deadline, tracked=tracked(p.conversation))
                    for p in waiting_on
                ]
                if waiting_on
                else []
            )
            sides = [side for side in map(tracked, opened) if side is not None] if opened else []
            extra: dict[str, Any] = {
                "sides": sides,
                "opening": engine.answers.opening(href),
                "bridge": engine.bridges.to_data(href, tracked),
            }
            if (run := campaigns.of(href)) is not None:
                extra["campaign"] = run.id
            ended = instance.ended
            waiting = calls.pending(href)
            texts = values(href) if ended and flow.secrets else []
            if ended and waiting:  # what its webhooks' answers run needs (after_end)
                extra[MARK] = resume_data(instance, texts)
            record = record_of(
                instance,
                account=account,
                version=flow.digest,
                secrets=flow.secrets,
                created_at=created,
                now=now,
                webhooks=waiting,
                invites=invites,
                extra=extra,
                ended_in=journal.ended_in.pop(href, None) if ended else None,
            )
            if texts:
                # what the ended record keeps: no secret by value, whenever it was held, in
                # its variables, the caller's first message and the requests of the
                # invitations it started; the webhooks still waited on keep
                # theirs, sent again after a restart, until they answered (after_end)
                kept = {
                    k: v if k in flow.secrets else scrub(v, texts)
                    for k, v in record.variables.items()
                }
                pending = tuple(
                    w if w.kind == "webhook" else replace(w, payload=scrub(w.payload, texts))
                    for w in record.pending
                )
                record = replace(
                    record, variables=kept, pending=pending, extra=_first_text(record.extra, texts)
                )
            records.append(record)
            if ended and (waiting or href in page.answered):
                later.append(after_end_of(instance, waiting, now, texts))
            if ended:
                created_at.pop(href, None)
                if not waiting:  # its webhooks' answers' lines are cleaned of them too
                    held.pop(href, None)
                if engine.instances.get(href) is instance:
                    # ended by the flow: the server's end touches it again, which must
                    # not write its variables again
                    committed_vars[href] = (instance, copy.deepcopy(variables) if variables else {})
                else:
                    committed_vars.pop(href, None)
            else:
                committed_vars[href] = (instance, copy.deepcopy(variables) if variables else {})
        for href, instance in page.answered.items():
            if href not in page.touched and engine.instances.get(href) is not instance:
                # followed no more (ended, a report): kept while a webhook is waited on
                waiting = calls.pending(href)
                texts = held.get(href, []) if waiting else held.pop(href, [])
                if instance.ended and not href.startswith(STABLE_KEYS):
                    later.append(after_end_of(instance, waiting, now, texts))
        for at, declined in page.declines:
            href = declined.conversation
            if href not in page.touched and href not in engine.instances:
                # a conversation the bot follows keeps its record: the line is enough
                records.append(declined_record(declined, account=account, at=at))
        return Changes(
            position=position,
            after=committed if position is not None else None,
            conversations=tuple(records),
            outbox=tuple(outbox_entry_of(o, account=account, now=now) for o in page.outgoing),
            sent=self._updates(page.outcomes, now),
            transcript=tuple(lines),
            campaigns=tuple(
                CampaignRecord(
                    account,
                    run.id,
                    run.flow,
                    run.to_data(),
                    now,
                    now,
                    "finished" if run.closed else "active",
                )
                for run in page.campaigns.values()
            ),
            rotations=tuple(
                RotationRecord(account, flow, agent, turn, now)
                for (flow, agent), turn in page.rotations.items()
            ),
            after_end=tuple(later),
            abandoned=tuple(Abandoned(op, at) for op, at in page.abandoned.items()),
        )

    def _updates(self, outcomes: list[Sent], now: float) -> tuple[OutboxUpdate, ...]:
        """One update per send: its answer and its message event (see ``Doubt``) often
        come in the same page; that it went out beats that its request failed."""
        updates: dict[str, OutboxUpdate] = {}
        for result in outcomes:
            self._doubt.answered(result)
            update = _outcome(result, now)
            key = update.operation_context
            if key not in updates or update.status == "sent":
                updates[key] = update
        return tuple(updates.values())

    def _tracked(self, href: str | None) -> dict[str, Any] | None:
        conv = self.engine.tracker.get(href) if href is not None else None
        return dump_conversation(conv) if conv is not None else None


def _outcome(result: Sent, now: float) -> OutboxUpdate:
    if result.ok:
        return OutboxUpdate(result.item.operation_context, "sent", now)
    return OutboxUpdate(result.item.operation_context, "failed", now, str(result.error))


def _first_text(extra: Mapping[str, Any], texts: list[str]) -> Mapping[str, Any]:
    """An ended record's runtime data with the secret ``texts`` blanked out of the caller's
    first message (the tracked conversation's ``first_text``), and nothing else of it: an
    href, or a state's name, is no secret, and must stay what it is."""
    conv = extra.get("conversation")
    first = conv.get("first_text") if isinstance(conv, Mapping) else None
    if not isinstance(first, str) or (clean := scrub(first, texts)) == first:
        return extra
    assert isinstance(conv, Mapping)
    return {**extra, "conversation": {**conv, "first_text": clean}}


def _owner(page: Page, href: str) -> FlowInstance | None:
    """The instance whose secrets conversation ``href``'s messages keep out: its own, else
    the caller's for a handoff's agent, else the one whose webhook answered after it ended
    (its ``ended`` handler's)."""
    return page.touched.get(href) or page.owners.get(href) or page.answered.get(href)


def _variable_lines(page: Page) -> dict[str, list[dict[str, Any]]]:
    """Each variable line of ``page`` as a one-name scope, by conversation."""
    found: dict[str, list[dict[str, Any]]] = {}
    for line in page.lines:
        if line.kind == "variable" and "name" in line.data:
            found.setdefault(line.conversation, []).append(
                {line.data["name"]: line.data.get("value")}
            )
    return found
