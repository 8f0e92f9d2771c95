"""The password and tokens go to trusted sign-in servers only (``ucwa/trust.py``).

The loopback tests serve two fake pools on real sockets and sign in with a real
:class:`UcwaClient` (its own transport, the direct request path): the configured server
on 127.0.0.1, the other server on 127.0.0.2 (another host name, same machine).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.ucwa.fake_pool import HOST, PASSWORD, FakePool, transport_for
from ucwa_flow._host_names import canonical_host, trusted_host_problem
from ucwa_flow.simulator.server import serve_app
from ucwa_flow.ucwa import UcwaClient, WebTicketAuth
from ucwa_flow.ucwa.errors import AuthenticationFailed, DiscoveryFailed, ForeignHref
from ucwa_flow.ucwa.trust import SignInTrust, trust_hint

USER = "sip:toshm@contoso.com"
OTHER = "127.0.0.2"


# -- which hosts are trusted ------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "contoso.com",
        "lyncweb.contoso.com",
        "LyncWeb.CONTOSO.com",
        "lyncweb.contoso.com.",
        "a.b.pool.contoso.com",
        "lync.fabrikam.net",  # listed
        "LYNC.Fabrikam.NET.",
        "xn--bcher-kva.example",  # listed as bücher.example
        "bücher.example",
        "BÜCHER.example",
        "lyncdiscover.example.org",  # the server URL's host
        "2001:db8::1",  # listed as 2001:DB8:0::1
        "[2001:db8::1]",
    ],
)
def test_trusted_hosts(host: str) -> None:
    trust = SignInTrust.for_account(
        "sip:ToshM@Contoso.COM",
        server_url="https://LyncDiscover.example.org:4443/",
        hosts=["lync.fabrikam.net", "bücher.example", "2001:DB8:0::1"],
    )
    assert trust.trusts(host)


@pytest.mark.parametrize(
    "host",
    [
        "evilcontoso.com",
        "contoso.com.evil.net",
        "contoso.co",
        "com",
        "xcontoso.com",
        "lyncweb.contoso.com%2eevil.net",
        "lyncweb\\.contoso.com",
        "evil.net\\.contoso.com",
        "lyncweb.contoso.com..",
        "sub.lync.fabrikam.net",  # a listed host trusts that name only
        "fabrikam.net",
        "sub.lyncdiscover.example.org",
        "example.org",
        "127.0.0.1",
        "",
        "xn--contoso-.com",
        "xn--ab.contoso.com",  # no valid IDNA (decodes to control characters)
        "lyncweb.xn--ab.contoso.com",
    ],
)
def test_untrusted_hosts(host: str) -> None:
    trust = SignInTrust.for_account(
        "sip:toshm@contoso.com",
        server_url="https://lyncdiscover.example.org/",
        hosts=["lync.fabrikam.net"],
    )
    assert not trust.trusts(host)


def test_an_idna_sip_domain_trusts_its_names_in_either_form() -> None:
    trust = SignInTrust.for_account("sip:bot@Bücher.example")
    assert trust.domain == "xn--bcher-kva.example"
    assert trust.trusts("lyncweb.xn--bcher-kva.example")
    assert trust.trusts("lyncweb.bücher.example")
    assert not trust.trusts("lyncweb.xn--bcher-kva.example.evil.net")


def test_an_address_as_sip_domain_trusts_that_address_only() -> None:
    trust = SignInTrust.for_account("bot@10.0.0.5")
    assert trust.trusts("10.0.0.5")
    assert not trust.trusts("x.10.0.0.5")


def test_a_domain_user_name_trusts_only_what_is_named() -> None:
    trust = SignInTrust.for_account("CONTOSO\\toshm", hosts=["lyncweb.contoso.com"])
    assert trust.domain is None
    assert trust.trusts("lyncweb.contoso.com")
    assert not trust.trusts("pool2.contoso.com")


@pytest.mark.parametrize(
    "written",
    ["https://lync.fabrikam.net", "lync.fabrikam.net:443", "lync.fabrikam.net/x", "a b", ""],
)
def test_a_listed_name_must_be_a_host_name(written: str) -> None:
    assert trusted_host_problem(written) is not None
    with pytest.raises(ValueError, match="not a host name"):
        SignInTrust.for_account(USER, hosts=[written])


# -- domain suffixes (*.contoso.local) ----------------------------------------------------------

SUFFIXED = SignInTrust.for_account(USER, hosts=["*.Contoso.LOCAL", "*.bücher.example"])


@pytest.mark.parametrize(
    "host",
    [
        "pool01.contoso.local",
        "DIR01.Contoso.Local.",
        "a.b.contoso.local",
        "lyncweb.xn--bcher-kva.example",
        "lyncweb.contoso.com",  # the SIP domain still
    ],
)
def test_a_suffix_trusts_every_name_under_its_domain(host: str) -> None:
    assert SUFFIXED.trusts(host)


@pytest.mark.parametrize(
    "host",
    [
        "contoso.local",  # the apex is not under itself: list it to trust it
        "evilcontoso.local",
        "contoso.local.evil.net",
        "pool01.contoso.local%2eevil.net",
        "local",
        "bücher.example",
    ],
)
def test_a_suffix_trusts_nothing_else(host: str) -> None:
    assert not SUFFIXED.trusts(host)


def test_a_suffix_is_described_and_never_offered_in_the_hint() -> None:
    """The refused name comes from the server refused: the hint offered its parent domain
    as a suffix, ``*.co.uk`` for ``evil.co.uk``, trusting far more than one organisation."""
    assert SUFFIXED.describe() == (
        "contoso.com and its subdomains, names under contoso.local, "
        "names under xn--bcher-kva.example"
    )
    for host in ("pool01.contoso.local", "evil.co.uk", "webticket.cloudapp.net", "10.0.0.5"):
        assert trust_hint(host).endswith("server.trusted_hosts (deployment file)")
        assert "*." not in trust_hint(host)


@pytest.mark.parametrize(
    "host", ["xn--bcher-kva._sip.example", "xn--bcher-kva._sip.contoso.com", "xn--ab.example"]
)
def test_a_name_httpx_cannot_decode_whole_is_no_host(host: str) -> None:
    """httpx decodes a host that starts with ``xn--`` whole, and ``_`` is no IDNA: such a
    name passed and ended ``run`` in a traceback at the request."""
    assert canonical_host(host) is None
    assert not SignInTrust.for_account("sip:bot@contoso.com").trusts(host)


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("*.com", "is too wide: *.com would trust a whole top-level domain"),
        ("*.local.", "is too wide"),
        ("*.10.0.0.5", "is not a domain suffix"),  # an address has no names under it
        ("*.0.5", "is too wide"),
        ("*.[::1]", "is not a domain suffix"),
        ("*.*.contoso.local", "has a * that is not alone and first"),
        ("*contoso.local", "is not a host name"),
        ("a.*.contoso.local", "is not a host name"),
        ("*", "is not a host name"),
        ("*.", "is not a domain suffix"),
        ("*.contoso.local:443", "is not a domain suffix"),
    ],
)
def test_a_suffix_must_be_a_domain_of_two_labels(written: str, problem: str) -> None:
    found = trusted_host_problem(written)
    assert found is not None
    assert found.startswith(problem), found
    with pytest.raises(ValueError, match="trusted host"):
        SignInTrust.for_account(USER, hosts=[written])


async def test_a_webticket_host_under_a_listed_suffix_gets_the_grant() -> None:
    pool = FakePool()
    pool.token_href = "https://pool01.contoso.local/WebTicket/oauthtoken"
    trust = SignInTrust.for_account("toshm@contoso.com", hosts=["*.contoso.local"])
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD, trust=trust)
    async with httpx.AsyncClient(auth=auth, transport=transport_for(pool)) as http:
        with pytest.raises(AuthenticationFailed, match="refused a freshly issued token"):
            await http.get(f"{HOST}/user")
    assert [host for host, _ in pool.grants] == ["https://pool01.contoso.local"]


def test_a_label_that_is_no_valid_idna_has_no_canonical_form() -> None:
    assert canonical_host("xn--ab.contoso.com") is None
    assert canonical_host("XN--AB.contoso.com") is None
    assert canonical_host("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert trusted_host_problem("xn--ab.contoso.com") is not None


def test_canonical_form_is_what_httpx_connects_to() -> None:
    for written in ("Bücher.Example.", "LYNCWEB.contoso.com", "[::1]"):
        assert canonical_host(written) == canonical_host(httpx.URL(f"https://{written}/").host)
    assert (
        canonical_host("Bücher.Example.") == httpx.URL("https://bücher.example/").raw_host.decode()
    )


# -- the auth flow on its own (the in-process pool, as tests/ucwa/test_auth.py) -----------------


async def test_a_webticket_service_on_another_domain_gets_nothing() -> None:
    """lyncdiscover.contoso.com names a WebTicket service on evil.example: no grant goes out."""
    pool = FakePool()
    pool.token_href = "https://evil.example/WebTicket/oauthtoken"
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=transport_for(pool)) as http:
        with pytest.raises(AuthenticationFailed) as caught:
            await http.get(f"{HOST}/user")
    assert str(caught.value) == (
        "evil.example is not a trusted sign-in server for toshm@contoso.com (trusted: "
        "contoso.com and its subdomains): refused to send the password to the WebTicket "
        "service lyncdiscover.contoso.com named; if it is your organisation's sign-in server, "
        "trust it with --trust-host evil.example (ucwa-flow run) or server.trusted_hosts "
        "(deployment file)"
    )
    assert pool.requests == [("GET", f"{HOST}/user")]
    assert pool.grants == []
    assert auth.grants == 0


@pytest.mark.parametrize(
    "href",
    [
        "https://lyncweb.contoso.com@evil.example/WebTicket/oauthtoken",
        "https://lyncweb.contoso.com.evil.example/WebTicket/oauthtoken",
        "https://evilcontoso.com/WebTicket/oauthtoken",
        "https://EVIL.example:443/WebTicket/oauthtoken",
        "//evil.example/WebTicket/oauthtoken",
    ],
)
async def test_lookalike_webticket_hosts_get_nothing(href: str) -> None:
    pool = FakePool()  # answers for any host name: a grant would be recorded
    pool.token_href = href
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD)
    async with httpx.AsyncClient(auth=auth, transport=transport_for(pool)) as http:
        with pytest.raises(AuthenticationFailed, match="is not a trusted sign-in server"):
            await http.get(f"{HOST}/user")
    assert pool.grants == []
    assert pool.requests == [("GET", f"{HOST}/user")]


async def test_a_listed_webticket_host_gets_the_grant() -> None:
    pool = FakePool()
    pool.token_href = "https://lyncweb.fabrikam.net/WebTicket/oauthtoken"
    trust = SignInTrust.for_account("toshm@contoso.com", hosts=["LyncWeb.Fabrikam.net"])
    auth = WebTicketAuth("toshm@contoso.com", PASSWORD, trust=trust)
    async with httpx.AsyncClient(auth=auth, transport=transport_for(pool)) as http:
        # the token is fabrikam's, which contoso (this fake) does not take
        with pytest.raises(AuthenticationFailed, match="refused a freshly issued token"):
            await http.get(f"{HOST}/user")
    assert [host for host, _ in pool.grants] == ["https://lyncweb.fabrikam.net"]


# -- a real client on loopback ------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(pool: FakePool, host: str = "127.0.0.1") -> AsyncIterator[str]:
    async with serve_app(pool.app, host) as url:
        pool.apps_host = url  # its applications resource is its own
        yield url


@pytest.fixture
def other_host() -> str:
    """127.0.0.2, when this machine's loopback answers it (Linux does)."""
    with socket.socket() as probe:
        try:
            probe.bind((OTHER, 0))
        except OSError:
            pytest.skip(f"{OTHER} is not a loopback address here")
    return OTHER


