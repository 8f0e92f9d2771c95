"""An invitation given up before the server named it is remembered (to withdraw it when
it shows up) only while it may still show up: once its request failed, nothing will."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

import httpx

from tests.runtime.conftest import load
from tests.runtime.test_engine_lost import RecordingPort
from ucwa_flow.clock import ManualClock
from ucwa_flow.lifecycle import InvitationEnded, InvitationSent, Outcome
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.invites import ABANDONED_KEPT
from ucwa_flow.runtime.pending_invite import PendingInvite, may_ring
from ucwa_flow.ucwa.errors import ServerUnreachable, UcwaHttpError
from ucwa_flow.ucwa.events import Reason


class FailingInvitePort(RecordingPort):
    """Its invitations start, wait for ``go`` (set at once unless ``held``), then fail with
    ``error``: by default the server could not be reached."""

    def __init__(self, error: Exception | None = None, held: bool = True) -> None:
        super().__init__()
        self.error = error or httpx.ConnectError("connection refused")
        self.go = asyncio.Event()
        if not held:
            self.go.set()
        self.started = asyncio.Event()

    async def start_messaging(
        self,
        to: str,
        *,
        subject: str | None,
        importance: str,
        message: str | None,
        operation_id: str,
    ) -> str:
        await super().start_messaging(
            to, subject=subject, importance=importance, message=message, operation_id=operation_id
        )
        self.started.set()
        await self.go.wait()
        raise self.error


def lost_answer_port(held: bool = False) -> FailingInvitePort:
    """A port whose invitations reach the server but whose answers are lost (a read
    timeout), once ``go`` is set."""
    return FailingInvitePort(httpx.ReadTimeout("timed out reading the answer"), held)


async def test_invitations_given_up_while_their_request_fails_are_not_kept() -> None:
    port = FailingInvitePort()
    traces: list[object] = []
    engine = Engine(load("echo"), port, ManualClock(), traces.append)
    invitations = engine.invitations
    answers: list[str] = []
    for _ in range(3):
        port.go.clear()
        port.started.clear()
        pending = PendingInvite("sip:agent@contoso.com", on_answer=lambda p, b: answers.append(b))
        invitations.ring(pending, 60.0, (None, "normal", None))
        await port.started.wait()
        invitations.withdraw(pending)  # the caller left while the request was on its way
        port.go.set()
        await engine.idle()
    assert answers == []  # withdrawn: nobody is told
    assert len(invitations._abandoned) == 0
    # the failures are still reported (an invitation that timed out meanwhile too)
    failed = [r for r in traces if isinstance(r, t.FlowError) and "failed" in r.message]
    assert len(failed) == 3


async def test_an_invitation_timed_out_while_its_request_fails_is_reported() -> None:
    port = FailingInvitePort()
    clock = ManualClock()
    traces: list[object] = []
    engine = Engine(load("echo"), port, clock, traces.append)
    answers: list[str] = []
    pending = PendingInvite("sip:agent@contoso.com", on_answer=lambda p, b: answers.append(b))
    engine.invitations.ring(pending, 5.0, (None, "normal", None))
    await port.started.wait()
    await clock.advance(6.0)
    port.go.set()
    await engine.idle()
    assert answers == ["no_answer"]
    assert len(engine.invitations._abandoned) == 0
    assert [r.message for r in traces if isinstance(r, t.FlowError)] == [
        "inviting sip:agent@contoso.com failed: connection refused"
    ]


async def test_an_invitation_its_conversation_left_before_the_server_named_it_is_withdrawn() -> (
    None
):
    # the caller leaves while the invitation is on its way: once the server names it, it is
    # withdrawn, not left ringing at the invitee until the server's own ring time runs out
    port = RecordingPort()
    engine = Engine(load("echo"), port, ManualClock(), lambda record: None)
    invitations = engine.invitations
    pending = PendingInvite("sip:agent@contoso.com", origin="/conv/caller")
    invitations.ring(pending, 60.0, (None, "normal", None))
    await engine.idle()
    assert ("invite", "sip:agent@contoso.com") in port.calls
    await invitations.origin_ended("/conv/caller")
    invitations.sent(InvitationSent("/conv/agent", "/inv/1", pending.op, "/conv/agent/stop"))
    await engine.idle()
    assert ("stop", "/conv/agent/stop") in port.calls
    assert len(invitations._abandoned) == 0


async def test_an_invitation_on_its_way_when_the_channel_lost_track_is_withdrawn_once_named() -> (
    None
):
    port = RecordingPort()
    engine = Engine(load("echo"), port, ManualClock(), lambda record: None)
    invitations = engine.invitations
    pending = PendingInvite("sip:agent@contoso.com", on_answer=lambda p, b: None)
    invitations.ring(pending, 60.0, (None, "normal", None))
    await engine.idle()
    invitations.lose_all(still_open=True)  # a resync: the server may still have it
    invitations.sent(InvitationSent("/conv/agent", "/inv/1", pending.op, "/conv/agent/stop"))
    await engine.idle()
    assert ("stop", "/conv/agent/stop") in port.calls


def _rung(
    port: RecordingPort, clock: ManualClock | None = None
) -> tuple[Engine, PendingInvite, list[str], list[object]]:
    """An engine on ``port`` that has rung an agent for a handoff: the engine, the
    invitation, what the handoff was told, and the trace records."""
    traces: list[object] = []
    engine = Engine(load("echo"), port, clock or ManualClock(), traces.append)
    answers: list[str] = []
    pending = PendingInvite("sip:agent@contoso.com", on_answer=lambda p, b: answers.append(b))
    engine.invitations.ring(pending, 60.0, (None, "normal", None))
    return engine, pending, answers, traces


async def test_an_invitation_whose_answer_was_lost_is_withdrawn_if_the_server_names_it() -> None:
    port = lost_answer_port()
    engine, pending, answers, traces = _rung(port)
    invitations = engine.invitations
    await engine.idle()
    assert answers == ["no_answer"]  # told at once, and reported
    assert [r.message for r in traces if isinstance(r, t.FlowError)] == [
        "inviting sip:agent@contoso.com failed: timed out reading the answer"
    ]
    # the server had created it after all: it rang on at the agent
    invitations.sent(InvitationSent("/conv/agent", "/inv/1", pending.op, "/conv/agent/stop"))
    await engine.idle()
    assert ("stop", "/conv/agent/stop") in port.calls
    assert len(invitations._abandoned) == 0


async def test_only_invitations_resumed_after_a_restart_are_sent_again_unconfirmed() -> None:
    port = RecordingPort()
    engine = Engine(load("echo"), port, ManualClock(), lambda record: None)
    engine.later = lambda op, origin: True  # type: ignore[method-assign]  # a durable host
    invitations = engine.invitations
    action = cast(Any, SimpleNamespace(timeout=30.0, importance="normal", location=None))
    # decided by a step not yet committed: sent by the commit, not before
    fresh = PendingInvite("sip:fresh@contoso.com", "/conv/1", action)
    invitations.start(fresh, 30.0, None, "normal", None)
    # resumed after a restart, never named: it may not have been sent
    resumed = PendingInvite("sip:resumed@contoso.com", None, action)
    invitations.resume(cast(Any, SimpleNamespace(href="/conv/2")), "op-r", resumed, 30.0)
    invitations.send_unconfirmed()
    await engine.idle()
    assert [call for call in port.calls if call[0] == "invite"] == [
        ("invite", "sip:resumed@contoso.com")
    ]
    invitations.dispatch(fresh.op)  # the commit
    invitations.send_unconfirmed()  # caught up again: nothing is sent twice
    await engine.idle()
    assert [call for call in port.calls if call[0] == "invite"] == [
        ("invite", "sip:resumed@contoso.com"),
        ("invite", "sip:fresh@contoso.com"),
    ]


def test_the_invitations_remembered_as_given_up_are_bounded() -> None:
    invitations = Engine(load("echo"), RecordingPort(), ManualClock(), lambda r: None).invitations
    for i in range(ABANDONED_KEPT + 10):
        invitations._give_up(f"op{i}")
    assert len(invitations._abandoned) == ABANDONED_KEPT
    assert "op9" not in invitations._abandoned  # the oldest are forgotten
    assert f"op{ABANDONED_KEPT + 9}" in invitations._abandoned


async def test_a_resumed_invitation_invited_again_is_not_sent_again_before_its_commit() -> None:
    port = RecordingPort()
    clock = ManualClock()
    engine = Engine(load("echo"), port, clock, lambda record: None)
    engine.later = lambda op, origin: True  # type: ignore[method-assign]  # a durable host
    invitations = engine.invitations
    action = cast(Any, SimpleNamespace(timeout=60.0, importance="normal", location=None))
    resumed = PendingInvite("sip:agent@contoso.com", None, action)
    invitations.resume(cast(Any, SimpleNamespace(href="/conv/1")), "op-r", resumed, 60.0)
    offline = Reason("RemoteFailure", "TemporarilyUnavailable", "not signed in")
    ended = InvitationEnded("/conv/inv", "/inv/r", "Outgoing", "op-r", Outcome.FAILED, offline)
    assert invitations.ended(ended)  # not signed in: invited again in 10 s, under a new id
    await clock.advance(11.0)
    assert resumed.op != "op-r"
    invitations.send_unconfirmed()  # the bot caught up before that step was committed
    invitations.dispatch(resumed.op)  # the commit
    await engine.idle()
    assert [call for call in port.calls if call[0] == "invite"] == [
        ("invite", "sip:agent@contoso.com")
    ]


async def test_an_invitation_named_before_its_answer_was_lost_rings_on_and_is_waited_for() -> None:
    port = lost_answer_port(held=True)
    engine, pending, answers, traces = _rung(port)
    invitations = engine.invitations
    await asyncio.sleep(0)
    invitations.sent(InvitationSent("/conv/agent", "/inv/1", pending.op, "/conv/agent/stop"))
    port.go.set()
    await engine.idle()
    assert answers == ["ringing"]  # not "no_answer": it rings, and its outcome will come
    assert not [r for r in traces if isinstance(r, t.FlowError)]
    assert ("stop", "/conv/agent/stop") not in port.calls
    invitations.ended(
        InvitationEnded("/conv/agent", "/inv/1", "Outgoing", pending.op, Outcome.ACCEPTED, None)
    )
    assert answers == ["ringing", "accepted"]
    assert len(invitations._abandoned) == 0


def test_an_invitation_that_never_reached_the_server_cannot_ring() -> None:
    assert not may_ring(_through_the_wire(httpx.ConnectError("connection refused")))
    assert may_ring(_through_the_wire(httpx.ReadTimeout("timed out")))
    assert may_ring(_through_the_wire(httpx.RemoteProtocolError("closed")))
    assert not may_ring(httpx.ConnectTimeout("timed out"))
    assert may_ring(UcwaHttpError("POST", "/x", 503))
    assert not may_ring(UcwaHttpError("POST", "/x", 403))


async def test_a_failed_request_of_an_invitee_not_signed_in_leaves_the_invitation_again() -> None:
    port = lost_answer_port(held=True)
    clock = ManualClock()
    engine, pending, answers, traces = _rung(port, clock)
    invitations = engine.invitations
    await asyncio.sleep(0)
    first = pending.op
    invitations.sent(InvitationSent("/conv/agent", "/inv/1", first, "/conv/agent/stop"))
    offline = Reason("RemoteFailure", "TemporarilyUnavailable", "not signed in")
    invitations.ended(
        InvitationEnded("/conv/agent", "/inv/1", "Outgoing", first, Outcome.FAILED, offline)
    )
    port.go.set()  # the first request's answer is lost now
    await engine.idle()
    assert invitations.offline == ["sip:agent@contoso.com"]  # still invited again in 10 s
    assert answers == ["ringing"]
    assert not [r for r in traces if isinstance(r, t.FlowError)]
    assert len(invitations._abandoned) == 0
    port.go.clear()
    await clock.advance(11.0)  # invited again; then the first request's late failure
    assert pending.op != first
    assert invitations.offline == []
    assert len(invitations._abandoned) == 0


def test_an_invitation_whose_token_grant_failed_on_its_way_cannot_ring() -> None:
    assert not may_ring(_through_the_wire(httpx.ReadTimeout("timed out"), unsent=True))


def _through_the_wire(cause: Exception, unsent: bool = False) -> ServerUnreachable:
    """What the Wire raises for ``cause`` (``from None``: its context is ``cause``)."""
    try:
        try:
            raise cause
        except httpx.HTTPError:
            raise ServerUnreachable("POST /x failed: ...", unsent=unsent) from None
    except ServerUnreachable as exc:
        return exc
