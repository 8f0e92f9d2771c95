"""A campaign run survives a restart of its durable bot (SQLite and PostgreSQL stores).

Three people, one at a time: the bot is stopped once the first is done (the second one's
conversation under way), a new bot starts on the same store, and the run carries on: the
conversation under way rejoins its run, the last person is invited, and one report holds all
three outcomes. A report whose answer the
crash cut off is sent again with the same ``Idempotency-Key``.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.e2e.campaign_poll import FLOW
from tests.e2e.harness import LENE, Hooks, Stage, stage, webhook_server
from tests.guards import WAIT
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.store import Store
from ucwa_flow.ucwa.errors import UcwaHttpError

ADRIANA = "sip:adrianag@contoso.com"
MARCO = "sip:marco@contoso.com"
ASK = "Yes or no?"


def _flow(hooks: Hooks) -> Flow:
    result = load_flow_text(FLOW.replace("REPORT_URL", f"{hooks.url}/report"), "poll.flow.yaml")
    assert result.flow is not None, [str(d) for d in result.diagnostics]
    return result.flow


def _reports(hooks: Hooks) -> list[tuple[dict[str, str], object]]:
    return [
        (headers, body)
        for (_, path, body), headers in zip(hooks.received, hooks.headers, strict=True)
        if path == "/report"
    ]


async def _answer(s: Stage, index: int, text: str, *, asked: bool = False) -> None:
    person = s.people[index]
    if not asked:
        assert await person.hear(2) == ["One question?", ASK]
    await person.say(text)
    assert await person.hear() == ["Thanks."]
    assert await person.hear_end() == "the bot ended the conversation"


async def _closed(s: Stage, store: Store) -> None:
    """Wait until the store has no run left to load: the run's closing is committed by the
    bot's own task after the step that closed it, which :meth:`Stage.idle` does not wait for
    (it gives it 50 ms)."""
    assert s.bot.durable is not None
    account = s.bot.durable.account
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while (await store.load(account)).campaigns != ():
        assert loop.time() < deadline, "timed out waiting for the run's closing commit"
        await asyncio.sleep(0.02)


async def _finished(s: Stage, store: Store) -> None:
    """The run is over: its record is not loaded again, and nobody hears anything more."""
    await _closed(s, store)
    for person in s.people:
        await person.silence()


async def test_a_run_stopped_after_the_first_person_completes_after_the_restart(
    store: Store,
) -> None:
    with webhook_server() as hooks:
        async with stage(_flow(hooks), store=store, before_bot=[LENE, ADRIANA, MARCO]) as s:
            await _answer(s, 0, "yes")
            adriana = s.people[1]
            assert await adriana.hear(2) == ["One question?", ASK]  # her part is under way
            await s.idle()
            assert s.task is not None
            s.task.cancel()
            await s.bot.aclose()  # a graceful stop (SIGTERM): the application is kept
            assert (await store.load(s.bot.durable.account)).campaigns  # type: ignore[union-attr]
            await s.restart()
            await _answer(s, 1, "no", asked=True)
            await _answer(s, 2, "yes")
            await s.until(lambda: len(_reports(hooks)) == 1, "the report")
            await s.idle()
            ((headers, report),) = _reports(hooks)  # once, not again
            assert isinstance(report, dict)
            assert report["yes"] == 2
            assert report["done"] == "3/3"
            assert report["answers"] == [f"{LENE} yes", f"{ADRIANA} no", f"{MARCO} yes"]
            assert [(p["uri"], p["outcome"]) for p in report["people"]] == [
                (LENE, "accepted"),
                (ADRIANA, "accepted"),
                (MARCO, "accepted"),
            ]
            assert headers.get("Idempotency-Key")
            await _finished(s, store)


async def test_a_report_cut_off_by_a_crash_is_sent_again_with_the_same_key(
    store: Store,
) -> None:
    with webhook_server() as hooks:
        async with stage(_flow(hooks), store=store, before_bot=[LENE, ADRIANA, MARCO]) as s:
            await _answer(s, 0, "yes")
            await _answer(s, 1, "yes")
            hooks.hold.set()  # the report's receiver takes its time
            await _answer(s, 2, "no")
            await s.until(lambda: len(_reports(hooks)) == 1, "the report", idle=False)
            await s.crash()  # its answer never reaches the bot
            hooks.hold.clear()
            await s.restart()
            await s.until(lambda: len(_reports(hooks)) == 2, "the report again")
            await s.idle()
            (first, body), (again, body_again) = _reports(hooks)
            assert first["Idempotency-Key"] == again["Idempotency-Key"]
            assert body == body_again
            await _finished(s, store)


async def test_an_invitation_ringing_at_the_stop_is_sent_again_after_the_restart(
    store: Store,
) -> None:
    with webhook_server() as hooks:
        people = [LENE, "agent:" + ADRIANA, MARCO]
        async with stage(_flow(hooks), store=store, before_bot=people) as s:
            adriana = s.agents[0]
            await _answer(s, 0, "yes")
            first = await adriana.invited()  # she lets it ring
            assert first.text == "One question?"
            invitations = s.bot.engine.invitations
            await s.until(  # the bot has heard it rings (one not yet named cannot be withdrawn)
                lambda: any(p.cancel_href for p in invitations._pending.values()),
                "the bot to hear the invitation rings",
            )
            assert s.task is not None
            s.task.cancel()
            await s.bot.aclose()  # withdraws what rings
            await s.restart()
            await s.until(lambda: adriana.ended, "the withdrawal of the first invitation")
            assert adriana.ended == [first.conversation]
            assert first.accept_href is not None
            with pytest.raises(UcwaHttpError):  # it can no longer be taken
                await adriana.client.accept(first.accept_href)
            again = await adriana.invited()
            assert again.text == "One question?"
            assert again.decline_href is not None
            await adriana.client.decline(again.decline_href)
            await _answer(s, 1, "yes")  # marco, once she is done
            await s.until(lambda: len(_reports(hooks)) == 1, "the report")
            await s.idle()
            ((_, report),) = _reports(hooks)
            assert isinstance(report, dict)
            assert [(p["uri"], p["outcome"]) for p in report["people"]] == [
                (LENE, "accepted"),
                (ADRIANA, "declined"),
                (MARCO, "accepted"),
            ]
            assert (report["yes"], report["done"]) == (2, "3/3")
            assert adriana.invitations.empty()


CAMPAIGN_HOOK = """\
version: 1
name: poll
start: ask
outbound:
  to: [sip:adrianag@contoso.com]
  message: "One question?"
  timeout: 2m
  campaign:
    variables: {skipped: []}
    report:
      url: HOOKS/report
      json: {skipped: "{{ campaign.skipped }}"}
      failure: [{log: failed}]
  declined:
    - webhook:
        url: HOOKS/lookup
        success: [{set: {campaign.skipped: "{{ campaign.skipped + [caller.uri] }}"}}]
        failure: [{log: lookup failed}]