def client(server_url: str, **kwargs: object) -> UcwaClient:
    return UcwaClient(USER, PASSWORD, server_url=server_url, timeout=30, **kwargs)  # type: ignore[arg-type]


async def test_on_loopback_the_configured_server_is_trusted() -> None:
    pool = FakePool()
    async with served(pool) as url, client(url + "/") as bot:
        assert bot.application.self_href.startswith(url)
    assert [host for host, _ in pool.grants] == [url]


async def test_a_front_end_naming_another_hosts_webticket_sends_it_nothing(
    other_host: str,
) -> None:
    front, other = FakePool(), FakePool()
    async with served(other, other_host) as other_url, served(front) as front_url:
        front.token_href = f"{other_url}/WebTicket/oauthtoken"
        bot = client(front_url + "/")
        try:
            with pytest.raises(AuthenticationFailed) as caught:
                await bot.sign_in()
        finally:
            await bot.aclose()
    assert other.requests == []
    assert other.grants == []
    assert front.grants == []
    assert front.authorized == []
    message = str(caught.value)
    assert message.startswith(
        f"{other_host} is not a trusted sign-in server for toshm@contoso.com (trusted: "
        "contoso.com and its subdomains, 127.0.0.1): refused to send the password"
    )
    assert f"--trust-host {other_host} " in message
    assert "\n" not in message


