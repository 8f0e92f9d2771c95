"""Search, presence, presence subscriptions and application-level reportMyActivity, over a
real loopback socket (``serve(sim)``), signing in by following links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from tests.simulator.conftest import Session, flat, sign_in
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.simulator.state import Application

TOSH, LENE, ADRIANA = "sip:toshm@contoso.com", "sip:lenea@contoso.com", "sip:adrianag@contoso.com"
MEDIUM = 5  # the default medium hold: presence events are Medium


@pytest.fixture
async def web(sim: Simulator) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(sim) as url, httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
        yield client


async def medium_batch(session: Session, clock: ManualClock) -> dict[str, Any]:
    """The next batch, once the Medium events queued so far are due."""
    await clock.advance(MEDIUM)
    return await session.events()


def app_of(sim: Simulator, session: Session) -> Application:
    app_id = session.link("self").rsplit("/", 1)[1]
    return next(a for a in sim.applications if a.id == app_id)


async def availability(session: Session, href: str) -> tuple[str, str | None]:
    r = await session.get(href)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["_links"]["self"]["href"].endswith(href.split("/applications/", 1)[1])
    return body["availability"], body.get("activity")


# -- search -------------------------------------------------------------------------------


async def test_search_finds_oneself_and_others_and_an_unknown_query_nothing(
    web: httpx.AsyncClient,
) -> None:
    tosh = await sign_in(web, "toshm@contoso.com")
    href = tosh.link("people", "search")

    own = await tosh.get(href, params={"query": "toshm@contoso.com"})
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["rel"] == "search"
    assert body["moreResultsAvailable"] is False
    assert "query=toshm%40contoso.com" in body["_links"]["self"]["href"]
    [me] = body["_embedded"]["contact"]
    assert (me["uri"], me["name"], me["emailAddresses"]) == (
        TOSH,
        "Tosh Meston",
        ["toshm@contoso.com"],
    )
    assert me["_links"]["self"]["href"].endswith("/people/toshm@contoso.com")
    presence = me["_links"]["contactPresence"]["href"]
    assert presence.endswith("/people/toshm@contoso.com/presence")
    assert await availability(tosh, presence) == ("Offline", None)  # not made available

    def uris(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [c["uri"] for c in r.json()["_embedded"]["contact"]]

    assert uris(await tosh.get(href, params={"query": "LENE"})) == [LENE]  # name, any case
    assert uris(await tosh.get(href, params={"query": "sip:adrianag"})) == [ADRIANA]  # uri
    assert uris(await tosh.get(href, params={"query": "contoso.com"})) == [TOSH, LENE, ADRIANA]
    limited = await tosh.get(href, params={"query": "contoso.com", "limit": "2"})
    assert uris(limited) == [TOSH, LENE]
    assert limited.json()["moreResultsAvailable"] is True

    nothing = await tosh.get(href, params={"query": "nobody-at-all"})
    assert uris(nothing) == []
    assert nothing.json()["moreResultsAvailable"] is False

    for params in ({}, {"query": " "}, {"query": "x" * 257}, {"query": "a", "limit": "0"}):
        bad = await tosh.get(href, params=params)
        assert bad.status_code == 400, params
        assert bad.json()["subcode"] == "ParameterValidationFailure"


# -- application-level reportMyActivity ---------------------------------------------------


async def test_application_level_report_my_activity_like_the_me_form(
    sim: Simulator, clock: ManualClock, web: httpx.AsyncClient
) -> None:
    tosh = await sign_in(web, "toshm@contoso.com")
    href = tosh.link("self") + "/reportMyActivity"  # the form of the reference sample
    early = await tosh.post(href)
    assert early.status_code == 409
    assert early.json()["subcode"] == "MakeMeAvailableRequired"
    await tosh.make_me_available()
    await clock.advance(100)
    done = await tosh.post(href)
    assert done.status_code == 204
    assert app_of(sim, tosh).last_activity == clock.monotonic()  # counts as activity
    assert (await tosh.get(href)).status_code == 405


# -- my presence ----------------------------------------------------------------------------


async def test_presence_set_get_events_and_invalid_values(
    clock: ManualClock, web: httpx.AsyncClient
) -> None:
    tosh = await sign_in(web, "toshm@contoso.com")
    lene = await sign_in(web, "lenea@contoso.com")
    mine = tosh.link("me", "self") + "/presence"
    seen_by_lene = lene.link("people", "self") + "/toshm@contoso.com/presence"

    early = await tosh.get(mine)
    assert (early.status_code, early.json()["subcode"]) == (409, "MakeMeAvailableRequired")
    early = await tosh.post(mine, json={"availability": "Busy"})
    assert (early.status_code, early.json()["subcode"]) == (409, "MakeMeAvailableRequired")
    assert await availability(lene, seen_by_lene) == ("Offline", None)

    await tosh.make_me_available()
    assert flat(await medium_batch(tosh, clock))[1] == ("me", "presence", "added")
    assert await availability(tosh, mine) == ("Online", None)
    assert await availability(lene, seen_by_lene) == ("Online", None)

    assert (await tosh.post(mine, json={"availability": "Busy"})).status_code == 204
    assert await availability(tosh, mine) == ("Busy", None)
    assert await availability(lene, seen_by_lene) == ("Busy", None)
    # any case; and two changes before the client looks collapse into one event
    assert (await tosh.post(mine, json={"Availability": "doNotDisturb"})).status_code == 204
    body = await medium_batch(tosh, clock)
    assert flat(body) == [("me", "presence", "updated")]
    assert body["sender"][0]["events"][0]["link"]["href"].endswith(mine.split("/ucwa", 1)[1])
    assert await availability(lene, seen_by_lene) == ("DoNotDisturb", None)

    for value in ("Sleeping", "Offline", "IdleOnline", 3, ""):
        bad = await tosh.post(mine, json={"availability": value})
        assert bad.status_code == 400, value
        assert bad.json()["subcode"] == "ParameterValidationFailure"
        assert bad.json()["parameters"][0]["name"] == "availability"
    assert await availability(tosh, mine) == ("DoNotDisturb", None)

    assert (await tosh.post(mine, json={"availability": "Offwork"})).status_code == 204
    assert await availability(tosh, mine) == ("Away", "Off Work")
    assert await availability(lene, seen_by_lene) == ("Away", "off-work")
    assert (await tosh.post(mine, json={})).status_code == 204  # an empty body resets
    assert await availability(tosh, mine) == ("Online", None)


async def test_sign_in_as_and_sign_out(clock: ManualClock, web: httpx.AsyncClient) -> None:
    tosh = await sign_in(web, "toshm@contoso.com")
    lene = await sign_in(web, "lenea@contoso.com")
    seen_by_lene = lene.link("people", "self") + "/toshm@contoso.com/presence"
    mma = tosh.link("me", "makeMeAvailable")
    bad = await tosh.post(mma, json={"SupportedModalities": ["Messaging"], "signInAs": "Gone"})
    assert (bad.status_code, bad.json()["parameters"][0]["name"]) == (400, "signInAs")
    ok = await tosh.post(mma, json={"SupportedModalities": ["Messaging"], "signInAs": "Busy"})
    assert ok.status_code == 204
    assert await availability(lene, seen_by_lene) == ("Busy", None)
    assert (await tosh.client.delete(tosh.link("self"), headers=tosh.headers)).status_code == 204
    assert await availability(lene, seen_by_lene) == ("Offline", None)
    again = await sign_in(web, "toshm@contoso.com")
    await again.make_me_available()  # a new sign-in starts Online again
    assert await availability(lene, seen_by_lene) == ("Online", None)


# -- presence subscriptions ---------------------------------------------------------------


async def test_subscription_delivers_contact_presence_until_deleted(
    clock: ManualClock, web: httpx.AsyncClient
) -> None:
    lene = await sign_in(web, "lenea@contoso.com")  # the subscriber
    await lene.make_me_available()
    await medium_batch(lene, clock)
    tosh = await sign_in(web, "toshm@contoso.com")  # the contact, signed in but not available
    subs = lene.link("people", "presenceSubscriptions")
    created = await lene.post(subs, json={"duration": 15, "uris": [TOSH, "sip:nobody@contoso.com"]})
    assert created.status_code == 201, created.text
    sub = created.json()
    assert sub["rel"] == "presenceSubscription"
    location = created.headers["location"]
    assert location == sub["_links"]["self"]["href"]
    assert (await lene.get(location)).json() == sub
    listed = (await lene.get(subs)).json()["_embedded"]["presenceSubscription"]
    assert listed == [sub]
    members = (await lene.get(sub["_links"]["memberships"]["href"])).json()
    [member] = members["_embedded"]["presenceSubscriptionMembership"]
    assert member["_links"]["contact"]["href"].endswith("/people/toshm@contoso.com")
    assert member["_links"]["presenceSubscription"]["href"] == location
    assert (await lene.get(member["_links"]["self"]["href"])).status_code == 200

    body = await medium_batch(lene, clock)
    assert flat(body) == [
        ("people", "presenceSubscription", "added"),
        ("people", "contactPresence", "updated"),  # the current state, once
    ]
    event = body["sender"][0]["events"][1]
    assert body["sender"][0]["href"].endswith("/people")
    assert event["in"]["rel"] == "contact"
    assert event["in"]["href"].endswith("/people/toshm@contoso.com")
    presence = event["link"]["href"]
    assert await availability(lene, presence) == ("Offline", None)

    await tosh.make_me_available()  # Offline -> Online
    assert flat(await medium_batch(lene, clock)) == [("people", "contactPresence", "updated")]
    assert await availability(lene, presence) == ("Online", None)

    mine = tosh.link("me", "self") + "/presence"
    assert (await tosh.post(mine, json={"availability": "Busy"})).status_code == 204
    assert flat(await medium_batch(lene, clock)) == [("people", "contactPresence", "updated")]
    assert await availability(lene, presence) == ("Busy", None)

    assert (await tosh.post(mine, json={"availability": "Busy"})).status_code == 204  # same
    assert (await lene.client.delete(location, headers=lene.headers)).status_code == 204
    assert (await lene.get(location)).status_code == 404
    assert (await tosh.post(mine, json={"availability": "Away"})).status_code == 204
    # only the subscription's end: no news of the unchanged Busy, nor of Away after DELETE
    assert flat(await medium_batch(lene, clock)) == [("people", "presenceSubscription", "deleted")]
    assert (await lene.get(subs)).json()["_embedded"]["presenceSubscription"] == []
    assert await availability(lene, presence) == ("Away", None)  # still readable by GET


async def test_subscription_sees_sign_out_memberships_and_bad_requests(
    sim: Simulator, clock: ManualClock, web: httpx.AsyncClient
) -> None:
    lene = await sign_in(web, "lenea@contoso.com")
    tosh = await sign_in(web, "toshm@contoso.com")
    await tosh.make_me_available()
    subs = lene.link("people", "presenceSubscriptions")
    for body in (
        {"uris": [TOSH]},
        {"duration": 9, "uris": [TOSH]},
        {"duration": 31, "uris": [TOSH]},
        {"duration": 10},
        {"duration": 10, "uris": TOSH},
    ):
        bad = await lene.post(subs, json=body)
        assert (bad.status_code, bad.json()["subcode"]) == (400, "ParameterValidationFailure")
    sub = (await lene.post(subs, json={"duration": 10, "uris": [TOSH]})).json()
    add = sub["_links"]["addToPresenceSubscription"]["href"]
    added = await lene.post(add, json={"contactUris": [ADRIANA, TOSH]})
    assert added.status_code == 201
    [new] = added.json()["_embedded"]["presenceSubscriptionMembership"]  # Tosh was in already
    assert new["_links"]["contact"]["href"].endswith("/people/adrianag@contoso.com")
    assert flat(await medium_batch(lene, clock)) == [
        ("people", "presenceSubscription", "added"),
        ("people", "contactPresence", "updated"),
        ("people", "contactPresence", "updated"),
    ]
    assert (
        await lene.client.delete(new["_links"]["self"]["href"], headers=lene.headers)
    ).status_code == 204
    everyone = (await lene.get(lene.link("people", "presenceSubscriptionMemberships"))).json()
    assert len(everyone["_embedded"]["presenceSubscriptionMembership"]) == 1
    contacts = (await lene.get(lene.link("people", "subscribedContacts"))).json()
    assert [c["uri"] for c in contacts["_embedded"]["contact"]] == [TOSH]

    # Tosh signs out: Lene hears it; Adriana (removed) appearing as a virtual user: not.
    assert (await tosh.client.delete(tosh.link("self"), headers=tosh.headers)).status_code == 204
    sim.virtual_user(ADRIANA)
    body = await medium_batch(lene, clock)
    assert flat(body) == [("people", "contactPresence", "updated")]
    assert await availability(lene, body["sender"][0]["events"][0]["link"]["href"]) == (
        "Offline",
        None,
    )


async def test_subscription_warns_before_it_expires_and_can_be_extended(
    clock: ManualClock,
) -> None:
    config = SimulatorConfig(pget_expiry=3600, resume_after=3600, seed=7)  # no P-GET needed
    sim = Simulator(config, clock=clock)
    async with serve(sim) as url, httpx.AsyncClient(base_url=url, timeout=WAIT) as web:
        lene = await sign_in(web, "lenea@contoso.com")
        channel = app_of(sim, lene).channel
        subs = lene.link("people", "presenceSubscriptions")
        sub = (await lene.post(subs, json={"duration": 10, "uris": [ADRIANA]})).json()
        href = sub["_links"]["self"]["href"]
        await medium_batch(lene, clock)  # added + the first contactPresence
        await clock.advance(300 - MEDIUM)
        extended = await lene.post(href, json={"duration": 10})  # 5 minutes left + 10
        assert (extended.status_code, extended.json()) == (201, sub)
        too_long = await lene.post(href, json={"duration": 45})
        assert too_long.status_code == 400
        await clock.advance(300)  # the first expiry (and its warning) would have come by now
        assert channel.pending_count == 0
        await clock.advance(540 + MEDIUM)  # 20 minutes in all, minus one, plus the hold
        assert flat(await lene.events()) == [("people", "presenceSubscription", "updated")]
        await clock.advance(60)
        assert flat(await lene.events()) == [("people", "presenceSubscription", "deleted")]
        assert (await lene.get(href)).status_code == 404


async def test_a_client_back_after_too_long_has_lost_its_subscriptions(
    sim: Simulator, clock: ManualClock, web: httpx.AsyncClient
) -> None:
    lene = await sign_in(web, "lenea@contoso.com")
    subs = lene.link("people", "presenceSubscriptions")
    sub = (await lene.post(subs, json={"duration": 30, "uris": [ADRIANA]})).json()
    await medium_batch(lene, clock)
    await clock.advance(sim.config.resume_after + 1)  # away, but the application lives on
    back = await lene.get(lene.next_events)
    assert "resume" in back.json()["_links"]  # transient state (subscriptions) was reset
    assert (await lene.get(sub["_links"]["self"]["href"])).status_code == 404
    assert (await lene.get(subs)).json()["_embedded"]["presenceSubscription"] == []
