"""Long virtual waits: cheap in work, and nothing a test sees is lost or moved.

The work is counted, not timed: the number of times the stage settles during a wait. It
used to grow with the wait (every keep-alive and P-GET timeout of every client was an
instant to settle at, about 6,000 for five days), so each test stops a stage that settles
more than :data:`_BOUND` times.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ucwa_flow.flow import load_flow_text
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator.eventqueue import Priority
from ucwa_flow.simulator.state import Application
from ucwa_flow.testing import _script as s
from ucwa_flow.testing._stage import Stage, StepError
from ucwa_flow.testing.explore import explore_flow
from ucwa_flow.testing.explore._write import describe_edge

_DAY = 86400.0
_BOUND = 30  # settles a long wait may take here, whatever its length

_FLOW = """
version: 1
name: nudge
start: wait
settings: {idle_timeout: 40d}
states:
  wait:
    enter: [{say: Hi}]
    messages:
      - any: true
        say: "You said: {{ message }}"
    timeouts:
      - after: 10d
        do: [{say: Still there?}]
"""


def _count_settles(stage: Stage) -> list[int]:
    """Count the stage's settles from now on; a settle beyond :data:`_BOUND` fails."""
    settle = stage.settle
    count = [0]

    async def counted() -> None:
        count[0] += 1
        assert count[0] <= _BOUND, f"more than {_BOUND} settles: the wait steps through upkeep"
        await settle()

    stage.settle = counted  # type: ignore[method-assign]
    return count


@pytest.fixture
async def stage() -> AsyncIterator[Stage]:
    flow = load_flow_text(_FLOW, "nudge.flow.yaml").flow
    assert flow is not None
    scenario = s.Scenario("x", flow.location, "sip:lenea@contoso.com", None, (), (), ())
    async with Stage(flow, scenario) as stage:
        await stage.party(None).invite("hi")
        await stage.settle()
        yield stage


def _said(stage: Stage) -> list[tuple[float, str]]:
    return [(r.at, r.text) for r in stage.traces if isinstance(r, t.MessageOut)]


async def test_a_thirty_day_wait_settles_a_bounded_number_of_times(stage: Stage) -> None:
    count = _count_settles(stage)
    start = stage.clock.monotonic()
    await stage.wait(30 * _DAY)
    assert count[0] <= _BOUND
    assert stage.clock.monotonic() == start + 30 * _DAY
    # every application was kept alive all along: the caller still talks to the bot
    assert [app.expired_at for app in stage.sim.applications] == [None, None]
    await stage.party(None).say("still here")
    await stage.settle()
    assert stage.party(None).texts[-1] == "You said: still here"


async def test_a_timeout_in_the_middle_of_a_long_wait_fires_at_its_instant(
    stage: Stage,
) -> None:
    _count_settles(stage)
    entered = stage.clock.monotonic()  # the state's timer started when the chat began
    await stage.wait(30 * _DAY)
    assert _said(stage)[-1] == (entered + 10 * _DAY, "Still there?")
    assert stage.party(None).texts[-1] == "Still there?"
    # the idle timeout (40 days of caller silence) has not come yet, and then does
    await stage.wait(10 * _DAY - 1)
    instance = stage.instance()
    assert instance is not None
    assert not instance.ended
    await stage.wait(1)
    assert [r.at for r in stage.traces if isinstance(r, t.Ended)] == [entered + 40 * _DAY]


async def test_a_wait_past_the_year_9999_fails_the_step_in_one_line(stage: Stage) -> None:
    _count_settles(stage)
    with pytest.raises(StepError) as raised:
        await stage.wait(9999999999999 * _DAY)
    assert str(raised.value) == (  # it said "1e+13 days"
        "cannot wait 9999999999999d (about 27378507871 years): the virtual clock is at "
        "2026-01-05 09:00 UTC and stops at the end of the year 9999, 2912438d (about 7974 "
        "years) later"
    )


def _callers_app(stage: Stage) -> Application:
    (app,) = [a for a in stage.sim.applications if a.user.uri == "sip:lenea@contoso.com"]
    return app


