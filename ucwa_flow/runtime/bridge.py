"""Handoffs: finding an agent for a caller, then relaying between the two conversations.

A ``handoff`` action (:class:`~ucwa_flow.flow.Handoff`) first *searches*: it invites its
agents through :class:`~ucwa_flow.runtime.invites.Invitations` (:meth:`Invitations.ring`:
the invitations are the invite action's, with offline retries and withdrawal, but each
tells the search its outcome instead of resuming a flow). ``mode: first`` rings everyone
at once and withdraws the others when one accepts; ``round_robin`` rings one agent at a
time, ``ring`` seconds each, starting after the agent the flow used last (per flow, across
conversations: :class:`~ucwa_flow.runtime.rotation.Rotation`, which a durable bot commits
and restores). Nobody accepting within ``timeout`` (or everyone
declining) runs ``no_answer``, then the actions after the handoff. A search ends without
``no_answer`` when the caller leaves the state it began in (:meth:`Bridges.stepped`) or a
new handoff begins; a handoff while bridged is refused (a run-time error).

An accepted invitation *links* the caller's conversation and the agent's:

* ``connected`` runs in the caller's conversation (``agent.uri``, ``agent.name``); the
  caller's timeouts and idle timeout are paused (``FlowInstance.hold_silence``);
* each caller message goes to the agent as ``Caller Name: text`` (it is not handled by the
  flow: no handlers, commands or ladders); each agent message goes to the caller as
  ``Agent Name: text``;
* the agent typing ``done.command`` ends the bridge: the agent is told and their
  conversation ended, and the ``done`` branch (its ``goto``) runs for the caller;
* the agent leaving runs ``agent_left`` and the actions after the handoff, the timeouts
  running again from then; the caller leaving tells the agent and ends their conversation.

Everything that changes a bridge runs in the caller's mailbox (the agent's messages and
departure are posted there), so one conversation's steps stay in order and a durable
bot commits the bridge with the caller's record (:meth:`Bridges.to_data`). A restart
resumes a linked bridge (:meth:`Bridges.resume`: the agent's conversation is tracked
again); a search under way is given up: its invitations are withdrawn and ``no_answer``
runs. Trace records: :class:`~ucwa_flow.runtime.trace.BridgeEvent`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ucwa_flow.flow import Handoff
from ucwa_flow.lifecycle import Conversation, load_conversation
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.bridge_records import BridgeHost
from ucwa_flow.runtime.bridge_records import Link as _Link
from ucwa_flow.runtime.bridge_records import Search as _Search
from ucwa_flow.runtime.bridge_records import user_name as _user
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.outbox import Outgoing
from ucwa_flow.runtime.pending_invite import PendingInvite
from ucwa_flow.runtime.records import action_at
from ucwa_flow.runtime.rotation import Rotation
from ucwa_flow.runtime.services import Continuation

__all__ = ["BridgeHost", "Bridges"]

log = logging.getLogger("ucwa_flow.runtime")

Tracked = Callable[[str], "dict[str, Any] | None"]


class Bridges:
    """The handoffs of one engine: searches and links, by the caller's conversation."""

    def __init__(self, engine: BridgeHost) -> None:
        self._engine = engine
        # by caller, read (not changed) outside: empty, no message or step need ask here
        self.searches: dict[str, _Search] = {}
        self.links: dict[str, _Link] = {}
        self.agents: dict[str, str] = {}  # agent conversation -> caller conversation
        self.rotation = Rotation(engine)  # flow name -> the agent it used last (round robin)

    def bridged(self, href: str) -> bool:
        """Whether the caller of ``href`` is talking with an agent."""
        return href in self.links

    def waiting(self, href: str) -> list[Continuation]:
        """What conversation ``href``'s handoff resumes with, if it has one under way."""
        found = self.searches.get(href) or self.links.get(href)
        return [found.rest] if found is not None else []

    # -- searching ------------------------------------------------------------------------

    def begin(
        self,
        instance: FlowInstance,
        action: Handoff,
        agents: tuple[str, ...],
        subject: str | None,
        message: str | None,
        rest: Continuation,
    ) -> None:
        """Look for one of ``agents`` to take ``instance``'s caller: a search of the
        caller's still under way is withdrawn; a caller talking with an agent is refused."""
        engine = self._engine
        if instance.href in self.links:
            instance.report_error(
                "handoff refused: the caller is already talking with an agent", action.location
            )
            return
        previous = self.searches.pop(instance.href, None)
        if previous is not None:
            self._withdraw(previous, "handoff")
        search = _Search(
            instance.href,
            action,
            rest,
            tuple(uri for uri in agents if uri),
            (subject, action.importance, message),
            engine.clock.monotonic() + action.timeout,
            instance.flow_name,
            instance.state,
        )
        self.searches[search.caller] = search
        self._trace(search.caller, "ringing", agents=search.agents)
        if action.mode == "first":
            for uri in search.agents:
                self._ring(search, uri, action.timeout)
        else:
            search.next = self.rotation.first(search.flow, search.agents)
            search.left = len(search.agents)
            self._ring_next(search)
        if not search.ringing:
            self._give_up(search)

    def stepped(self, href: str) -> None:
        """A job of conversation ``href`` is over: a search of a caller who left the state
        it began in (a command, a handler's goto) is withdrawn, the flow having moved on;
        ``no_answer`` does not run."""
        search = self.searches.get(href)
        if search is None:
            return
        instance = self._engine.instances.get(href)
        if instance is not None and instance.state != search.state:
            del self.searches[href]
            self._withdraw(search, "flow")

    def _withdraw(self, search: _Search, by: str) -> None:
        """Withdraw ``search``'s invitations (it is no longer in ``_searches``): ``by`` a
        new ``handoff``, or the ``flow`` leaving the state it began in."""
        for pending in search.ringing:
            self._engine.invitations.withdraw(pending)
        search.ringing.clear()
        self._trace(search.caller, "ended", agents=search.agents, by=by)

    def _ring(self, search: _Search, uri: str, timeout: float) -> None:
        pending = PendingInvite(uri, search.caller, on_answer=partial(self._answered, search))
        search.ringing.append(pending)
        self._engine.invitations.ring(pending, timeout, search.invitation)

    def _ring_next(self, search: _Search) -> bool:
        """Round robin: ring the next agent, if any is left and time allows."""
        remaining = search.deadline - self._engine.clock.monotonic()
        if search.left <= 0 or remaining <= 0 or not search.agents:
            return False
        uri = search.agents[search.next % len(search.agents)]
        search.next += 1
        search.left -= 1
        self._ring(search, uri, min(search.action.ring, remaining))
        return True

    def _answered(self, search: _Search, pending: PendingInvite, branch: str) -> None:
        """News of one of ``search``'s invitations (``Invitations`` calls this): it rings
        (the caller's record keeps how to withdraw it), or it is answered."""
        if branch == "ringing":
            self._engine.touch(search.caller)
            return
        if pending in search.ringing:
            search.ringing.remove(pending)
        agent = pending.conversation
        if self.searches.get(search.caller) is not search:
            if branch == "accepted" and agent is not None:  # too late: the search is over
                self._engine.spawn(self._hang_up(agent))
            return
        if branch == "accepted" and agent is not None:
            del self.searches[search.caller]
            for other in search.ringing:
                self._engine.invitations.withdraw(other)
            self.rotation.accepted(search.flow, pending.to)
            self._link(search, pending.to, agent)
            return
        if search.action.mode == "round_robin" and self._ring_next(search):
            return
        if not search.ringing:
            self._give_up(search)

    def _give_up(self, search: _Search) -> None:
        self.searches.pop(search.caller, None)
        self._engine.post(search.caller, partial(self._resume, search.caller, search, "no_answer"))

    def _link(self, search: _Search, agent_uri: str, agent: str) -> None:
        engine = self._engine
        instance = engine.instances.get(search.caller)
        conv = engine.tracker.get(agent)
        if instance is None or instance.ended:
            engine.spawn(self._hang_up(agent))
            return
        link = _Link(
            search.caller,
            instance.caller_name or _user(instance.caller_uri or ""),
            agent,
            agent_uri,
            (conv.remote_name if conv is not None else None) or _user(agent_uri),
            search.action,
            search.rest,
        )
        self.links[link.caller] = link
        self.agents[agent] = link.caller
        engine.post(link.caller, partial(self._connected, link))

    # -- the bridge (jobs of the caller's mailbox) ------------------------------------------

    async def _connected(self, link: _Link) -> None:
        instance = self._engine.instances.get(link.caller)
        if self.links.get(link.caller) is not link or instance is None:
            return
        instance.hold_silence(True)
        rest = Continuation(link.rest.at, (), link.rest.extras, link.rest.after_end)
        branch = rest.branch("connected")
        await instance.on_outcome(
            rest, "handoff", "connected", branch, link.extras, link.action.location
        )
        # after `connected`: what a transcript shows from here to the bridge's end is relayed
        self._trace(link.caller, "connected", agent=link.agent_uri, name=link.agent_name)

    def heard(self, href: str, text: str) -> bool:
        """A message in conversation ``href``: ``True`` when a bridge took it."""
        link = self.links.get(href)
        if link is not None:  # the caller wrote (a job of the caller's mailbox)
            engine = self._engine
            engine.emit(t.MessageIn(at=engine.clock.monotonic(), conversation=href, text=text))
            self._trace(href, "relay", agent=link.agent_uri, by="caller", text=text)
            self._to_agent(link, f"{link.caller_name}: {text.strip()}")
            return True
        caller = self.agents.get(href)
        if caller is None:
            return False
        self._engine.post(caller, partial(self._from_agent, caller, href, text))
        return True

    async def _from_agent(self, caller: str, agent: str, text: str) -> None:
        link = self.links.get(caller)
        if link is None or link.agent != agent:
            return
        action = link.action
        if action.done is not None and text.strip() == action.done_command:
            self._unlink(link)
            self._trace(caller, "done", agent=link.agent_uri, by="agent")
            self._to_agent(link, f"{link.caller_name} is back with the bot.")
            self._end_agent(agent, "handoff done")
            await self._resume(caller, link, "done", frames=False)
            return
        self._trace(caller, "relay", agent=link.agent_uri, by="agent", text=text)
        self._say(caller, f"{link.agent_name}: {text.strip()}")

    async def ended(self, href: str) -> None:
        """Conversation ``href`` ended (a job of its mailbox): an agent's ends the bridge
        (``agent_left`` runs for the caller), a caller's tells the agent and ends theirs."""
        caller = self.agents.get(href)
        if caller is not None:
            self._engine.post(caller, partial(self._agent_left, caller, href))
            return
        self.searches.pop(href, None)  # its invitations: withdrawn by Invitations
        link = self.links.get(href)
        if link is not None:
            self._unlink(link)
            self._trace(href, "ended", agent=link.agent_uri, by="caller")
            self._to_agent(link, f"{link.caller_name} left the conversation.")
            self._end_agent(link.agent, "the caller left")

    async def _agent_left(self, caller: str, agent: str) -> None:
        link = self.links.get(caller)
        if link is None or link.agent != agent:
            return
        self._unlink(link)
        self._trace(caller, "ended", agent=link.agent_uri, by="agent")
        await self._resume(caller, link, "agent_left")

    async def _resume(
        self, caller: str, done: _Link | _Search, branch: str, *, frames: bool = True
    ) -> None:
        """Run the handoff's ``branch`` for ``caller`` (then, with ``frames``, the rest)."""
        instance = self._engine.instances.get(caller)
        if instance is None or instance.ended:
            return
        if isinstance(done, _Link):
            instance.hold_silence(False)  # the timeouts count from the bridge's end
        rest = done.rest if frames else Continuation(done.rest.at, (), done.rest.extras)
        extras = done.extras if isinstance(done, _Link) else {}
        location = done.action.location
        await instance.on_outcome(rest, "handoff", branch, rest.branch(branch), extras, location)

    def _unlink(self, link: _Link) -> None:
        self.links.pop(link.caller, None)
        self.agents.pop(link.agent, None)

    # -- talking to either side ---------------------------------------------------------------

    def _to_agent(self, link: _Link, text: str) -> None:
        """Say ``text`` to ``link``'s agent; the transcript keeps the caller's secrets out
        of it (the agent's conversation has no instance of its own)."""
        engine = self._engine
        instance = engine.instances.get(link.caller)
        if engine.journal is not None and instance is not None:
            engine.journal.owned(link.agent, instance)
        self._say(link.agent, text)

    def _say(self, href: str, text: str) -> None:
        engine = self._engine
        conv = engine.tracker.get(href)
        link = conv.messaging.send_message_href if conv is not None else None
        if link is None:
            log.warning(
                "%s: cannot relay %d characters: messaging is not connected", href, len(text)
            )
            return
        engine.send(Outgoing(href, "message", link, text))
        engine.emit(
            t.MessageOut(at=engine.clock.monotonic(), conversation=href, text=text, html=None)
        )

    def _end_agent(self, href: str, why: str) -> None:
        """End the agent's conversation after what was said in it (the same queue)."""
        conv = self._engine.tracker.get(href)
        stop = conv.messaging.stop_messaging_href if conv is not None else None
        if stop is not None:
            self._engine.send(Outgoing(href, "stop", stop, why=why))
        else:
            self._engine.send(Outgoing(href, "leave", href, why=why))

    async def _hang_up(self, href: str) -> None:
        engine = self._engine
        conv = engine.tracker.get(href)
        stop = conv.messaging.stop_messaging_href if conv is not None else None
        operation = engine.port.stop_messaging(stop) if stop else engine.port.leave(href)
        await engine.safely(operation, href)

    def _trace(self, href: str, event: str, **fields: Any) -> None:
        engine = self._engine
        engine.emit(
            t.BridgeEvent(at=engine.clock.monotonic(), conversation=href, event=event, **fields)
        )

    # -- kept across a restart ------------------------------------------------------------------

    def to_data(self, href: str, tracked: Tracked) -> dict[str, Any] | None:
        """Conversation ``href``'s handoff as JSON data (``tracked``: the tracker's data of
        a conversation), for its record; ``None`` when it has none under way."""
        link = self.links.get(href)
        if link is not None:
            return {
                "rest": link.rest.to_data(),
                "agent": link.agent_uri,
                "agent_name": link.agent_name,
                "caller_name": link.caller_name,
                "conversation": tracked(link.agent),
            }
        search = self.searches.get(href)
        if search is None:
            return None
        return {"rest": search.rest.to_data(), "ringing": [p.to_data() for p in search.ringing]}

    def resume(self, instance: FlowInstance, data: Mapping[str, Any]) -> None:
        """Carry on ``instance``'s handoff from :meth:`to_data` after a restart: a bridge is
        linked again; a search is given up (its invitations withdrawn, ``no_answer`` runs)."""
        engine = self._engine
        rest = Continuation.from_data(data["rest"])
        at = rest.at
        action = action_at(instance.flow, at.list_id, at.position) if at is not None else None
        conversation = data.get("conversation")
        if not isinstance(action, Handoff):
            instance.report_error("the flow has no handoff where the bridge began any more", None)
            if conversation:
                engine.spawn(self._hang_up(self._track(conversation).href))
            return
        if conversation:
            agent = self._track(conversation).href
            link = _Link(
                instance.href,
                str(data.get("caller_name") or ""),
                agent,
                str(data["agent"]),
                str(data.get("agent_name") or ""),
                action,
                rest,
            )
            self.links[link.caller] = link
            self.agents[agent] = link.caller
            instance.hold_silence(True)
            return
        for request in data.get("ringing") or ():
            stop, href = request.get("cancel_href"), request.get("conversation")
            if stop:
                engine.spawn(engine.safely(engine.port.stop_messaging(stop), href or ""))
            elif href:
                engine.spawn(engine.safely(engine.port.leave(href), href))
        search = _Search(instance.href, action, rest, (), (None, "normal", None), 0.0, "")
        self._trace(instance.href, "ended", by="restart")
        self._give_up(search)

    def _track(self, data: Mapping[str, Any]) -> Conversation:
        return self._engine.tracker.restore(load_conversation(data))

    # -- the end of everything ----------------------------------------------------------------

    def lose_all(self, still_open: bool) -> None:
        """The channel lost track of every conversation: forget every handoff (ending the
        agents' conversations when they may still be open)."""
        if still_open:
            for agent in self.agents:
                self._engine.spawn(self._hang_up(agent))
        self.searches.clear()
        self.links.clear()
        self.agents.clear()

    async def aclose(self) -> None:
        """Shutting down (the callers' conversations are stopped): end the agents' too.

        Every handoff is forgotten first: a caller's conversation that the server reports
        ended meanwhile (the stop's own echo) tells no agent that the caller left, which
        the bot would send after its application is gone."""
        links = list(self.links.values())
        self.lose_all(still_open=False)
        for link in links:
            self._trace(link.caller, "ended", agent=link.agent_uri, by="shutdown")
            await self._hang_up(link.agent)
