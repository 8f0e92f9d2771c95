"""WebTicketAuth: challenge parsing, the password grant, per-host tokens, refresh, failures."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.ucwa.fake_pool import CHALLENGES, HOST, PASSWORD, FakePool, transport_for
from ucwa_flow.clock import ManualClock
from ucwa_flow.ucwa import UcwaClient, WebTicketAuth
from ucwa_flow.ucwa.auth import parse_challenge
from ucwa_flow.ucwa.errors import AuthenticationFailed, UcwaHttpError

TOKEN_URL = "https://lyncweb.contoso.com/WebTicket/oauthtoken"


@pytest.mark.parametrize(
    ("headers", "grants"),
    [
        ([c.format(href=TOKEN_URL) for c in CHALLENGES["two"]], 3),
        ([c.format(href=TOKEN_URL) for c in CHALLENGES["merged"]], 2),
        ([c.format(href=TOKEN_URL) for c in CHALLENGES["unquoted"]], 1),
        ([c.format(href=TOKEN_URL) for c in CHALLENGES["lower"]], 0),
        # The grant list before the href, and the MsRtcOAuth challenge first.
        ([f'MsRtcOAuth grant_type="password", href="{TOKEN_URL}", Bearer client_id="x"'], 1),
    ],
)
def test_challenge_variants_all_yield_the_token_href(headers: list[str], grants: int) -> None:
    challenge = parse_challenge(headers)
    assert challenge is not None
    assert challenge.href == TOKEN_URL
    assert len(challenge.grant_types) == grants
    assert challenge.allows_password


def test_challenge_absent_or_without_href() -> None:
    assert parse_challenge([]) is None
    assert parse_challenge(["NTLM", "Negotiate"]) is None
    assert parse_challenge(['Bearer href="https://not-this-one/"']) is None
    assert parse_challenge(['MsRtcOAuth grant_type="password"']) is None
    windows = parse_challenge([CHALLENGES["windows-only"][0].format(href=TOKEN_URL)])
    assert windows is not None
    assert not windows.allows_password


def _client(pool: FakePool, auth: WebTicketAuth) -> httpx.AsyncClient:
    return httpx.AsyncClient(auth=auth, transport=transport_for(pool))


@pytest.mark.parametrize("style", ["two", "merged", "unquoted", "lower"])
async def test_401_challenge_gets_a_grant_and_retries_once(style: str) -> None:
    pool = FakePool(challenge=style)
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with _client(pool, auth) as http:
        response = await http.get(f"{HOST}/user")
        assert response.status_code == 200
        assert "applications" in response.json()["_links"]
        # The grant was the password grant, form-encoded, sent to the challenge's href.
        ((host, form),) = pool.grants
        assert host == HOST
        assert form == {
            "grant_type": "password",
            "username": "toshm@contoso.com",
            "password": PASSWORD,
        }
        # The token is reused: no second grant for the same host.
        assert (await http.get(f"{HOST}/user")).status_code == 200
        assert len(pool.grants) == 1
        assert [m for m, _ in pool.requests] == ["GET", "GET", "GET"]  # 401, retry, reuse


async def test_wrong_password_is_one_clear_sentence() -> None:
    pool = FakePool()
    auth = WebTicketAuth("toshm@contoso.com", "not-the-password")
    async with _client(pool, auth) as http:
        with pytest.raises(AuthenticationFailed) as caught:
            await http.get(f"{HOST}/user")
    assert (
        str(caught.value)
        == "wrong user name or password for toshm@contoso.com at lyncdiscover.contoso.com"
    )


async def test_second_401_after_a_fresh_grant_fails() -> None:
    pool = FakePool()
    pool.reject_all_tokens = True
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with _client(pool, auth) as http:
        with pytest.raises(AuthenticationFailed, match="refused a freshly issued token"):
            await http.get(f"{HOST}/user")
    assert len(pool.grants) == 1  # no grant storm


@pytest.mark.parametrize(
    ("style", "words"), [("ntlm", "NTLM"), ("windows-only", "password sign-in")]
)
async def test_no_password_grant_on_offer_is_reported(style: str, words: str) -> None:
    pool = FakePool(challenge=style)
    async with _client(pool, WebTicketAuth("toshm@contoso.com", PASSWORD)) as http:
        with pytest.raises(AuthenticationFailed, match=words):
            await http.get(f"{HOST}/user")
    assert pool.grants == []


async def test_expired_token_gets_a_new_grant_transparently() -> None:
    pool = FakePool()
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with _client(pool, auth) as http:
        assert (await http.get(f"{HOST}/user")).status_code == 200
        pool.expire_tokens()
        assert (await http.get(f"{HOST}/user")).status_code == 200
    assert len(pool.grants) == 2


async def test_token_refreshed_before_it_expires_on_the_injected_clock() -> None:
    clock = ManualClock()
    pool = FakePool(token_lifetime=600)
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD, clock=clock)
    async with _client(pool, auth) as http:
        await http.get(f"{HOST}/user")
        await clock.advance(530)  # before 600 - 60 s margin: still the same token
        await http.get(f"{HOST}/user")
        assert len(pool.grants) == 1
        await clock.advance(15)  # inside the margin: renewed before use, without a 401
        denied_before = sum(1 for _ in pool.requests)
        await http.get(f"{HOST}/user")
        assert len(pool.grants) == 2
        assert len(pool.requests) == denied_before + 1


async def test_concurrent_challenges_share_one_grant() -> None:
    pool = FakePool()
    async with _client(pool, WebTicketAuth("toshm@contoso.com", PASSWORD)) as http:
        responses = await asyncio.gather(*(http.get(f"{HOST}/user") for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len(pool.grants) == 1


async def test_tokens_are_per_host() -> None:
    pool = FakePool(apps_host="https://pool2.contoso.com")
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with _client(pool, auth) as http:
        await http.get(f"{HOST}/user")
        response = await http.get("https://pool2.contoso.com/user")
        assert response.status_code == 200
    assert [host for host, _ in pool.grants] == [HOST, "https://pool2.contoso.com"]
    assert auth.has_token(f"{HOST}/x")
    assert auth.has_token("https://pool2.contoso.com/y")


def _odd_pool(token_answer: Response) -> httpx.AsyncBaseTransport:
    """A pool whose WebTicket service answers ``token_answer`` to every grant."""

    async def anything(request: Request) -> Response:
        if request.url.path.endswith("oauthtoken"):
            return token_answer
        return Response(
            status_code=401, headers={"WWW-Authenticate": f"MsRtcOAuth href={TOKEN_URL}"}
        )

    return httpx.ASGITransport(
        app=Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])
    )


async def test_the_password_never_goes_to_a_plain_http_token_service() -> None:
    """An https server whose challenge names an http WebTicket href gets no password."""
    seen: list[str] = []

    async def anything(request: Request) -> Response:
        seen.append(f"{request.method} {request.url}")
        href = TOKEN_URL.replace("https:", "http:")
        return Response(status_code=401, headers={"WWW-Authenticate": f"MsRtcOAuth href={href}"})

    app = Starlette(routes=[Route("/{path:path}", anything, methods=["GET", "POST"])])
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=httpx.ASGITransport(app=app)) as http:
        with pytest.raises(AuthenticationFailed, match="unencrypted"):
            await http.get(f"{HOST}/user")
    assert seen == [f"GET {HOST}/user"]
    assert auth.grants == 0


async def test_token_service_failure_is_typed() -> None:
    transport = _odd_pool(JSONResponse({"code": "ServiceUnavailable"}, 503))
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with pytest.raises(UcwaHttpError) as caught:
            await http.get(f"{HOST}/user")
    assert caught.value.status == 503
    assert caught.value.code == "ServiceUnavailable"


async def test_token_answer_without_access_token_is_refused() -> None:
    transport = _odd_pool(JSONResponse({"token_type": "Bearer"}))
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=transport) as http:
        with pytest.raises(AuthenticationFailed, match="without a usable access token"):
            await http.get(f"{HOST}/user")


@pytest.mark.parametrize(
    "knobs",
    [
        # the https root links the user resource over http
        {"root": {"_links": {"user": {"href": "http://lyncweb.contoso.com/user"}}}},
        # the user resource links applications over http
        {"apps_host": "http://lyncweb.contoso.com"},
    ],
)
async def test_a_link_to_http_after_https_gets_no_password(knobs: dict[str, Any]) -> None:
    # the challenge over http named an http WebTicket service, and the password went there
    # in clear: a server link (or an event href) must not take sign-in off https
    pool = FakePool(**knobs)
    client = UcwaClient(
        "sip:toshm@contoso.com", PASSWORD, server_url=HOST, transport=transport_for(pool)
    )
    with pytest.raises(AuthenticationFailed, match="over http after sign-in began over https"):
        async with client:
            pass
    assert all(host.startswith("https://") for host, _ in pool.grants)  # never over http
    assert not any(url.startswith("http://") for url in pool.authorized)
