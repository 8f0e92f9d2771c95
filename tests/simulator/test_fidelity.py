"""Shapes and IIS details that clients written for real servers rely on (issue 9), each
checked with raw HTTP requests over a real loopback socket (``serve(sim)``)."""

from __future__ import annotations

import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve

from .conftest import Session, sign_in

TOKEN_PATH = "/WebTicket/oauthtoken"
APPS_PATH = "/ucwa/oauth/v1/applications"


@pytest.fixture
async def url(sim: Simulator) -> AsyncIterator[str]:
    async with serve(sim) as base:
        yield base
    sim.close()


@pytest.fixture
async def http(url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=url, timeout=WAIT) as c:
        yield c


def _events(body: dict[str, Any], rel: str) -> list[dict[str, Any]]:
    return [e for block in body["sender"] for e in block["events"] if e["link"]["rel"] == rel]


async def _ringing(http: httpx.AsyncClient) -> tuple[Session, Session, dict[str, Any]]:
    """Tosh and Lene signed in and available (Plain and Html); Lene invites Tosh."""
    tosh = await sign_in(http, "toshm@contoso.com")
    lene = await sign_in(http, "lenea@contoso.com")
    for session in (tosh, lene):
        await session.make_me_available(("Plain", "Html"))
    started = await lene.post(
        lene.link("communication", "startMessaging"),
        json={"to": "sip:toshm@contoso.com", "operationId": "op-1"},
    )
    assert started.status_code == 201
    await lene.events()
    (offer,) = [e for e in _events(await tosh.events(), "messagingInvitation")]
    return tosh, lene, offer["_embedded"]["messagingInvitation"]


async def test_an_incoming_invitation_links_from_to_the_embedded_participant(
    http: httpx.AsyncClient,
) -> None:
    tosh, _, invitation = await _ringing(http)
    assert invitation["direction"] == "Incoming"
    linked = invitation["_links"]["from"]
    embedded = invitation["_embedded"]["from"]
    assert linked["href"] == embedded["_links"]["self"]["href"]
    assert linked["title"] == "Lene Aaling"
    participant = await tosh.get(linked["href"])
    assert participant.status_code == 200
    body = participant.json()
    assert (body["rel"], body["uri"], body["name"]) == (
        "participant",
        "sip:lenea@contoso.com",
        "Lene Aaling",
    )
    # the GET of the invitation itself has the link too
    again = await tosh.get(invitation["_links"]["self"]["href"])
    assert again.json()["_links"]["from"] == linked


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("text/plain", "plain hello"), ("text/html", "<b>html</b> hello")],
)
async def test_the_senders_own_message_event_carries_no_body(
    http: httpx.AsyncClient, content_type: str, body: str
) -> None:
    tosh, lene, invitation = await _ringing(http)
    assert (await tosh.post(invitation["_links"]["accept"]["href"])).status_code == 204
    connected = await tosh.events()
    await lene.events()
    (messaging,) = [
        e["_embedded"]["messaging"]
        for e in _events(connected, "messaging")
        if e["_embedded"]["messaging"]["state"] == "Connected"
    ]
    sent = await tosh.post(
        messaging["_links"]["sendMessage"]["href"] + "?OperationContext=op-2",
        content=body.encode(),
        headers={"Content-Type": content_type},
    )
    assert sent.status_code == 201

    (own,) = _events(await tosh.events(), "message")
    assert (own["type"], own["status"]) == ("completed", "Success")
    message = own["_embedded"]["message"]
    assert message["direction"] == "Outgoing"
    assert set(message["_links"]) == {"self", "messaging"}  # no text, no participant
    assert message["_links"]["self"]["href"] == sent.headers["location"]

    (theirs,) = _events(await lene.events(), "message")
    received = theirs["_embedded"]["message"]
    assert received["direction"] == "Incoming"
    assert {"plainMessage", "participant"} <= set(received["_links"])
    assert ("htmlMessage" in received["_links"]) == (content_type == "text/html")


async def test_repeated_slashes_in_a_path_are_served_as_one(
    http: httpx.AsyncClient, url: str
) -> None:
    # absolute URLs: httpx would read a relative "//ucwa/..." as a host name
    session = await sign_in(http, "toshm@contoso.com")
    app_href = session.link("self")
    assert app_href.startswith("/ucwa/")
    straight = await session.get(app_href)
    assert straight.status_code == 200
    for doubled in ("/" + app_href, app_href.replace("/", "//"), "//" + app_href[1:] + "//"):
        answer = await session.get(url + doubled)
        assert answer.request.url.raw_path.startswith(b"//"), doubled
        assert answer.status_code == 200, doubled
        assert answer.json() == straight.json()
    root = await http.get(url + "//Autodiscover//AutodiscoverService.svc/root")
    assert root.status_code == 200
    assert "user" in root.json()["_links"]
    # a doubled path that names nothing is still a 404, not something else
    assert (await session.get(url + "/" + app_href + "/nothing")).status_code == 404


