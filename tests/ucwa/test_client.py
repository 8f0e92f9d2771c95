"""Discovery, sign-in and the IM operations of UcwaClient against the in-process fake pool."""

from __future__ import annotations

import json
import uuid
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.ucwa.fake_pool import APP, HOST, PASSWORD, FakePool, transport_for
from ucwa_flow.clock import ManualClock
from ucwa_flow.ucwa import UcwaClient, discover, endpoint_id_for
from ucwa_flow.ucwa.auth import WebTicketAuth
from ucwa_flow.ucwa.dataurl import decode_data_url
from ucwa_flow.ucwa.discovery import root_candidates
from ucwa_flow.ucwa.errors import (
    ApplicationGone,
    AuthenticationFailed,
    DiscoveryFailed,
    ServerUnreachable,
    UcwaHttpError,
)


def _client(pool: FakePool, **kwargs: object) -> UcwaClient:
    return UcwaClient(
        "sip:toshm@contoso.com",
        kwargs.pop("password", PASSWORD),  # type: ignore[arg-type]
        server_url=kwargs.pop("server_url", HOST),  # type: ignore[arg-type]
        transport=kwargs.pop("transport", transport_for(pool)),  # type: ignore[arg-type]
        **kwargs,  # type: ignore[arg-type]
    )


# -- discovery ------------------------------------------------------------------------------


def test_root_candidates_internal_then_external() -> None:
    assert root_candidates("sip:ToshM@Contoso.com") == (
        "https://lyncdiscoverinternal.contoso.com/",
        "https://lyncdiscover.contoso.com/",
    )
    assert root_candidates("sip:x@contoso.com", "http://127.0.0.1:8080") == (
        "http://127.0.0.1:8080",
    )
    with pytest.raises(DiscoveryFailed, match="sip:user@domain"):
        root_candidates("toshm")
    with pytest.raises(DiscoveryFailed, match="not an http"):
        root_candidates("sip:x@contoso.com", "ftp://contoso.com")


def test_a_server_url_or_sip_domain_that_is_no_valid_idna_is_refused_in_one_line() -> None:
    """httpx raised idna's InvalidCodepoint building the first request: a traceback."""
    with pytest.raises(DiscoveryFailed, match=r"^server URL 'https://xn--ab\.example/' has a "):
        root_candidates("sip:x@contoso.com", "https://xn--ab.example/")
    with pytest.raises(DiscoveryFailed, match=r"^the SIP domain of sip:x@xn--ab\.example "):
        root_candidates("sip:x@xn--ab.example")
    assert root_candidates("sip:x@xn--bcher-kva.example")[1] == (
        "https://lyncdiscover.xn--bcher-kva.example/"
    )


async def test_discovery_from_the_sip_domain_falls_back_to_external() -> None:
    pool = FakePool()
    transport = transport_for(pool)
    transport.unreachable.add("lyncdiscoverinternal.contoso.com")
    async with httpx.AsyncClient(
        auth=WebTicketAuth("toshm@contoso.com", PASSWORD), transport=transport
    ) as http:
        found = await discover(http, "sip:toshm@contoso.com")
    assert found.root_url == "https://lyncdiscover.contoso.com/"
    assert found.user_url == f"{HOST}/user"
    assert found.applications_url == f"{HOST}/ucwa/oauth/v1/applications"


async def test_discovery_unreachable_everywhere_is_one_sentence() -> None:
    pool = FakePool()
    transport = transport_for(pool)
    transport.unreachable |= {"lyncdiscoverinternal.contoso.com", "lyncdiscover.contoso.com"}
    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(
            ServerUnreachable, match="cannot reach any Autodiscover server for sip:toshm"
        ):
            await discover(http, "sip:toshm@contoso.com")


async def test_discovery_follows_a_root_redirect_to_another_pool() -> None:
    pool = FakePool(root={"_links": {"redirect": {"href": "https://pool2.contoso.com/"}}})
    pool.roots["pool2.contoso.com"] = {"_links": {"user": {"href": "/user"}}}
    auth = WebTicketAuth("t@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=transport_for(pool)) as http:
        found = await discover(http, "sip:t@contoso.com", server_url=HOST)
    assert found.root_url == HOST
    assert found.user_url == "https://pool2.contoso.com/user"
    assert [url for _, url in pool.requests] == [
        f"{HOST}/",
        "https://pool2.contoso.com/",
        "https://pool2.contoso.com/user",
        "https://pool2.contoso.com/user",
    ]
    assert [host for host, _ in pool.grants] == ["https://pool2.contoso.com"]


@pytest.mark.parametrize(
    ("root", "words"),
    [
        ({"_links": {"redirect": {"href": "/"}}}, "loop"),
        (
            {"_links": {"redirect": {"href": "http://lyncdiscover.contoso.com/other"}}},
            "leave https",
        ),
        ({"_links": {"xframe": {"href": "/xframe"}}}, "not a UCWA Autodiscover resource"),
        ([1, 2], "not JSON"),
    ],
)
async def test_discovery_refuses_bad_roots(root: object, words: str) -> None:
    pool = FakePool(root=root)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport_for(pool)) as http:
        with pytest.raises(DiscoveryFailed, match=words):
            await discover(http, "sip:t@contoso.com", server_url=HOST)


