"""The admin endpoint over a real uvicorn on loopback, driven with httpx."""

from __future__ import annotations

import logging
import secrets
import socket
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import httpx
import pytest
import uvicorn

from tests.observe.scraped import Scraped
from ucwa_flow.admin import (
    AccountElsewhere,
    AccountHealth,
    AdminServer,
    Readiness,
    ReloadReport,
    Why,
    create_app,
    unguarded,
)
from ucwa_flow.errors import OperationalError
from ucwa_flow.observe.metrics import Metrics
from ucwa_flow.runtime import trace as t
from ucwa_flow.ucwa import ChannelStats

TOKEN = f"admin-{secrets.token_hex(12)}"


@dataclass
class FakeTarget:
    """An AdminTarget with two accounts; each test sets what it answers."""

    accounts: list[AccountHealth] = field(
        default_factory=lambda: [
            AccountHealth("helpdesk", "sip:helpdesk@contoso.com", True, True),
            AccountHealth("hr", "sip:hr@contoso.com", True, True),
        ]
    )
    store: bool = True
    report: ReloadReport = field(
        default_factory=lambda: ReloadReport(True, ["helpdesk: unchanged"])
    )
    reload_error: Exception | None = None
    flows: Mapping[str, set[str]] = field(
        default_factory=lambda: {"helpdesk": {"survey"}, "hr": set()}
    )
    started: list[tuple[str, str, object]] = field(default_factory=list)
    reloads: int = 0

    reasons: list[Why] = field(default_factory=list)
    elsewhere: list[AccountElsewhere] = field(default_factory=list)

    def readiness(self) -> Readiness:
        ready = self.store and not self.reasons and all(a.ready for a in self.accounts)
        accounts = list(self.accounts)
        return Readiness(ready, self.store, accounts, list(self.reasons), list(self.elsewhere))

    async def reload(self) -> ReloadReport:
        self.reloads += 1
        if self.reload_error is not None:
            raise self.reload_error
        return self.report

    def has_account(self, account: str) -> bool:
        return account in self.flows

    async def start_outbound(
        self, account: str, flow: str, invitee: str | Sequence[str] | None
    ) -> str | None:
        if account not in self.flows:
            raise KeyError(f"no account {account!r}")
        if flow not in self.flows[account]:
            raise KeyError(f"account {account} has no flow {flow!r}")
        people = [invitee] if isinstance(invitee, str) else list(invitee or ())
        for person in people:
            if not person.startswith("sip:"):
                raise ValueError(f"{person!r} is not a SIP URI (sip:user@domain)")
        self.started.append((account, flow, invitee if isinstance(invitee, str | None) else people))
        return "run-1" if invitee is None or not isinstance(invitee, str) else None


class Live:
    def __init__(self) -> None:
        self.channel: ChannelStats | None = ChannelStats(reconnects=2, batches=7)

    def active(self) -> Mapping[tuple[str, str], int]:
        return {("helpdesk", "menu"): 2}

    def versions(self) -> Mapping[tuple[str, str], int]:
        return {("helpdesk", "3f2a9c1e0b7d"): 2}

    def ready(self) -> bool | None:
        return True


