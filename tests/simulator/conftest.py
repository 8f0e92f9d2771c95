"""Fixtures for the simulator tests: a simulator on a ManualClock and a UCWA session
helper that signs in by following links, the way a real client does."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator, SimulatorConfig

BASE = "http://lyncweb.contoso.com"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sim(clock: ManualClock) -> Simulator:
    return Simulator(SimulatorConfig(pget_timeout_min=1.0, seed=7), clock=clock)


@pytest.fixture
async def client(sim: Simulator) -> Any:
    transport = httpx.ASGITransport(app=sim.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c
    sim.close()


@dataclass
class Session:
    """A signed-in UCWA application, driven by following links."""

    client: httpx.AsyncClient
    token: str
    app: dict[str, Any]
    next_events: str = ""
    seen: list[dict[str, Any]] = field(default_factory=list)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}

    def link(self, *path: str) -> str:
        node: Any = self.app
        for step in path[:-1]:
            node = node["_embedded"][step]
        return str(node["_links"][path[-1]]["href"])

    async def get(self, href: str, **kw: Any) -> httpx.Response:
        return await self.client.get(href, headers=self.headers, **kw)

    async def post(self, href: str, **kw: Any) -> httpx.Response:
        headers = self.headers | kw.pop("headers", {})
        return await self.client.post(href, headers=headers, **kw)

    async def make_me_available(self, formats: tuple[str, ...] = ("Plain",)) -> None:
        r = await self.post(
            self.link("me", "makeMeAvailable"),
            json={"SupportedModalities": ["Messaging"], "SupportedMessageFormats": list(formats)},
        )
        assert r.status_code == 204, r.text

    async def events(self) -> dict[str, Any]:
        """One P-GET on the current ``next`` link; returns the body and moves on."""
        r = await self.get(self.next_events)
        assert r.status_code == 200, r.text
        body = r.json()
        self.next_events = body["_links"]["next"]["href"]
        for block in body["sender"]:
            for event in block["events"]:
                self.seen.append({"sender": block["rel"], **event})
        return body

    async def drain(self) -> list[dict[str, Any]]:
        """Fetch the batch of pending (high) events and return its flattened events."""
        start = len(self.seen)
        await self.events()
        return self.seen[start:]


def flat(body: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(sender rel, link rel, type) for every event of a batch, in order."""
    return [
        (block["rel"], e["link"]["rel"], e["type"])
        for block in body["sender"]
        for e in block["events"]
    ]


async def sign_in(client: httpx.AsyncClient, user: str, password: str = "pass@word1") -> Session:
    root = await client.get("/", headers={"Accept": "application/json"})
    assert root.status_code == 200
    user_href = root.json()["_links"]["user"]["href"]
    challenge = await client.get(user_href)
    assert challenge.status_code == 401
    header = ", ".join(challenge.headers.get_list("www-authenticate"))
    found = re.search(r'MsRtcOAuth\s+href="?([^",]+)"?', header)
    assert found
    token = await client.post(
        found.group(1),
        data={"grant_type": "password", "username": user, "password": password},
    )
    assert token.status_code == 200, token.text
    access = token.json()["access_token"]
    auth = {"Authorization": f"Bearer {access}"}
    apps_href = (await client.get(user_href, headers=auth)).json()["_links"]["applications"]["href"]
    created = await client.post(
        apps_href,
        headers=auth,
        json={"UserAgent": "tests", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"},
    )
    assert created.status_code == 201, created.text
    session = Session(client=client, token=access, app=created.json())
    session.next_events = session.link("events")
    return session