async def test_autodiscover_redirected_to_an_untrusted_host_sends_it_nothing(
    other_host: str,
) -> None:
    """The root redirects to a pool on another host with its own WebTicket service: it
    sees the unauthenticated requests of discovery, never a password or a token."""
    front, other = FakePool(), FakePool()
    async with served(other, other_host) as other_url, served(front) as front_url:
        front.root = {"_links": {"redirect": {"href": other_url + "/"}}}
        bot = client(front_url + "/")
        try:
            with pytest.raises(AuthenticationFailed, match=f"^{other_host} is not a trusted"):
                await bot.sign_in()
        finally:
            await bot.aclose()
    assert other.grants == []
    assert other.authorized == []
    assert other.requests == [("GET", f"{other_url}/"), ("GET", f"{other_url}/user")]


async def test_an_untrusted_host_never_gets_a_token_from_a_trusted_webticket(
    other_host: str,
) -> None:
    """Redirected to another host whose challenge names the configured server's WebTicket:
    the password would go to a trusted host, but the token to the other: nothing is sent."""
    front, other = FakePool(), FakePool()
    async with served(other, other_host) as other_url, served(front) as front_url:
        front.root = {"_links": {"redirect": {"href": other_url + "/"}}}
        other.token_href = f"{front_url}/WebTicket/oauthtoken"
        bot = client(front_url + "/")
        try:
            with pytest.raises(AuthenticationFailed, match="would get the account's token"):
                await bot.sign_in()
        finally:
            await bot.aclose()
    assert front.grants == []
    assert other.grants == []
    assert other.authorized == []


