"""The by-conversation indexes of the webhooks and invitations under way.

A durable bot asks, at every commit, for the webhooks, invitations and side conversations
of each conversation it writes: :class:`Grouped` answers from an index, which has to stay
in step with the mapping it indexes through every way in and out.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Coroutine
from types import SimpleNamespace
from typing import Any, cast

import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.flow import ActionRef, Webhook
from ucwa_flow.runtime.grouped import Grouped
from ucwa_flow.runtime.invites import Invitations
from ucwa_flow.runtime.pending_invite import PendingInvite
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.runtime.webhook_calls import WebhookCalls
from ucwa_flow.runtime.webhooks import WebhookCall, WebhookResult


def _consistent(grouped: Grouped[Any, Any, Any], model: dict[Any, Any], group_of: Any) -> None:
    assert dict(grouped.items()) == model
    assert len(grouped) == len(model)
    for group in {group_of(v) for v in model.values()} | {"nobody"}:
        scan = [(k, v) for k, v in model.items() if group_of(v) == group]
        assert list(grouped.of(group).items()) == scan


def test_the_index_follows_every_change_of_the_mapping() -> None:
    rng = random.Random(7)

    def group_of(value: tuple[str, int]) -> str:
        return value[0]

    grouped: Grouped[int, tuple[str, int], str] = Grouped(group_of)
    model: dict[int, tuple[str, int]] = {}
    for step in range(3000):
        key, value = rng.randrange(40), (f"c{rng.randrange(6)}", step)
        op = rng.randrange(6)
        if op <= 1:  # put in, or replace (under another group: moved to the end)
            if key in model and model[key][0] != value[0]:
                del model[key]
            grouped[key] = model[key] = value
        elif op == 2 and key in model:
            del grouped[key]
            del model[key]
        elif op == 3:
            assert grouped.pop(key, None) == model.pop(key, None)
        elif op == 4:
            assert grouped.get(key) == model.get(key)
            assert (key in grouped) == (key in model)
        elif step % 500 == 0:
            grouped.clear()
            model.clear()
        _consistent(grouped, model, group_of)
    with pytest.raises(KeyError):
        grouped.pop(999)
    with pytest.raises(KeyError):
        del grouped[999]
    _consistent(grouped, model, group_of)


def test_a_group_is_found_without_looking_at_the_others() -> None:
    looked = 0

    def group_of(value: str) -> str:
        nonlocal looked
        looked += 1
        return value

    grouped: Grouped[int, str, str] = Grouped(group_of)
    for key in range(1000):
        grouped[key] = f"c{key}"
    assert looked == 1000  # once per item put in
    assert list(grouped.of("c500")) == [500]
    assert dict(grouped.of("c1000")) == {}
    del grouped[500]
    assert not grouped.of("c500")
    assert looked == 1000  # neither a lookup nor a removal reads a value's group again


# -- the webhooks under way ------------------------------------------------------------------

ACTION = cast(Any, Webhook)(None, "POST", (), None, 5.0, None, (), None, None)


def _instance(href: str) -> Any:
    async def on_outcome(*args: object) -> None:
        pass

    flow = SimpleNamespace(action_list=lambda list_id: [ACTION], secrets=frozenset())
    return SimpleNamespace(href=href, flow=flow, on_outcome=on_outcome, report_error=print)


class _Host:
    journal = None

    def post(self, href: str, job: Any) -> None:
        pass

    def spawn(self, coro: Awaitable[None]) -> None:
        cast(Coroutine[Any, Any, None], coro).close()


def _webhooks_consistent(calls: WebhookCalls, hrefs: list[str]) -> None:
    entries = [call for call, _ in calls._calls.values()]
    for href in hrefs:
        assert calls.pending(href) == [c for c in entries if c.conversation == href]


async def test_the_webhooks_by_conversation_through_begin_answer_and_restore() -> None:
    calls = WebhookCalls(cast(Any, _Host()), cast(Any, None))
    hrefs = [f"conv{i}" for i in range(5)]
    instances = {href: _instance(href) for href in hrefs}
    rest = Continuation(ActionRef("enter:s", 0))
    for i in range(20):
        calls.begin(instances[hrefs[i % 5]], ACTION, "http://x", {}, None, rest)
    _webhooks_consistent(calls, hrefs)
    assert len(calls.pending("conv1")) == 4
    answer = WebhookResult(200, None, None)
    for call in calls.pending("conv1")[:3] + calls.pending("conv3"):
        await calls._done(call.key, answer)
        _webhooks_consistent(calls, hrefs)
    assert len(calls.pending("conv1")) == 1
    assert calls.pending("conv3") == []
    # a restored call (same key) and a new one of a conversation that had none left
    kept = calls.pending("conv1")[0]
    calls.resume(
        instances["conv3"],
        WebhookCall.from_data(
            "conv3",
            "k3",
            {"method": "POST", "url": "http://x", "headers": {}, "timeout": 5.0},
            rest,
        ),
    )
    calls.resume(instances["conv1"], kept)
    _webhooks_consistent(calls, hrefs)
    assert [c.key for c in calls.pending("conv3")] == ["k3"]
    assert calls.pending("conv1") == [kept]


# -- the invitations under way and the side conversations ------------------------------------


class _InviteHost:
    def __init__(self) -> None:
        self.clock = ManualClock()
        self.instances: dict[str, Any] = {}
        self.tracker = SimpleNamespace(get=lambda href: None, forget=lambda href: None)
        self.port = SimpleNamespace(leave=self._leave)
        self.journal = None

    async def _leave(self, href: str) -> None:
        pass

    def later(self, op: str, origin: str | None) -> bool:
        return True  # a durable host: sent once committed (not here)

    def abandoned(self, op: str, kept: bool) -> None:
        pass  # nothing committed here

    def spawn(self, coro: Awaitable[None]) -> None:
        cast(Coroutine[Any, Any, None], coro).close()

    def safely(self, op: Awaitable[None], href: str) -> Awaitable[None]:
        return op


def _invites_consistent(invitations: Invitations, origins: list[str]) -> None:
    pending = list(invitations._pending.values())
    sides = list(invitations._side.items())
    for origin in origins:
        scan = [p for p in pending if p.origin == origin and p.action]
        assert invitations.waiting(origin) == scan
        assert invitations.sides(origin) == [side for side, owner in sides if owner == origin]


async def test_the_invitations_by_conversation_through_begin_withdraw_and_restore() -> None:
    host = _InviteHost()
    invitations = Invitations(cast(Any, host))
    origins = [f"conv{i}" for i in range(4)]
    action = SimpleNamespace(timeout=30.0, importance="normal", location=None)
    rest = Continuation(ActionRef("enter:s", 0))
    for i in range(12):
        instance = SimpleNamespace(href=origins[i % 4])
        invitations.begin(cast(Any, instance), cast(Any, action), f"sip:{i}@x", None, None, rest)
    _invites_consistent(invitations, origins)
    assert len(invitations.waiting("conv2")) == 3
    invitations.withdraw(invitations.waiting("conv2")[1])
    _invites_consistent(invitations, origins)
    restored = PendingInvite("sip:r@x", None, cast(Any, action), rest)
    invitations.resume(cast(Any, SimpleNamespace(href="conv2")), "op-r", restored, 10.0)
    for i, origin in enumerate(origins * 2):
        invitations.resume_side(f"side{i}", origin)
    invitations.resume_side("side0", "conv3")  # a side conversation of another origin now
    _invites_consistent(invitations, origins)
    assert invitations.waiting("conv2")[-1] is restored
    assert invitations.sides("conv0") == ["side4"]
    await invitations.origin_ended("conv3")
    _invites_consistent(invitations, origins)
    assert invitations.waiting("conv3") == []
    assert invitations.sides("conv3") == []
    await host.clock.advance(31.0)  # the invitations time out (nobody left to tell)
    _invites_consistent(invitations, origins)
    assert not invitations._pending
    # only the restored one may have been sent (before the restart): the others, decided by
    # steps never committed here, were never sent and are not waited for to show up
    assert list(invitations._abandoned) == ["op-r"]
    invitations.lose_all(still_open=False)
    _invites_consistent(invitations, origins)
    assert invitations.waiting("conv1") == []
    assert invitations.sides("conv1") == []