@dataclass
class Admin:
    url: str
    http: httpx.AsyncClient
    target: FakeTarget
    metrics: Metrics
    server: AdminServer

    def auth(self, token: str = TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


async def _admin(token: str | None) -> AsyncIterator[Admin]:
    target, metrics = FakeTarget(), Metrics()
    server = AdminServer(create_app(target, metrics, token), "127.0.0.1", 0)
    host, port = await server.start()
    assert host == "127.0.0.1"
    assert port > 0
    url = f"http://{host}:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        yield Admin(url, http, target, metrics, server)
    await server.stop()


@pytest.fixture
async def admin() -> AsyncIterator[Admin]:
    async for running in _admin(TOKEN):
        yield running


@pytest.fixture
async def open_admin() -> AsyncIterator[Admin]:
    async for running in _admin(None):
        yield running


async def test_healthz_answers_without_a_token(admin: Admin) -> None:
    response = await admin.http.get("/healthz")
    assert (response.status_code, response.text) == (200, "ok\n")


async def test_readyz_lists_every_account_and_the_store(admin: Admin) -> None:
    response = await admin.http.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "store": True,
        "accounts": [
            {
                "id": "helpdesk",
                "user": "sip:helpdesk@contoso.com",
                "signed_in": True,
                "channel_live": True,
                "error": None,
                "code": "ready",
                "reason": "ready",
            },
            {
                "id": "hr",
                "user": "sip:hr@contoso.com",
                "signed_in": True,
                "channel_live": True,
                "error": None,
                "code": "ready",
                "reason": "ready",
            },
        ],
        "reasons": [],
        "elsewhere": [],
    }
    admin.target.accounts[1] = AccountHealth(
        "hr", "sip:hr@contoso.com", False, False, "wrong password"
    )
    response = await admin.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert response.json()["accounts"][1]["error"] == "wrong password"
    # a target that gives no code: the account's error is the reason
    assert response.json()["reasons"] == [
        {"code": "error", "account": "hr", "reason": "wrong password"}
    ]
    admin.target.accounts.pop()
    admin.target.store = False
    response = await admin.http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["store"] is False
    assert response.json()["reasons"] == [
        {"code": "not_ready", "reason": "the store does not answer"}
    ]