async def test_a_medium_event_after_a_long_wait_is_still_held_for_its_five_seconds(
    stage: Stage,
) -> None:
    # the skip moved the held P-GET's timer, not the start its timeout was counted from:
    # that deadline was then past, and a medium event went out at once
    await stage.wait(3600)
    channel = _callers_app(stage).channel
    me = f"{_callers_app(stage).base}/me"
    channel.push("me", me, {"link": {"rel": "me", "href": me}, "type": "updated"}, Priority.MEDIUM)
    await stage.wait(4)
    assert channel.pending_count == 1
    await stage.wait(1)
    assert channel.pending_count == 0


async def test_an_application_whose_keep_alive_stops_after_a_skip_expires_on_time(
    stage: Stage,
) -> None:
    # the skip moved the keep-alive and the last activity by the skipped time, not by
    # whole keep-alive intervals: the application expired 1800 s after an activity
    # report its keep-alive (every 120 s) never made
    await stage.wait(1000)
    app = _callers_app(stage)
    assert app.last_activity == 960.0
    (keep_alive,) = [
        task
        for task in asyncio.all_tasks()
        if task.get_name() == "ucwa-keep-alive sip:lenea@contoso.com"
    ]
    keep_alive.cancel()
    await stage.settle()
    await stage.wait(3600)
    assert app.expired_at == 960.0 + stage.sim.config.activity_expiry


async def test_a_retry_inside_the_keep_alive_is_not_taken_for_the_keep_alive(
    stage: Stage,
) -> None:
    # any timer of the keep-alive's task counted as its sleep: the 0.5 s back-off of a
    # reportMyActivity that failed was put off to the end of the wait
    app = _callers_app(stage)
    stage.sim.faults.inject(
        method="POST", path=f"{app.base}/me/reportMyActivity", status=503, times=1
    )
    await stage.clock.advance(120.2)  # the keep-alive reports, fails, and backs off
    await stage.settle()
    assert stage.sim.faults.rules == []
    assert app.last_activity == 0.0
    await stage.wait(1)
    assert app.last_activity == 120.5


_ABSURD = """
version: 1
name: absurd
start: wait
states:
  wait:
    enter: [{say: Hi}]
    messages:
      - any: true
        say: "You said: {{ message }}"
    timeouts:
      - after: 9999999999999d
        do: [{say: Too late}, stop]
"""

_IDLE = """
version: 1
name: idle
start: wait
settings: {idle_timeout: 10d}
states:
  wait:
    enter: [{say: Hi}]
    messages:
      - any: true
        say: "You said: {{ message }}"
"""


async def test_explore_takes_a_ten_day_idle_timeout_cheaply_and_names_an_absurd_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle = Stage.settle
    count = [0]

    async def counted(stage: Stage) -> None:
        count[0] += 1
        assert count[0] <= 10 * _BOUND, "explore steps through the upkeep of its waits"
        await settle(stage)

    monkeypatch.setattr(Stage, "settle", counted)
    idle = tmp_path / "idle.flow.yaml"
    idle.write_text(_IDLE, encoding="utf-8")
    report = await explore_flow(idle, tmp_path / "idle.explored.test.yaml")
    assert report.passed, [str(r.failure) for r in report.run.results if not r.passed]
    assert report.missed == {}
    assert "(any state) -> (end) [timeout: idle 10d]" in {
        describe_edge(edge) for edge in report.coverage.edges
    }
    flow = tmp_path / "absurd.flow.yaml"
    flow.write_text(_ABSURD, encoding="utf-8")
    report = await explore_flow(flow, tmp_path / "absurd.explored.test.yaml")
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert list(missed) == ["wait -> (end) [timeout: after 9999999999999d]"]
    assert missed["wait -> (end) [timeout: after 9999999999999d]"].endswith(
        "the virtual clock is at 2026-01-05 09:00 UTC and stops at the end of the year 9999, "
        "2912438d (about 7974 years) later)"
    )
