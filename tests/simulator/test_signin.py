"""Discovery, WebTicket, applications, makeMeAvailable and reportMyActivity."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig

from .conftest import BASE, flat, sign_in


async def test_discovery_links_are_absolute_on_the_host_used(client: httpx.AsyncClient) -> None:
    r = await client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert r.headers["cache-control"] == "no-cache"
    assert r.headers["x-ms-server-fqdn"]
    assert r.headers["x-ms-ucwaversion"]
    links = r.json()["_links"]
    assert links["user"]["href"] == (
        f"{BASE}/Autodiscover/AutodiscoverService.svc/root/oauth/user?originalDomain=contoso.com"
    )
    assert set(links) == {"self", "user", "xframe"}


async def test_user_without_token_gets_the_iis_challenge(client: httpx.AsyncClient) -> None:
    r = await client.get("/Autodiscover/AutodiscoverService.svc/root/oauth/user")
    assert r.status_code == 401
    assert r.headers["content-type"].startswith("text/html")
    challenges = r.headers.get_list("www-authenticate")
    assert len(challenges) == 2
    assert challenges[0].startswith('Bearer trusted_issuers="00000002-0000-0ff1-ce00-')
    assert challenges[1] == (
        f'MsRtcOAuth href="{BASE}/WebTicket/oauthtoken",'
        'grant_type="urn:microsoft.rtc:windows,urn:microsoft.rtc:anonmeeting,password"'
    )


async def test_token_grants_and_errors(client: httpx.AsyncClient) -> None:
    ok = await client.post(
        "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": "lenea@contoso.com", "password": "pass@word1"},
    )
    assert ok.status_code == 200
    body = ok.json()
    assert body["access_token"].startswith("cwt=")
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 28800
    bad = await client.post(
        "/webticket/oauthtoken",
        data={"grant_type": "password", "username": "lenea@contoso.com", "password": "nope"},
    )
    assert (bad.status_code, bad.json()) == (400, {"error": "invalid_grant"})
    windows = await client.post(
        "/WebTicket/oauthtoken", data={"grant_type": "urn:microsoft.rtc:windows"}
    )
    assert windows.json() == {"error": "unsupported_grant_type"}


async def test_application_created_then_same_endpoint_returns_it(
    client: httpx.AsyncClient,
) -> None:
    session = await sign_in(client, "CONTOSO\\toshm")
    app = session.app
    app_id = app["_links"]["self"]["href"].rsplit("/", 1)[1]
    assert len(app_id) >= 11
    assert app_id.isdigit()
    assert app["_links"]["events"]["href"].endswith("/events?ack=1")
    assert app["_embedded"]["me"]["uri"] == "sip:toshm@contoso.com"
    assert "makeMeAvailable" in app["_embedded"]["me"]["_links"]
    assert app["_embedded"]["communication"]["supportedModalities"] == []
    assert set(app["_embedded"]) == {"me", "people", "onlineMeetings", "communication"}
    endpoint = {"userAgent": "again", "endpointId": "fixed-id", "culture": "en-US"}
    first = await session.post("/ucwa/oauth/v1/applications", json=endpoint)
    second = await session.post(
        "/ucwa/oauth/v1/applications",
        json={"UserAgent": "again", "EndpointId": "fixed-id", "Culture": "en-US"},
    )
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["_links"]["self"] == second.json()["_links"]["self"]


async def test_make_me_available_events_and_conflict_on_repeat(
    clock: ManualClock, client: httpx.AsyncClient
) -> None:
    session = await sign_in(client, "toshm@contoso.com")
    assert "reportMyActivity" not in session.app["_embedded"]["me"]["_links"]
    href = session.link("me", "self") + "/reportMyActivity"
    early = await session.post(href)
    assert early.status_code == 409
    assert early.json()["subcode"] == "MakeMeAvailableRequired"
    await session.make_me_available()
    again = await session.post(session.link("me", "makeMeAvailable"), json={})
    assert again.status_code == 409
    assert again.json() == {
        "code": "Conflict",
        "subcode": "AlreadyExists",
        "message": "Multiple invocations of this operation is not valid.",
    }
    poll = asyncio.create_task(session.events())
    await clock.advance(5)  # medium-priority events wait for the medium hold
    body = await poll
    assert flat(body) == [
        ("me", "me", "updated"),
        ("me", "presence", "added"),
        ("me", "note", "added"),
        ("me", "location", "added"),
        ("communication", "communication", "updated"),
    ]
    comm = body["sender"][1]["events"][0]["_embedded"]["communication"]
    assert comm["supportedModalities"] == ["Messaging"]
    app = (await session.get(session.link("self"))).json()
    me_links = app["_embedded"]["me"]["_links"]
    assert "makeMeAvailable" not in me_links
    assert {"presence", "note", "location", "reportMyActivity"} <= set(me_links)
    assert (await session.post(me_links["reportMyActivity"]["href"])).status_code == 204


async def test_medium_events_are_held_for_the_medium_time(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    session = await sign_in(client, "toshm@contoso.com")
    poll = asyncio.create_task(session.events())
    await clock.advance(0.5)
    await session.make_me_available()
    await clock.advance(1)
    assert not poll.done()
    await clock.advance(5)
    body = await poll
    assert len(flat(body)) == 5


async def test_expired_token_gets_401_and_application_survives(
    sim: Simulator, clock: ManualClock, client: httpx.AsyncClient
) -> None:
    sim.config.token_lifetime = 600
    session = await sign_in(client, "lenea@contoso.com")
    await clock.advance(600)
    r = await session.get(session.link("self"))
    assert r.status_code == 401
    assert len(r.headers.get_list("www-authenticate")) == 2
    fresh = await client.post(
        "/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": "lenea@contoso.com", "password": "pass@word1"},
    )
    session.token = fresh.json()["access_token"]
    assert (await session.get(session.link("self"))).status_code == 200
    sim.expire_token("lenea@contoso.com")
    assert (await session.get(session.link("self"))).status_code == 401


async def test_a_fresh_token_is_refused_at_its_first_use_as_often_as_asked(
    sim: Simulator, client: httpx.AsyncClient
) -> None:
    session = await sign_in(client, "lenea@contoso.com")
    me = session.link("self")
    sim.refuse_fresh_token("sip:lenea@contoso.com", times=2)
    assert (await session.get(me)).status_code == 200  # a token already in use is not new
    tosh = await sign_in(client, "toshm@contoso.com")  # nor is anyone else's concerned
    assert (await tosh.get(tosh.link("self"))).status_code == 200

    async def grant() -> str:
        form = {"grant_type": "password", "username": "lenea@contoso.com", "password": "pass@word1"}
        answer = await client.post("/WebTicket/oauthtoken", data=form)
        return str(answer.json()["access_token"])

    for _ in range(2):
        session.token = await grant()
        refused = await session.get(me)
        assert refused.status_code == 401
        assert len(refused.headers.get_list("www-authenticate")) == 2  # the challenge
        assert (await session.get(me)).status_code == 401  # and it stays dead
    session.token = await grant()
    assert (await session.get(me)).status_code == 200  # the refusals are used up
    with pytest.raises(ValueError, match="at least 1"):
        sim.refuse_fresh_token("sip:lenea@contoso.com", times=0)


async def test_applications_host_needs_a_token_of_that_host() -> None:
    sim = Simulator(
        SimulatorConfig(applications_host="pool2.contoso.com", tokens_per_host=True),
        clock=ManualClock(),
    )
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        token = (
            await c.post(
                "/WebTicket/oauthtoken",
                data={
                    "grant_type": "password",
                    "username": "toshm@contoso.com",
                    "password": "pass@word1",
                },
            )
        ).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        user = await c.get("/Autodiscover/AutodiscoverService.svc/root/oauth/user", headers=auth)
        apps = user.json()["_links"]["applications"]["href"]
        assert apps == "http://pool2.contoso.com/ucwa/oauth/v1/applications"
        denied = await c.post(
            apps, headers=auth, json={"UserAgent": "a", "EndpointId": "b", "Culture": "en-US"}
        )
        assert denied.status_code == 401
        assert 'href="http://pool2.contoso.com/WebTicket/oauthtoken"' in ",".join(
            denied.headers.get_list("www-authenticate")
        )