async def test_readyz_says_why_as_data(admin: Admin) -> None:
    """The process's reasons first (with since or until), then each account's; and the
    accounts a worker does not answer for, with the worker that does."""
    since = "2026-12-03T03:40:12Z"
    admin.target.reasons = [
        Why("store_unreachable", "worker w1 cannot reach the store since ...", since=since)
    ]
    admin.target.accounts[1] = AccountHealth(
        "hr",
        "sip:hr@contoso.com",
        False,
        False,
        "refused",
        "store_refused",
        "its store ...",
        "2026-12-03T03:45:00Z",
    )
    admin.target.elsewhere = [
        AccountElsewhere("it", "sip:it@contoso.com", "held_elsewhere", "served by w2", "w2")
    ]
    response = await admin.http.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["reasons"] == [
        {
            "code": "store_unreachable",
            "reason": "worker w1 cannot reach the store since ...",
            "since": since,
        },
        {"code": "store_refused", "account": "hr", "reason": "its store ..."},
    ]
    assert body["accounts"][1]["until"] == "2026-12-03T03:45:00Z"
    assert body["accounts"][1]["code"] == "store_refused"
    assert "until" not in body["accounts"][0]
    assert body["elsewhere"] == [
        {
            "id": "it",
            "user": "sip:it@contoso.com",
            "code": "held_elsewhere",
            "reason": "served by w2",
            "worker": "w2",
        }
    ]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/metrics"),
        ("POST", "/reload"),
        ("POST", "/accounts/helpdesk/outbound"),
        ("GET", "/nowhere"),
    ],
)
async def test_everything_else_needs_the_token(admin: Admin, method: str, path: str) -> None:
    for headers in (
        {},
        admin.auth("wrong"),
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = await admin.http.request(method, path, headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
    assert admin.target.reloads == 0
    assert admin.target.started == []


async def test_metrics_parse_with_prometheus_client(admin: Admin) -> None:
    admin.metrics.track("helpdesk", Live())
    sink = admin.metrics.sink("helpdesk", lambda href: "helpdesk")
    sink(t.MessageIn(at=0, conversation="/c/1", text="hi"))
    sink(t.MessageOut(at=0.25, conversation="/c/1", text="hello", html=None))
    sink(t.MessageSent(at=0.5, conversation="/c/1", ok=True))
    response = await admin.http.get("/metrics", headers=admin.auth())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    m = Scraped(response.text)
    assert m.value("ucwa_flow_messages_total", account="helpdesk", direction="in") == 1
    assert m.value("ucwa_flow_step_latency_seconds_sum") == 0.5
    assert m.value("ucwa_flow_conversations_active", flow="helpdesk", state="menu") == 2
    assert m.value("ucwa_flow_channel_reconnects_total", account="helpdesk") == 2
    # the scheme is case-insensitive
    lower = await admin.http.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"})
    assert lower.status_code == 200


async def test_without_a_token_everything_is_open(open_admin: Admin) -> None:
    assert (await open_admin.http.get("/metrics")).status_code == 200
    assert (await open_admin.http.post("/reload")).status_code == 200


REBOUND = {"Host": "rebind.attacker.example"}  # a name the attacker points at 127.0.0.1


async def test_without_a_token_a_host_name_not_of_this_machine_is_refused(
    open_admin: Admin,
) -> None:
    """DNS rebinding: a web page whose name resolves to 127.0.0.1 is not let in."""
    for method, path in (("GET", "/metrics"), ("POST", "/reload"), ("GET", "/nowhere")):
        response = await open_admin.http.request(method, path, headers=REBOUND)
        assert response.status_code == 403, (method, path)
        assert "DNS rebinding" in response.text
        # and how to let a reverse proxy's name through
        assert response.text.endswith(
            "use its IP address or localhost, or list rebind.attacker.example in the "
            "deployment file's admin.allow_hosts\n"
        ), response.text
    assert open_admin.target.reloads == 0
    port = open_admin.url.rsplit(":", 1)[1]
    names = ("[::1]", "bot.localhost", "ucwa-bot:8470")  # a container's name has no dot
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", *names):
        assert (await open_admin.http.get("/metrics", headers={"Host": host})).status_code == 200
    # the liveness probe may name the server as it likes; /readyz names the accounts and
    # the store (a rebinding page would read them), so it is asked by address or localhost
    assert (await open_admin.http.get("/healthz", headers=REBOUND)).status_code == 200
    assert (await open_admin.http.get("/readyz", headers=REBOUND)).status_code == 403
    assert (await open_admin.http.get("/readyz")).status_code in (200, 503)


async def test_with_a_token_any_host_name_is_taken(admin: Admin) -> None:
    response = await admin.http.get("/metrics", headers={**REBOUND, **admin.auth()})
    assert response.status_code == 200


@pytest.mark.parametrize("with_token", [False, True])
async def test_a_post_from_another_sites_page_is_refused(with_token: bool) -> None:
    """CSRF: a page can send a POST it cannot read; its browser says whose it is."""
    token = TOKEN if with_token else None
    async for running in _admin(token):
        auth = running.auth() if token else {}
        body = {"flow": "survey", "invitee": "sip:victim@contoso.com"}
        for origin in ("http://attacker.example", "null", f"{running.url}.attacker.example"):
            headers = {"Origin": origin, "Content-Type": "text/plain", **auth}
            reload = await running.http.post("/reload", headers=headers)
            started = await running.http.post(
                "/accounts/helpdesk/outbound", json=body, headers=headers
            )
            assert (reload.status_code, started.status_code) == (403, 403), origin
            assert "cross-site" in reload.text
        assert running.target.reloads == 0
        assert running.target.started == []
        # the server's own pages (and programs, which send no Origin) are let in
        own = await running.http.post("/reload", headers={"Origin": running.url, **auth})
        assert own.status_code == 200
        assert (await running.http.post("/reload", headers=auth)).status_code == 200


async def test_reload_reports_its_lines_and_refusals(admin: Admin) -> None:
    response = await admin.http.post("/reload", headers=admin.auth())
    assert (response.status_code, response.json()) == (
        200,
        {"ok": True, "lines": ["helpdesk: unchanged"]},
    )
    refused = [
        "flows/hd.flow.yaml:12:7: E201 unknown state 'mnu'",
        "helpdesk: kept the running version",
    ]
    admin.target.report = ReloadReport(False, refused)
    response = await admin.http.post("/reload", headers=admin.auth())
    assert (response.status_code, response.json()) == (422, {"ok": False, "lines": refused})
    admin.target.reload_error = RuntimeError("deploy.yaml vanished")
    response = await admin.http.post("/reload", headers=admin.auth())
    assert response.status_code == 500
    assert response.json() == {"error": "the reload failed: deploy.yaml vanished"}
    assert (await admin.http.get("/reload", headers=admin.auth())).status_code == 405
    assert admin.target.reloads == 3


async def test_outbound_starts_a_flow_of_an_account(admin: Admin) -> None:
    body = {"flow": "survey", "invitee": "sip:marco@contoso.com"}
    response = await admin.http.post("/accounts/helpdesk/outbound", json=body, headers=admin.auth())
    assert response.status_code == 202
    assert response.json() == {"account": "helpdesk", **body}
    assert admin.target.started == [("helpdesk", "survey", "sip:marco@contoso.com")]


async def test_outbound_starts_several_people_or_the_flows_own(admin: Admin) -> None:
    url = "/accounts/helpdesk/outbound"
    people = ["sip:marco@contoso.com", "sip:lenea@contoso.com"]
    body = {"flow": "survey", "invitees": people}
    response = await admin.http.post(url, json=body, headers=admin.auth())
    assert response.status_code == 202
    assert response.json() == {"account": "helpdesk", **body, "campaign": "run-1"}
    response = await admin.http.post(url, json={"flow": "survey"}, headers=admin.auth())
    assert response.status_code == 202
    assert response.json() == {"account": "helpdesk", "flow": "survey", "campaign": "run-1"}
    assert admin.target.started == [("helpdesk", "survey", people), ("helpdesk", "survey", None)]


@pytest.mark.parametrize(
    ("path", "content", "status", "error"),
    [
        (
            "/accounts/nobody/outbound",
            b'{"flow": "survey", "invitee": "sip:a@b"}',
            404,
            "no account 'nobody'",
        ),
        (
            "/accounts/hr/outbound",
            b'{"flow": "survey", "invitee": "sip:a@b"}',
            404,
            "account hr has no flow 'survey'",
        ),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": "survey", "invitee": "marco"}',
            400,
            "'marco' is not a SIP URI",
        ),
        ("/accounts/helpdesk/outbound", b"flow=survey", 400, "the body must be JSON"),
        (  # json.loads' RecursionError was a 500
            "/accounts/helpdesk/outbound",
            b"[" * 30_000 + b"]" * 30_000,
            400,
            "the body is JSON nested deeper than 64 levels",
        ),
        ("/accounts/helpdesk/outbound", b'["survey"]', 400, "the body must be a JSON object"),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": "survey", "invitee": " "}',
            400,
            "invitee must be a non-empty string",
        ),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": "survey", "invitees": []}',
            400,
            "invitees must be a non-empty list",
        ),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": "survey", "invitee": "sip:a@b", "invitees": ["sip:a@b"]}',
            400,
            "give invitee (one person) or invitees (a list), not both",
        ),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": 3, "invitee": "sip:a@b"}',
            400,
            "flow must be a non-empty",
        ),
        (
            "/accounts/helpdesk/outbound",
            b'{"flow": "s", "invitee": "sip:a@b", "x": 1}',
            400,
            "unknown field(s) x",
        ),
    ],
)
async def test_outbound_refusals(
    admin: Admin, path: str, content: bytes, status: int, error: str
) -> None:
    response = await admin.http.post(path, content=content, headers=admin.auth())
    assert response.status_code == status
    assert response.json()["error"].startswith(error)
    assert admin.target.started == []