# -- sign-in --------------------------------------------------------------------------------


async def test_sign_in_creates_the_application_with_a_stable_endpoint_id() -> None:
    pool = FakePool(apps_host="https://pool2.contoso.com")
    async with _client(pool) as client:
        app = client.application
        assert app.generation == 1
        assert app.self_href == f"https://pool2.contoso.com{APP}"
        assert app.events_href == f"https://pool2.contoso.com{APP}/events?ack=1"
        assert (
            app.start_messaging_href
            == f"https://pool2.contoso.com{APP}/communication/messagingInvitations"
        )
        assert app.conversations_href is not None
        assert app.conversations_href.endswith("/communication/conversations?filter=active")
        assert app.uri == "sip:toshm@contoso.com"
        assert not app.is_available
    # A new token was fetched for the applications host, from that host's challenge.
    assert [host for host, _ in pool.grants] == [HOST, "https://pool2.contoso.com"]
    body = json.loads(pool.bodies[0][2])
    assert body["EndpointId"] == endpoint_id_for("sip:toshm@contoso.com")
    assert body["Culture"] == "en-US"
    uuid.UUID(body["EndpointId"])
    # A restart re-posts the same EndpointId and gets the application back.
    async with _client(pool) as again:
        assert again.application.self_href == app.self_href
    assert json.loads(pool.bodies[1][2])["EndpointId"] == body["EndpointId"]


async def test_sign_in_with_a_wrong_password_fails_clearly() -> None:
    with pytest.raises(
        AuthenticationFailed, match=r"wrong user name or password for toshm@contoso\.com"
    ):
        async with _client(FakePool(), password="nope"):
            pass


async def test_sign_in_unreachable_server() -> None:
    pool = FakePool()
    transport = transport_for(pool)
    transport.unreachable.add("lyncdiscover.contoso.com")
    client = _client(pool, transport=transport)
    with pytest.raises(ServerUnreachable, match=r"cannot reach https://lyncdiscover\.contoso\.com"):
        await client.sign_in()
    await client.aclose()


# -- operations -----------------------------------------------------------------------------


async def test_make_me_available_then_report_activity() -> None:
    pool = FakePool()
    async with _client(pool) as client:
        app = await client.make_me_available()
        assert app.is_available
        assert app.make_me_available_href is None
        _, url, content, _ = pool.bodies[-1]
        assert url.endswith("/me/makeMeAvailable")
        assert json.loads(content) == {
            "SupportedModalities": ["Messaging"],
            "SupportedMessageFormats": ["Plain", "Html"],
            "signInAs": "Online",
        }
        await client.make_me_available(["Plain"])  # a second call is harmless
        await client.report_my_activity()
        assert pool.bodies[-1][1].endswith("/me/reportMyActivity")
        with pytest.raises(ValueError, match="message formats"):
            await client.make_me_available(["Rtf"])


async def test_start_messaging_with_a_first_message() -> None:
    pool = FakePool()
    async with _client(pool) as client:
        href = await client.start_messaging(
            "lenea@contoso.com",
            subject="Help",
            importance="Urgent",
            operation_id="op-1",
            message="Hi Lene\r\n",
        )
        assert href == f"{HOST}{APP}/communication/messagingInvitations/60c6"
        body = json.loads(pool.bodies[-1][2])
        assert body["to"] == "sip:lenea@contoso.com"
        assert body["operationId"] == "op-1"
        assert body["importance"] == "Urgent"
        assert body["subject"] == "Help"
        assert decode_data_url(body["_links"]["message"]["href"]).text == "Hi Lene\r\n"
        with pytest.raises(ValueError, match="importance"):
            await client.start_messaging("sip:lenea@contoso.com", importance="High")