async def _raw(
    http: httpx.AsyncClient, method: str, path: str, encoding: str, **kw: Any
) -> httpx.Response:
    headers = {"Accept-Encoding": encoding} | kw.pop("headers", {})
    request = http.build_request(method, path, headers=headers, **kw)
    response = await http.send(request, stream=True)
    response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    await response.aclose()
    return response


async def test_every_json_answer_is_gzipped_when_the_client_allows_it(
    http: httpx.AsyncClient,
) -> None:
    form = {"grant_type": "password", "username": "toshm@contoso.com", "password": "wrong"}
    plain = await _raw(http, "POST", TOKEN_PATH, "identity", data=form)
    assert plain.status_code == 400
    assert len(plain.content) < 30  # {"error":"invalid_grant"}
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert json.loads(plain.content) == {"error": "invalid_grant"}

    packed = await _raw(http, "POST", TOKEN_PATH, "gzip, deflate", data=form)
    assert packed.status_code == 400
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert int(packed.headers["content-length"]) == len(packed.content)
    assert json.loads(gzip.decompress(packed.content)) == {"error": "invalid_grant"}

    # empty answers stay empty, gzip or not: a 204, and a 201 with only a Location
    session = await sign_in(http, "toshm@contoso.com")
    auth = {"Authorization": f"Bearer {session.token}"}
    available = await _raw(
        http,
        "POST",
        session.link("me", "makeMeAvailable"),
        "gzip",
        headers=auth,
        json={"SupportedModalities": ["Messaging"]},
    )
    assert available.status_code == 204
    assert available.content == b""
    assert "content-encoding" not in available.headers
    lene = await sign_in(http, "lenea@contoso.com")
    await lene.make_me_available()
    invited = await _raw(
        http,
        "POST",
        session.link("communication", "startMessaging"),
        "gzip",
        headers=auth,
        json={"to": "sip:lenea@contoso.com", "operationId": "op-3"},
    )
    assert invited.status_code == 201
    assert invited.content == b""
    assert "content-encoding" not in invited.headers


async def _token(http: httpx.AsyncClient, host: str | None = None) -> str:
    headers = {"Host": host} if host else {}
    r = await http.post(
        TOKEN_PATH,
        headers=headers,
        data={"grant_type": "password", "username": "toshm@contoso.com", "password": "pass@word1"},
    )
    assert r.status_code == 200
    return str(r.json()["access_token"])


def _on(url: str, name: str) -> str:
    """``url``'s ``host:port`` with the host replaced by ``name`` (sent as ``Host``)."""
    return name + ":" + url.rsplit(":", 1)[1]


async def test_a_token_is_good_on_every_name_of_the_pool(http: httpx.AsyncClient, url: str) -> None:
    token = await _token(http)  # issued on 127.0.0.1
    auth = {"Authorization": f"Bearer {token}"}
    for name in ("127.0.0.1", "localhost", "lyncweb.contoso.com", "W15-LYNC-SE1.contoso.com"):
        user = await http.get(
            "/Autodiscover/AutodiscoverService.svc/root/oauth/user",
            headers=auth | {"Host": _on(url, name)},
        )
        assert user.status_code == 200, name
        apps = user.json()["_links"]["applications"]["href"]
        assert apps.startswith(f"http://{_on(url, name)}/")
    created = await http.post(
        APPS_PATH,
        headers=auth | {"Host": _on(url, "localhost")},
        json={"UserAgent": "t", "EndpointId": "e1", "Culture": "en-US"},
    )
    assert created.status_code == 201


async def test_with_tokens_per_host_a_token_is_good_only_where_it_was_issued() -> None:
    sim = Simulator(SimulatorConfig(tokens_per_host=True), clock=ManualClock())
    async with serve(sim) as url, httpx.AsyncClient(base_url=url, timeout=WAIT) as http:
        token = await _token(http)  # issued on 127.0.0.1
        auth = {"Authorization": f"Bearer {token}"}
        user_path = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
        assert (await http.get(user_path, headers=auth)).status_code == 200
        elsewhere = await http.get(user_path, headers=auth | {"Host": _on(url, "localhost")})
        assert elsewhere.status_code == 401
        challenge = ",".join(elsewhere.headers.get_list("www-authenticate"))
        assert f'MsRtcOAuth href="http://{_on(url, "localhost")}{TOKEN_PATH}"' in challenge
        # a token fetched there works there
        there = await _token(http, host=_on(url, "localhost"))
        headers = {"Authorization": f"Bearer {there}", "Host": _on(url, "localhost")}
        assert (await http.get(user_path, headers=headers)).status_code == 200
    sim.close()