async def test_no_log_line_holds_the_token(admin: Admin, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        await admin.http.get("/metrics", headers=admin.auth())
        await admin.http.post("/reload", headers=admin.auth())
        await admin.http.post("/reload", headers=admin.auth("not-it"))
        body = {"flow": "survey", "invitee": "sip:marco@contoso.com"}
        await admin.http.post("/accounts/helpdesk/outbound", json=body, headers=admin.auth())
    admin_lines = [r.getMessage() for r in caplog.records if r.name == "ucwa_flow.admin"]
    assert admin_lines == [
        "admin: reload asked by 127.0.0.1",
        "admin: reload done",
        "admin: outbound survey to sip:marco@contoso.com started on helpdesk",
    ]
    assert not [r for r in caplog.records if r.name == "uvicorn.access"]
    assert TOKEN not in caplog.text


async def test_stop_closes_the_port_and_a_taken_port_is_one_clear_line() -> None:
    target, metrics = FakeTarget(), Metrics()
    server = AdminServer(create_app(target, metrics, None), "127.0.0.1", 0)
    host, port = await server.start()
    taken = AdminServer(create_app(target, metrics, None), host, port)
    with pytest.raises(
        OperationalError,
        match=rf"cannot listen on 127.0.0.1:{port} for the admin endpoint: .*in use",
    ):
        await taken.start()
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as http:
        assert (await http.get("/healthz")).status_code == 200
        await server.stop()
        await server.stop()  # idempotent
        with pytest.raises(httpx.ConnectError):
            await http.get("/healthz")


async def test_a_host_that_does_not_resolve_is_one_clear_line() -> None:
    server = AdminServer(create_app(FakeTarget(), Metrics(), None), "no-such-host.invalid", 0)
    with pytest.raises(OperationalError, match="does not resolve"):
        await server.start()


async def test_a_server_that_fails_to_start_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(self: uvicorn.Server, sockets: object = None) -> None:
        raise RuntimeError("no more file descriptors")

    monkeypatch.setattr(uvicorn.Server, "startup", broken)
    server = AdminServer(create_app(FakeTarget(), Metrics(), None), "127.0.0.1", 0)
    with pytest.raises(OperationalError, match=r"did not start: no more file descriptors$"):
        await server.start()
    await server.stop()  # nothing left to stop


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@pytest.mark.skipif(not _has_ipv6_loopback(), reason="no IPv6 loopback here")
async def test_an_ipv6_listen_address_in_brackets() -> None:
    server = AdminServer(create_app(FakeTarget(), Metrics(), None), "[::1]", 0)
    host, port = await server.start()
    try:
        assert host == "::1"
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"http://[::1]:{port}/healthz")).text == "ok\n"
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [
        ("0.0.0.0", None, True),
        ("::", None, True),
        ("10.1.2.3", None, True),
        ("botbox.corp.example", None, True),
        ("0.0.0.0", "s3cret", False),
        ("127.0.0.1", None, False),
        ("127.0.0.2", None, False),
        ("::1", None, False),
        ("[::1]", None, False),
        ("localhost", None, False),
        ("localhost.", None, False),  # the root's dot
        ("::ffff:127.0.0.1", None, False),  # IPv4-mapped loopback
        ("127.1", None, False),  # the short forms the listener binds as 127.0.0.1
        ("0x7f.1", None, False),
        ("2130706433", None, False),
        ("10.1", None, True),
        ("127.0.0.1.5", None, True),  # a name, not an address
    ],
)
def test_what_is_open_to_the_network_without_a_token(
    host: str, token: str | None, warned: bool
) -> None:
    assert (unguarded(host, token) is not None) is warned