states:
  ask:
    enter: [{say: Yes or no?}]
"""


async def test_a_person_is_done_once_their_branch_webhooks_answered() -> None:
    with webhook_server() as hooks:
        result = load_flow_text(CAMPAIGN_HOOK.replace("HOOKS", hooks.url), "poll.flow.yaml")
        assert result.flow is not None, [str(d) for d in result.diagnostics]
        async with stage(result.flow, before_bot=["agent:" + ADRIANA]) as s:
            adriana = s.agents[0]
            offer = await adriana.invited()
            assert offer.decline_href is not None
            await adriana.client.decline(offer.decline_href)
            await s.until(lambda: len(_reports(hooks)) == 1, "the report")
            await s.idle()
            assert [path for (_, path, _) in hooks.received] == ["/lookup", "/report"]
            ((_, report),) = _reports(hooks)
            assert report == {"skipped": [ADRIANA]}  # the lookup's branch set it in time


async def test_a_run_whose_flow_is_gone_is_closed_at_the_restart(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_server() as hooks:
        people = [LENE, "agent:" + ADRIANA, MARCO]
        async with stage(_flow(hooks), store=store, before_bot=people) as s:
            await _answer(s, 0, "yes")
            await s.agents[0].invited()
            assert s.task is not None
            s.task.cancel()
            await s.bot.aclose()
            text = FLOW.replace("REPORT_URL", f"{hooks.url}/report")
            renamed = load_flow_text(text.replace("name: poll", "name: poll2"), "poll2.flow.yaml")
            assert renamed.flow is not None
            await s.restart(renamed.flow)  # starts: no KeyError
            await s.idle()
            warnings = [r.getMessage() for r in caplog.records if "is gone" in r.getMessage()]
            assert len(warnings) == 1, warnings
            assert "flow poll is gone" in warnings[0]
            await _closed(s, store)  # not loaded again
            assert _reports(hooks) == []
            assert s.agents[0].invitations.empty()  # nobody is invited again


async def test_a_run_whose_flow_is_gone_invites_nobody_when_its_conversation_ends(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    with webhook_server() as hooks:
        async with stage(_flow(hooks), store=store, before_bot=[LENE, ADRIANA, MARCO]) as s:
            assert await s.people[0].hear(2) == ["One question?", ASK]  # under way at the stop
            await s.idle()
            assert s.task is not None
            s.task.cancel()
            await s.bot.aclose()
            text = FLOW.replace("REPORT_URL", f"{hooks.url}/report")
            renamed = load_flow_text(text.replace("name: poll", "name: poll2"), "poll2.flow.yaml")
            assert renamed.flow is not None
            await s.restart(renamed.flow)
            (changed,) = await s.people[0].hear()  # her conversation's flow is gone too
            assert "updated meanwhile" in changed
            assert await s.people[0].hear_end() == "the bot ended the conversation"
            await s.idle()
            warnings = [
                r.getMessage() for r in caplog.records if "flow poll is gone" in r.getMessage()
            ]
            assert len(warnings) == 1, warnings
            assert _reports(hooks) == []
            await _closed(s, store)
            for person in s.people[1:]:
                await person.silence()  # nobody else is invited
