"""Incoming invitations: which flow answers, whether it accepts, and shedding load.

:class:`Answering` is the part of the engine that answers invitations. For each one:

1. **routing**: the engine's :class:`~ucwa_flow.runtime.routing.Catalog` picks the flow
   from the caller's URI, the subject and the first message;
2. **the flow's invitation policy** (its own rules) accepts or declines it;
3. **limits** (:class:`~ucwa_flow.runtime.limits.Limits`): an invitation the flow would
   accept while the account is full is *shed* (a
   :class:`~ucwa_flow.runtime.trace.InvitationDecided` with decision ``busy``, and
   :attr:`Answering.shed` counts it): declined with the busy message, or left ringing;
4. an accepted one becomes a :class:`~ucwa_flow.runtime.instance.FlowInstance` of that
   flow; it starts once messaging is connected (:meth:`Answering.opened` says how).

Priority. Conversations already under way come first:

* the invitations of an event batch are answered only after every other input of the batch
  has been posted to its conversation's mailbox (:meth:`received` holds them back,
  :meth:`flush` posts them), so the steps of callers already talking start first;
* the accept request goes after the requests those steps decided: a bot without a store
  lets them start first; a durable bot journals the accept like any other effect, commits
  the batch without waiting for it, then sends the batch's messages and only then the
  accepts (the accept link is kept with the conversation, and a restart accepts again an
  invitation whose accept was committed but perhaps not sent);
* a decline with a message (the flow's, or the busy message) accepts the invitation only to
  say it and leave: those three requests run as background tasks that wait their turn
  (:class:`~ucwa_flow.runtime.turns.Turns`): at most :data:`BUSY_AT_ONCE` at a time, each
  request once the conversations under way have nothing pending (or after
  :data:`YIELD_AT_MOST` seconds). They never count as conversations, and run no flow
  instance. Nothing waits for them: not the mailboxes, not a durable bot's commit of the
  batch.

A durable bot keeps every invitation it turned away (declined, with or without a message,
or shed: one for each ``decline`` or ``busy`` of the invitation metric): the journal gets a
:class:`~ucwa_flow.runtime.journal.Declined`, committed with the batch as an ended
conversation of its own (who, when, which flow and rule or ``busy``, the farewell said).

The count of invitations being answered (:attr:`Answering.answering`) holds the accepted
conversations that are not connected yet: from the accept request to the connection (or
the end, or a failed accept).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from functools import partial
from operator import attrgetter
from typing import TYPE_CHECKING

import httpx

from ucwa_flow.errors import OperationalError, UcwaFlowError
from ucwa_flow.flow import Location
from ucwa_flow.lifecycle import InvitationReceived
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.farewell import render_farewell, say_farewell
from ucwa_flow.runtime.journal import Declined
from ucwa_flow.runtime.limits import Limits
from ucwa_flow.runtime.turns import Turns
from ucwa_flow.store import scrub, secret_texts

if TYPE_CHECKING:
    from ucwa_flow.flow import Flow
    from ucwa_flow.runtime.engine import Engine
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["BUSY_AT_ONCE", "YIELD_AT_MOST", "Answering"]

log = logging.getLogger("ucwa_flow.runtime")

_ENDED = attrgetter("ended")

#: declines with a message (accept, say, leave) under way at once
BUSY_AT_ONCE = 2
#: how long one of their requests waits for the conversations under way to pause (seconds)
YIELD_AT_MOST = 0.5


class Answering:
    """The invitations of one engine (see the module docstring)."""

    def __init__(self, engine: Engine, limits: Limits) -> None:
        self._engine = engine
        self.limits = limits
        #: invitations shed since the start
        self.shed = 0
        #: accepted conversations not connected yet (by href)
        self.answering: set[str] = set()
        #: invitations of the batch being handled, answered at :meth:`flush` (read outside)
        self.held: list[InvitationReceived] = []
        self._first_text: dict[str, str] = {}
        self._start_state: dict[str, str] = {}
        self._farewells: dict[str, str] = {}  # declined with a message: said once connected
        self._links: dict[str, str] = {}  # accept links of the conversations being answered
        #: the turns of the declines with a message (see the module docstring)
        self.turns = Turns(engine.replying, at_once=BUSY_AT_ONCE, at_most=YIELD_AT_MOST)

    # -- a batch's invitations, after its other inputs ------------------------------------------

    def received(self, change: InvitationReceived) -> None:
        """An invitation arrived: answered at the next :meth:`flush`."""
        self.held.append(change)

    def flush(self) -> None:
        """Post the held invitations to their conversations' mailboxes."""
        if not self.held:
            return
        held, self.held = self.held, []
        for change in held:
            self._engine.post(change.conversation, partial(self.answer, change))

    # -- answering --------------------------------------------------------------------------------

    async def answer(self, change: InvitationReceived) -> None:
        """Route ``change``, apply the flow's policy and the limits, accept or decline."""
        engine = self._engine
        conv = engine.tracker.get(change.conversation)
        if conv is None or engine.closing:
            return
        href = conv.href
        name = engine.catalog.choose(change.from_uri, change.subject, change.text)
        flow = engine.catalog.get(name)
        policy = flow.invitation
        rule = policy.decide(change.from_uri or "", change.subject or "", engine.clock.now())
        decision = rule.action if rule is not None else policy.default
        if decision == "accept" and self.full():
            await self._shed(change, name, flow)
            return
        location = rule.location if rule else policy.location
        self._decided(change, decision, location)
        if decision == "decline":
            message = rule.message if rule is not None else policy.decline_message
            farewell = render_farewell(engine, flow, message, change) if message else None
            if engine.journal is not None:
                by = "rule" if rule is not None else "default"
                self._keep(change, name, flow, "decline", by, location, farewell)
            await self._decline(change, farewell)
            return
        instance = engine.versions.instance(
            engine, name, conv, change.from_uri, change.from_name, flow
        )
        previous = engine.instances.get(href)
        if previous is not None:  # invited again into a conversation we still follow
            previous.close()
        engine.instances[href] = instance
        if rule is not None and rule.goto:
            self._start_state[href] = rule.goto
        if change.text and flow.settings.first_message == "handle":
            self._first_text[href] = change.text
        if change.accept_href:
            self.answering.add(href)
            self._links[href] = change.accept_href
            if engine.journal is not None:  # once the batch is committed, after its sends
                engine.journal.accept(href, change.accept_href)
                return
            await asyncio.sleep(0)  # the requests the batch's other steps decided go first
            await self.accept(href, change.accept_href)

    async def accept(self, href: str, link: str, *, again: bool = False) -> None:
        """Accept the invitation to ``href`` (``link``); ``again`` after a restart, when it
        may have been accepted already (a failure is then only logged)."""
        if href not in self._links:
            return  # ended meanwhile
        if again:
            try:
                await self._engine.port.accept(link)
            except (UcwaFlowError, httpx.HTTPError) as exc:
                log.info("%s: accepting again after the restart: %s", href, exc)
            return
        if not await self._accept(href, link):
            self.answering.discard(href)

    def start_outbound(self, name: str, invitee: str | Sequence[str] | None) -> str | None:
        """Invite ``invitee`` (or several; ``None``: its ``outbound.to``) to a conversation
        running flow ``name``, as its ``outbound`` section says; a campaign flow starts a
        campaign run, whose id is returned. ``KeyError``: an unknown flow; ``ValueError``:
        one without ``outbound``; :class:`~ucwa_flow.errors.OperationalError`: the limits
        are reached (they bind outbound starts as they bind invitations)."""
        engine = self._engine
        if engine.catalog.get(name).outbound is None:
            raise ValueError(f"flow {name} has no outbound section: it cannot start conversations")
        if self.full():
            raise OperationalError("the account is at its conversation limits: try again later")
        people = (invitee,) if isinstance(invitee, str) else invitee
        return engine.invitations.start_outbound(name, people)

    def full(self) -> bool:
        """Whether a new conversation now would go past the limits."""
        limits = self.limits
        if limits.max_conversations is None and limits.max_answering is None:
            return False
        instances = self._engine.instances
        live = len(instances) - sum(map(_ENDED, instances.values()))  # once per invitation
        return limits.full(live, len(self.answering))

    async def _shed(self, change: InvitationReceived, name: str, flow: Flow) -> None:
        self.shed += 1
        self._decided(change, "busy", None)
        ring = self.limits.when_full == "ring"
        farewell = None if ring else self.limits.busy_message or None
        if self._engine.journal is not None:
            self._keep(change, name, flow, "busy", "limits", None, farewell, ringing=ring)
        if ring:
            return  # followed until it ends: answered elsewhere, or the caller gives up
        await self._decline(change, farewell)

    def _keep(
        self,
        change: InvitationReceived,
        name: str,
        flow: Flow,
        decision: str,
        by: str,
        location: Location | None,
        farewell: str | None,
        *,
        ringing: bool = False,
    ) -> None:
        """A durable bot's journal keeps the invitation turned away (see the module)."""
        journal = self._engine.journal
        assert journal is not None
        said = farewell if farewell and change.accept_href else None  # as _decline does
        if said and flow.secrets:  # rendered with the flow's defaults: a secret's, too
            said = scrub(said, secret_texts((flow.variables,), flow.secrets))
        journal.declined(
            Declined(
                conversation=change.conversation,
                caller_uri=change.from_uri,
                caller_name=change.from_name,
                flow=name,
                version=flow.digest,
                secrets=flow.secrets,
                decision=decision,
                by=by,
                location=str(location) if location is not None else None,
                farewell=said,
                ringing=ringing,
            )
        )

    def _decided(
        self, change: InvitationReceived, decision: str, location: Location | None
    ) -> None:
        engine = self._engine
        engine.emit(
            t.InvitationDecided(
                at=engine.clock.monotonic(),
                conversation=change.conversation,
                caller=change.from_uri,
                decision=decision,
                location=location,
            )
        )

    async def _decline(self, change: InvitationReceived, farewell: str | None) -> None:
        """Decline ``change``; with a ``farewell``, accept it to say that, then leave
        (UCWA's decline carries no text; see ``docs/flow-language.md``)."""
        engine, href = self._engine, change.conversation
        if farewell and change.accept_href:
            self._farewells[href] = farewell
            engine.spawn(self._accept_to_say(href, change.accept_href))
            return
        if change.decline_href:
            await engine.safely(engine.port.decline(change.decline_href), href)
        engine.tracker.forget(href)

    async def _accept(self, href: str, link: str) -> bool:
        engine = self._engine
        try:
            await engine.port.accept(link)
        except (UcwaFlowError, httpx.HTTPError) as exc:
            log.warning("%s: %s", href, exc)
            engine.emit(
                t.FlowError(
                    at=engine.clock.monotonic(), conversation=href, message=str(exc), location=None
                )
            )
            return False
        return True

    async def _accept_to_say(self, href: str, link: str) -> None:
        async with self.turns.slot():
            await self.turns.turn()
            if href in self._farewells:  # not given up meanwhile
                await self._accept(href, link)

    async def _say(self, href: str, text: str) -> None:
        async with self.turns.slot():
            await say_farewell(self._engine, href, text, self.turns.turn)

    # -- connected, ended -------------------------------------------------------------------------

    def farewell(self, href: str) -> bool:
        """``href`` is connected: ``True`` when it was accepted only to hear a farewell
        (which is then said, in the background)."""
        self.answering.discard(href)
        self._links.pop(href, None)
        text = self._farewells.pop(href, None)
        if text is None:
            return False
        self._engine.spawn(self._say(href, text))
        return True

    def opened(self, href: str) -> tuple[str | None, str | None]:
        """How ``href``, now connected, starts: the state an invitation rule named (else the
        flow's start state) and the invitation's first message to handle, if any."""
        return self._start_state.pop(href, None), self._first_text.pop(href, None)

    def forget(self, href: str) -> None:
        """``href`` ended: nothing of it is kept."""
        self.answering.discard(href)
        self._links.pop(href, None)
        self._first_text.pop(href, None)
        self._start_state.pop(href, None)
        self._farewells.pop(href, None)

    # -- kept across a restart --------------------------------------------------------------------

    def opening(self, href: str) -> dict[str, str]:
        """How ``href``, accepted but not connected yet, will start: the state an invitation
        rule sends it to (``start``), the first message to handle (``first_text``) and the
        invitation's accept link (``accept``)."""
        starts, texts, links = self._start_state, self._first_text, self._links
        if href not in links and href not in starts and href not in texts:
            return {}  # most (a durable bot asks for every conversation it writes)
        found = {
            "start": starts.get(href),
            "first_text": texts.get(href),
            "accept": links.get(href),
        }
        return {key: value for key, value in found.items() if value is not None}

    def reopen(self, instance: FlowInstance, opening: Mapping[str, str]) -> None:
        """Follow ``instance`` again (restored after a restart, accepted but not connected):
        accept it again, in case the accept was committed but not sent before the restart
        (accepting an accepted invitation only fails)."""
        href = instance.href
        self._engine.instances[href] = instance
        self.answering.add(href)
        if "start" in opening:
            self._start_state[href] = opening["start"]
        if "first_text" in opening:
            self._first_text[href] = opening["first_text"]
        if "accept" in opening:
            self._links[href] = opening["accept"]
            self._engine.spawn(self.accept(href, opening["accept"], again=True))
