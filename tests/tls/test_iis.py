"""The small IIS behaviours clients rely on: discovery without Accept, gzip, any-case JSON,
``sender: []``, and the front end's headers. Through ``httpx.ASGITransport`` and, for gzip,
over a real HTTPS socket as well."""

from __future__ import annotations

import asyncio
import gzip
import json
import ssl
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from tests.simulator.conftest import sign_in
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.simulator.http import accepts_gzip
from ucwa_flow.simulator.tls import local_certificate

BASE = "https://lyncweb.contoso.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(SimulatorConfig(pget_timeout_min=1.0, seed=3), clock=clock)


@pytest.fixture
async def client(sim: Simulator) -> Any:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sim.app), base_url=BASE) as c:
        yield c
    sim.close()


def _front_end_headers(response: httpx.Response) -> None:
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-ms-server-fqdn"] == "W15-LYNC-SE1.contoso.com"


@pytest.mark.parametrize("accept", [None, "application/json", "text/html", "*/*"])
async def test_discovery_answers_json_with_or_without_accept(
    client: httpx.AsyncClient, accept: str | None
) -> None:
    request = client.build_request("GET", "/")
    del request.headers["accept"]
    if accept is not None:
        request.headers["accept"] = accept
    assert ("accept" in request.headers) == (accept is not None)
    response = await client.send(request)
    assert response.status_code == 200
    _front_end_headers(response)
    links = response.json()["_links"]
    assert links["user"]["href"].startswith(BASE + "/Autodiscover/AutodiscoverService.svc/root")


async def _raw(client: httpx.AsyncClient, path: str, encoding: str) -> httpx.Response:
    async with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        response._content = b"".join([chunk async for chunk in response.aiter_raw()])
    return response


async def test_gzip_when_the_request_allows_it(client: httpx.AsyncClient) -> None:
    plain = await _raw(client, "/", "identity")
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    document = json.loads(plain.content)

    packed = await _raw(client, "/", "gzip, deflate")
    assert packed.headers["content-encoding"] == "gzip"
    assert packed.headers["vary"] == "Accept-Encoding"
    assert packed.content[:2] == b"\x1f\x8b"
    assert int(packed.headers["content-length"]) == len(packed.content) < len(plain.content)
    assert json.loads(gzip.decompress(packed.content)) == document
    _front_end_headers(packed)

    decoded = await client.get("/", headers={"Accept-Encoding": "gzip"})  # httpx decodes it
    assert decoded.headers["content-encoding"] == "gzip"
    assert decoded.json() == document

    refused = await _raw(client, "/", "gzip;q=0, identity")
    assert "content-encoding" not in refused.headers


async def test_small_bodies_are_compressed_too(client: httpx.AsyncClient) -> None:
    r = await _raw(client, "/no/such/thing", "gzip")
    assert r.status_code == 404
    assert r.headers["content-encoding"] == "gzip"
    assert json.loads(gzip.decompress(r.content))["code"] == "NotFound"
    _front_end_headers(r)
    plain = await _raw(client, "/no/such/thing", "identity")
    assert "content-encoding" not in plain.headers
    assert plain.headers["vary"] == "Accept-Encoding"
    assert json.loads(plain.content)["code"] == "NotFound"


def test_accept_encoding_is_read_with_its_q_values() -> None:
    assert accepts_gzip("gzip")
    assert accepts_gzip("br;q=1.0, GZIP;q=0.5")
    assert accepts_gzip("*")
    assert accepts_gzip("x-gzip")
    assert not accepts_gzip("")
    assert not accepts_gzip("identity")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("*;q=0.5, gzip;q=0")
    assert not accepts_gzip("gzip;q=nonsense")


async def test_gzip_over_https_is_decoded_by_httpx() -> None:
    tls = local_certificate()
    assert tls.ca_file is not None
    trusted = ssl.create_default_context(cafile=tls.ca_file)
    async with serve(Simulator(), tls=tls) as url, httpx.AsyncClient(verify=trusted) as c:
        r = await c.get(url + "/")  # httpx asks for gzip by default
    assert r.headers["content-encoding"] == "gzip"
    assert r.json()["_links"]["self"]["href"].startswith(url + "/Autodiscover/")


@pytest.mark.parametrize(
    "body",
    [
        {"SupportedModalities": ["Messaging"], "SupportedMessageFormats": ["Plain", "Html"]},
        {"supportedModalities": ["Messaging"], "supportedMessageFormats": ["Plain", "Html"]},
        {"SUPPORTEDMODALITIES": ["Messaging"], "supportedmessageformats": ["Plain", "Html"]},
    ],
)
async def test_json_property_names_in_any_case(
    client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    session = await sign_in(client, "toshm@contoso.com")
    r = await session.post(session.link("me", "makeMeAvailable"), json=body)
    assert r.status_code == 204, r.text
    r = await session.post(session.link("me", "makeMeAvailable"), json=body)
    assert r.status_code == 409  # it took: Messaging is on
    communication = await session.get(session.link("communication", "self"))
    assert communication.json()["supportedMessageFormats"] == ["Plain", "Html"]


async def test_nested_property_names_in_any_case(client: httpx.AsyncClient, sim: Simulator) -> None:
    callee = sim.virtual_user("sip:lenea@contoso.com", auto_accept=True)
    session = await sign_in(client, "toshm@contoso.com")
    await session.make_me_available()
    r = await session.post(
        session.link("communication", "startMessaging"),
        json={
            "To": "sip:lenea@contoso.com",
            "Importance": "Normal",
            "OperationId": "op-1",
            "_Links": {"Message": {"Href": "data:text/plain,Hello+there"}},
        },
    )
    assert r.status_code == 201, r.text
    message = await callee.wait_for_message(timeout=WAIT)
    assert message.text == "Hello there"


async def test_an_empty_batch_still_carries_a_sender_array(
    client: httpx.AsyncClient, clock: ManualClock
) -> None:
    session = await sign_in(client, "toshm@contoso.com")
    poll = asyncio.create_task(session.get(session.next_events + "&timeout=1"))
    while not poll.done():
        await clock.advance(1)
        await asyncio.sleep(0.01)
    body = (await poll).json()
    assert body["sender"] == []
    assert "next" in body["_links"]