async def test_a_listed_host_is_signed_in_to_and_each_host_gets_its_own_token(
    other_host: str,
) -> None:
    front, other = FakePool(), FakePool()
    async with served(other, other_host) as other_url, served(front) as front_url:
        front.root = {"_links": {"redirect": {"href": other_url + "/"}}}
        async with client(front_url + "/", trusted_hosts=[other_host]) as bot:
            assert bot.application.self_href.startswith(other_url)
            # once signed in, an href to any other host than the application's (the
            # configured server's too) is not requested: it got GET /user twice, the second
            # with a token of its own
            with pytest.raises(ForeignHref):
                await bot.get(front_url + "/user")
    assert [host for host, _ in other.grants] == [other_url]
    assert front.grants == []
    assert front.authorized == []
    assert ("GET", f"{front_url}/user") not in front.requests
    # the first request to the pool went without a token: none crossed from elsewhere
    assert other.requests[:2] == [("GET", f"{other_url}/"), ("GET", f"{other_url}/user")]
    assert other.authorized[0] == f"{other_url}/user"
    assert all(url.startswith(other_url) for url in other.authorized)


@pytest.mark.parametrize(
    "href", ["https://xn--ab.contoso.com/WebTicket/oauthtoken", "https://xn--ab.evil.com/x"]
)
async def test_a_webticket_host_that_is_no_valid_idna_is_refused_in_one_line(href: str) -> None:
    """httpx's ``URL.host`` raised idna's InvalidCodepoint for it: a traceback out of run."""
    pool = FakePool()
    async with served(pool) as url:
        pool.token_href = href
        bot = client(url + "/")
        try:
            with pytest.raises(AuthenticationFailed) as caught:
                await bot.sign_in()
        finally:
            await bot.aclose()
    host = httpx.URL(href).raw_host.decode()
    assert str(caught.value) == (
        f"{host} is not a valid host name, so not a trusted sign-in server for "
        "toshm@contoso.com: refused to send the password to the WebTicket service "
        "127.0.0.1 named"
    )
    assert pool.grants == []
    assert pool.authorized == []


async def test_a_redirect_to_a_host_that_is_no_valid_idna_is_refused_in_one_line() -> None:
    pool = FakePool()
    async with served(pool) as url:
        pool.root = {"_links": {"redirect": {"href": "https://xn--ab.example/"}}}
        bot = client(url + "/")
        try:
            with pytest.raises(DiscoveryFailed) as caught:
                await bot.sign_in()
        finally:
            await bot.aclose()
    assert str(caught.value) == (
        f"refusing the link from {url}/ to https://xn--ab.example/: its host is not a valid "
        "host name"
    )
    assert pool.grants == []
