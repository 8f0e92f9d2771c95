"""An ended conversation is freed by reference counting alone, not by the cyclic collector.

A conversation's objects (its :class:`~ucwa_flow.runtime.instance.FlowInstance`, the
tracker's :class:`~ucwa_flow.lifecycle.Conversation` and lifecycle models, its silence
timer) must form no reference cycle: else each one the engine forgets lives on until a
full collection, and a busy ``serve`` piles up hundreds of them between two. So the
conversations here run with the collector off, and the live objects are counted once the
engine has forgotten them: every way a conversation ends or is dropped.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bench.engine_load import CountingPort, Samples, _echo
from ucwa_flow.clock import ManualClock, SystemClock
from ucwa_flow.lifecycle import Conversation
from ucwa_flow.runtime import Engine
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.ucwa import ConversationsLost
from ucwa_flow.ucwa.events import EventBatch, decode_batch

APP = "/ucwa/oauth/v1/applications/104"
CONVERSATIONS = 5


def _live(kind: type) -> int:
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def _hang_up(conv: int) -> EventBatch:
    """The server's news that conversation ``conv`` (of :class:`Samples`) is over."""
    href = f"{APP}/communication/conversations/c{conv}"
    return decode_batch(
        {
            "_links": {"self": {"href": f"{APP}/events?ack=7"}},
            "sender": [
                {
                    "rel": "communication",
                    "href": f"{APP}/communication",
                    "events": [{"link": {"rel": "conversation", "href": href}, "type": "deleted"}],
                }
            ],
        }
    )


def _says(samples: Samples, conv: int, text: str) -> EventBatch:
    """An incoming message of conversation ``conv`` saying ``text`` (one word)."""
    sample = samples._texts[2].replace("Hi+Tosh%0d%0a", text)  # the message sample
    return samples._unique(sample, conv, 8)


@pytest.fixture
async def collector_off() -> AsyncIterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def _bye(engine: Engine, samples: Samples) -> None:
    for conv in range(CONVERSATIONS):  # the stop command: the bot stops messaging
        engine.handle(_says(samples, conv, "bye"))
    await engine.idle()
    assert all(instance.ended for instance in engine.instances.values())
    for conv in range(CONVERSATIONS):  # then the server ends the conversation
        engine.handle(_hang_up(conv))


async def _hang_ups(engine: Engine, samples: Samples) -> None:
    for conv in range(CONVERSATIONS):
        engine.handle(_hang_up(conv))


async def _idle_timeout(engine: Engine, samples: Samples) -> None:
    clock = engine.clock
    assert isinstance(clock, ManualClock)
    await clock.advance(601)  # the echo flow's idle timeout (10m): the bot stops
    await engine.idle()
    assert all(instance.ended for instance in engine.instances.values())
    for conv in range(CONVERSATIONS):
        engine.handle(_hang_up(conv))


async def _lost(engine: Engine, samples: Samples) -> None:
    engine.handle(ConversationsLost("application re-created"))


async def _shut_down(engine: Engine, samples: Samples) -> None:
    await engine.aclose()


@pytest.mark.parametrize(
    "end",
    [_bye, _hang_ups, _idle_timeout, _lost, _shut_down],
    ids=["bye", "hang-up", "idle-timeout", "lost", "shutdown"],
)
@pytest.mark.usefixtures("collector_off")
async def test_an_ended_conversation_is_freed_without_the_cyclic_collector(
    end: Callable[[Engine, Samples], Awaitable[None]],
) -> None:
    samples = Samples()
    engine = Engine(_echo(), CountingPort(), ManualClock())
    instances, conversations = _live(FlowInstance), _live(Conversation)
    for conv in range(CONVERSATIONS):
        for batch in samples.set_up(conv):
            engine.handle(batch)
        engine.handle(samples.message(conv, 3))
        await engine.idle()
    assert len(engine.instances) == CONVERSATIONS
    assert _live(FlowInstance) == instances + CONVERSATIONS
    await end(engine, samples)
    await engine.idle()
    assert engine.instances == {}
    assert _live(FlowInstance) == instances, "ended flow instances still alive"
    if end is not _shut_down:  # a closed engine's tracker keeps what it knew
        assert len(engine.tracker) == 0
        assert _live(Conversation) == conversations, "ended conversations still alive"


@pytest.mark.usefixtures("collector_off")
async def test_so_is_one_on_the_system_clock() -> None:
    """The event loop's timers (what ``serve`` runs on) let go of a cancelled one's owner."""
    samples = Samples()
    engine = Engine(_echo(), CountingPort(), SystemClock())
    instances = _live(FlowInstance)
    for batch in [*samples.set_up(0), samples.message(0, 3)]:
        engine.handle(batch)
    await engine.idle()
    assert _live(FlowInstance) == instances + 1  # its idle timer pending on the loop
    engine.handle(_hang_up(0))
    await engine.idle()
    assert engine.instances == {}
    assert _live(FlowInstance) == instances, "the ended flow instance is still alive"
