"""Campaign runs through the real path: simulator people, the bot, the mocked report URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.campaign.conftest import ANN, BOB, CY, FLOW, REPORT
from ucwa_flow.flow import load_flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaigns import CampaignEvent
from ucwa_flow.testing._script import Scenario
from ucwa_flow.testing._stage import Stage


def _events(traces: list[t.Trace], *kinds: str) -> list[tuple[str, Any]]:
    return [
        (r.kind, r.data.get("uri"))
        for r in traces
        if isinstance(r, CampaignEvent) and (not kinds or r.kind in kinds)
    ]


def _passed(results: list[Any]) -> Any:
    (result,) = results
    assert result.failure is None, str(result.failure)
    return result


async def test_one_after_another_with_per_person_branches_and_one_report(
    campaign: Callable[..., Any],
) -> None:
    result = _passed(
        await campaign(
            f"""
            - expect: {{say: "Hello! One question?"}}
            - accept
            - expect: {{say: "Yes or no? (0 of 3 done, mine=1)"}}
            - say: "yes"
            - expect: {{say: "Thanks! 1 yes so far."}}
            - expect: ended
            - expect: {{say: "Hello! One question?", to: {BOB}}}
            - accept: {BOB}
            - expect: {{say: "Yes or no? (1 of 3 done, mine=1)", to: {BOB}}}
            - expect: {{webhook: {{url: {REPORT}, times: 0}}}}
            - wait: 2m
            - expect: {{say: "Hello! One question?", to: {CY}}}
            - decline: {CY}
            - expect:
                webhook:
                  url: {REPORT}
                  times: 1
                  json:
                    yes: 1
                    no: 0
                    answers: [{ANN}]
                    skipped: ["{CY} declined"]
                    done: 3/3
                    people:
                      - {{uri: {ANN}, outcome: accepted, state: ask, ended_by: bot}}
                      - {{uri: {BOB}, outcome: accepted, state: ask, ended_by: bot}}
                      - {{uri: {CY}, outcome: declined, state: null, ended_by: null}}
            - wait: 10m
            - expect: {{webhook: {{url: {REPORT}, times: 1}}}}
            """
        )
    )
    # the next person is invited only once the one before is done
    assert _events(result.traces, "campaign_invited", "campaign_person_done") == [
        ("campaign_invited", ANN),
        ("campaign_person_done", ANN),
        ("campaign_invited", BOB),
        ("campaign_person_done", BOB),
        ("campaign_invited", CY),
        ("campaign_person_done", CY),
    ]
    kinds = [kind for kind, _ in _events(result.traces)]
    assert kinds[0] == "campaign_started"
    assert kinds[-2:] == ["campaign_finished", "campaign_report"]


async def test_n_at_a_time(campaign: Callable[..., Any]) -> None:
    result = _passed(
        await campaign(
            f"""
            - expect: {{say: "Hello! One question?", to: {BOB}}}
            - accept
            - say: "no"
            - expect: ended
            - expect: {{say: "Hello! One question?", to: {CY}}}
            - wait: 3m
            - expect:
                webhook:
                  url: {REPORT}
                  times: 1
                  json:
                    yes: 0
                    no: 1
                    skipped: ["{BOB} no answer", "{CY} no answer"]
            """,
            at_once=2,
        )
    )
    assert _events(result.traces, "campaign_invited", "campaign_person_done")[:4] == [
        ("campaign_invited", ANN),
        ("campaign_invited", BOB),
        ("campaign_person_done", ANN),
        ("campaign_invited", CY),
    ]


async def test_everyone_at_once_when_at_once_covers_them(campaign: Callable[..., Any]) -> None:
    result = _passed(await campaign("- wait: 1m\n", at_once=5))
    invited = _events(result.traces, "campaign_invited", "campaign_person_done")
    assert invited[:3] == [("campaign_invited", uri) for uri in (ANN, BOB, CY)]


async def test_a_failed_report_runs_its_failure_branch_once(campaign: Callable[..., Any]) -> None:
    result = _passed(
        await campaign(
            f"""
            - wait: 10m
            - expect: {{webhook: {{url: {REPORT}, times: 1}}}}
            """,
            at_once=3,
            webhooks=f"      - url: {REPORT}\n        status: 503\n",
        )
    )
    logged = [r.detail for r in result.traces if isinstance(r, t.ActionDone) and r.action == "log"]
    assert logged == ["report failed 503"]


async def test_the_run_id_is_in_each_conversation_and_the_report(
    campaign: Callable[..., Any],
) -> None:
    result = _passed(
        await campaign(
            """
            - accept
            - say: "yes"
            - wait: 10m
            """
        )
    )
    events = [r for r in result.traces if isinstance(r, CampaignEvent)]
    runs = {r.campaign for r in events}
    assert len(runs) == 1
    (run,) = runs
    joined = [r for r in events if r.kind == "campaign_joined"]
    assert [r.data["uri"] for r in joined] == [ANN, BOB, CY]
    # ann's part runs in her conversation; the others' in their declined/no_answer instance
    assert not joined[0].conversation.startswith(("campaign:", "outbound:"))
    # named after the run too: two runs with the same person do not collide
    assert [r.conversation for r in joined[1:]] == [f"outbound:{run}:{BOB}", f"outbound:{run}:{CY}"]
    sets = [r for r in events if r.kind == "campaign_set"]
    assert {(r.data["name"], r.conversation) for r in sets} >= {
        ("yes", joined[0].conversation),
        ("skipped", f"outbound:{run}:{BOB}"),
    }
    assert events[-1].conversation == f"campaign:{run}"


async def test_a_plain_inbound_conversation_of_a_campaign_flow_cannot_set_the_campaign(
    campaign: Callable[..., Any],
) -> None:
    # not in the run's list: a conversation the person starts is in no campaign run
    result = _passed(
        await campaign(
            """
            - invite: hi
            - expect: {say: "Yes or no? (0 of 0 done, mine=1)"}
            - say: "yes"
            - expect: {say: "Thanks! 0 yes so far."}
            """,
            caller="sip:dan@contoso.com",
        )
    )
    errors = [r.message for r in result.traces if isinstance(r, t.FlowError)]
    assert any("belongs to no campaign run" in message for message in errors), errors


async def test_a_stopping_bot_invites_nobody_more_and_sends_no_report(tmp_path: Path) -> None:
    (tmp_path / "poll.flow.yaml").write_text(FLOW.replace("AT_ONCE", "1"), encoding="utf-8")
    flow = load_flow(tmp_path / "poll.flow.yaml").flow
    assert flow is not None
    scenario = Scenario("stop", flow.location, ANN, None, (), (), ())
    async with Stage(flow, scenario) as stage:
        await stage.party(ANN).accept()
        await stage.settle()
        await stage.bot.aclose()  # stops Ann's conversation: she is done, but nobody follows
        await stage.settle()
        assert _events(stage.traces, "campaign_invited", "campaign_person_done") == [
            ("campaign_invited", ANN),
            ("campaign_person_done", ANN),
        ]
        assert not stage.party(BOB).texts
        assert stage.web.requests == []