async def test_send_message_keeps_the_server_query_and_adds_the_operation_context() -> None:
    pool = FakePool()
    async with _client(pool) as client:
        link = f"{APP}/communication/conversations/c1/messaging/messages?x=1"
        href = await client.send_message(link, "Grüße & <b>", operation_context="ctx-7")
        assert href == f"{HOST}{APP}/communication/conversations/c1/messaging/messages/2"
        _, url, content, ctype = pool.bodies[-1]
        assert parse_qs(urlsplit(url).query) == {"x": ["1"], "OperationContext": ["ctx-7"]}
        assert content == "Grüße & <b>".encode()
        assert ctype == "text/plain; charset=utf-8"
        await client.send_message(link, "<b>hi</b>", html=True)
        assert pool.bodies[-1][3] == "text/html; charset=utf-8"
        assert parse_qs(urlsplit(pool.bodies[-1][1]).query)["OperationContext"][0]


async def test_accept_decline_typing_stop_leave_and_get() -> None:
    pool = FakePool()
    conv = f"{APP}/communication/conversations/c1"
    async with _client(pool) as client:
        await client.accept(f"{APP}/communication/messagingInvitations/6408/accept")
        await client.decline(f"{APP}/communication/messagingInvitations/6409/decline")
        await client.set_is_typing(f"{conv}/messaging/typing")
        await client.stop_messaging(f"{conv}/messaging/terminate")
        assert (await client.get(conv))["state"] == "Connected"
        await client.leave(conv)
    calls = [(m, urlsplit(u).path.removeprefix(APP), c) for m, u, c, _ in pool.bodies[1:]]
    assert calls == [
        ("POST", "/communication/messagingInvitations/6408/accept", b""),
        ("POST", "/communication/messagingInvitations/6409/decline", b'{"reason":"Local"}'),
        ("POST", "/communication/conversations/c1/messaging/typing", b""),
        ("POST", "/communication/conversations/c1/messaging/terminate", b""),
        ("GET", "/communication/conversations/c1", b""),
        ("DELETE", "/communication/conversations/c1", b""),
    ]


async def test_errors_carry_the_ucwa_error_body() -> None:
    pool = FakePool()
    async with _client(pool) as client:
        with pytest.raises(UcwaHttpError) as caught:
            await client.accept(f"{APP}/communication/fail")
        assert caught.value.status == 500
        assert (caught.value.code, caught.value.subcode) == (
            "ServiceFailure",
            "CallbackChannelError",
        )
        assert caught.value.error_message == "Try later."
        pool.gone = True
        with pytest.raises(ApplicationGone):
            await client.report_my_activity()


async def test_network_failure_on_an_operation_is_typed_and_not_retried() -> None:
    pool = FakePool()
    transport = transport_for(pool)
    async with _client(pool, transport=transport) as client:
        transport.after.append(("messages", httpx.ReadError("connection reset")))
        with pytest.raises(ServerUnreachable, match="connection reset"):
            await client.send_message(
                f"{APP}/communication/conversations/c1/messaging/messages", "hi"
            )
    sent = [u for m, u, _, _ in pool.bodies if "messages" in u]
    assert len(sent) == 1  # a POST that may have been applied is not repeated


async def test_recreate_application_once_and_redo_make_me_available() -> None:
    pool = FakePool()
    async with _client(pool) as client:
        first = await client.make_me_available()
        pool.gone = True
        again = await client.recreate_application(first)
        assert again.generation == 2
        assert again.is_available  # makeMeAvailable was redone
        # A second caller that saw the same failure does not re-create again.
        assert await client.recreate_application(first) is client.application
        assert pool.created == 2


async def test_keep_alive_reports_on_the_clock_and_recovers_an_expired_application() -> None:
    clock = ManualClock()
    pool = FakePool()
    async with _client(pool, clock=clock) as client:
        await client.make_me_available()
        task = client.start_keep_alive(60)
        await clock.advance(60)
        reports = [u for m, u, _, _ in pool.bodies if u.endswith("reportMyActivity")]
        assert len(reports) == 1
        pool.gone = True
        await clock.advance(60)
        assert pool.created == 2
        assert client.application.generation == 2
        await clock.advance(60)
        reports = [u for m, u, _, _ in pool.bodies if u.endswith("reportMyActivity")]
        assert len(reports) == 3
        task.cancel()


def test_json_nested_too_deeply_is_an_unexpected_response() -> None:
    from ucwa_flow.ucwa._http import error_for, json_of
    from ucwa_flow.ucwa.errors import UnexpectedResponse

    request = httpx.Request("GET", f"{HOST}/x")
    deep = "[" * 5000 + "]" * 5000
    answer = httpx.Response(200, text=deep, request=request)
    with pytest.raises(UnexpectedResponse, match=r"JSON nested too deeply \(more than 64"):
        json_of(answer)
    headers = {"Content-Type": "application/json"}
    refused = httpx.Response(500, text=deep, headers=headers, request=request)
    assert error_for(refused).code is None