def test_the_address_bound_decides_over_the_name_given() -> None:
    # a name (a trailing dot makes any text one) binds where its resolver says
    assert unguarded("127.1.", None, bound="10.0.0.5") == (
        "the admin endpoint listens on 127.1. (10.0.0.5) without a token: whoever reaches "
        "it may reload the flows, start outbound conversations and read the live "
        "conversations; give it a token (admin.token_env or admin.token_file) or listen on "
        "127.0.0.1"
    )
    assert unguarded("botbox.localhost", None, bound="192.168.1.9") is not None
    assert unguarded("localhost", None, bound="::1") is None
    assert unguarded("botbox.corp.example", None, bound="127.0.1.1") is None
    assert unguarded("0.0.0.0", None, bound="0.0.0.0") is not None
    assert unguarded("0.0.0.0", "s3cret", bound="0.0.0.0") is None


@pytest.mark.parametrize("declared", [False, True])
async def test_an_outbound_body_over_the_limit_is_not_read_whole(declared: bool) -> None:
    # Request.body() read any size whole: 400 MB of body held 800 MB of memory, and
    # without a token any process on the machine could send it
    sent = 0

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(1024):  # 64 MiB
            sent += 1
            yield b" " * 65536

    app = create_app(FakeTarget(), Metrics(), None)
    headers = {"Content-Length": str(1024 * 65536)} if declared else {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        response = await http.post("/accounts/helpdesk/outbound", content=body(), headers=headers)
    assert response.status_code == 413
    assert response.json() == {"error": "the request body is too large (over 64 KiB)"}
    assert sent <= 2  # read no further than the limit
