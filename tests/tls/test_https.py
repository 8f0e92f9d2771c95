"""HTTPS over a real loopback socket: sign-in with the local CA, and a refused certificate."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.guards import WAIT
from ucwa_flow.errors import OperationalError
from ucwa_flow.simulator import Simulator, ThreadedServer, serve
from ucwa_flow.simulator.tls import TlsFiles, local_certificate
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa.errors import CertificateRejected, ServerUnreachable

BOT = "sip:toshm@contoso.com"
PASSWORD = "pass@word1"


def _localhost(url: str) -> str:
    """The simulator's URL spelled with the name ``localhost`` (the certificate covers it)."""
    return url.replace("127.0.0.1", "localhost") + "/"


async def test_sign_in_over_https_with_the_generated_ca() -> None:
    tls = local_certificate()
    assert tls.ca_file is not None
    async with serve(Simulator(), tls=tls) as url:
        assert url.startswith("https://127.0.0.1:")
        server = _localhost(url)
        client = UcwaClient(BOT, PASSWORD, server_url=server, ca_bundle=tls.ca_file)
        async with client:
            application = await client.make_me_available()
            # links are built from the host name the client used, on https
            assert application.self_href.startswith(server + "ucwa/oauth/v1/applications/")
            assert client.discovery is not None
            assert client.discovery.user_url.startswith(server + "Autodiscover/")
            me = await client.get(application.self_href)
            assert me["_embedded"]["me"]["uri"] == BOT


async def test_a_client_without_the_ca_refuses_with_one_line_naming_the_host() -> None:
    async with serve(Simulator(), tls=local_certificate()) as url:
        server = _localhost(url)
        host = server.removeprefix("https://").rstrip("/")
        client = UcwaClient(BOT, PASSWORD, server_url=server)
        with pytest.raises(CertificateRejected) as caught:
            await client.sign_in()
        await client.aclose()
    message = str(caught.value)
    assert isinstance(caught.value, ServerUnreachable)  # callers that catch that still do
    assert message.startswith(f"the TLS certificate of {host} was rejected (")
    assert "unable to get local issuer certificate" in message
    assert message.endswith(
        "trust that CA's certificate with --ca-bundle FILE (or UCWA_FLOW_CA_BUNDLE)"
    )
    assert "\n" not in message
    assert caught.value.host == host


async def test_ssl_cert_file_set_after_a_first_client_is_trusted_by_the_next_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the default trust is made once per process: a new SSL_CERT_FILE must still count
    tls = local_certificate()
    assert tls.ca_file is not None
    async with serve(Simulator(), tls=tls) as url:
        server = _localhost(url)
        first = UcwaClient(BOT, PASSWORD, server_url=server)
        with pytest.raises(CertificateRejected):
            await first.sign_in()
        await first.aclose()
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
        async with UcwaClient(BOT, PASSWORD, server_url=server) as second:
            assert (await second.make_me_available()).self_href.startswith(server)
        monkeypatch.delenv("SSL_CERT_FILE")
        third = UcwaClient(BOT, PASSWORD, server_url=server)
        with pytest.raises(CertificateRejected):
            await third.sign_in()
        await third.aclose()


async def test_a_name_the_certificate_does_not_cover_is_refused_as_a_mismatch(
    tmp_path: Path,
) -> None:
    tls = local_certificate()
    assert tls.ca_file is not None
    narrow = _without_loopback(tls.ca_file.parent, tmp_path)  # 127.0.0.1 is not covered
    async with serve(Simulator(), tls=narrow) as url:
        client = UcwaClient(BOT, PASSWORD, server_url=url + "/", ca_bundle=tls.ca_file)
        with pytest.raises(CertificateRejected, match="connect with a host name the certificate"):
            await client.sign_in()
        await client.aclose()


def _without_loopback(ca_folder: Path, tmp_path: Path) -> TlsFiles:
    """A server certificate from the CA in ``ca_folder`` for lyncweb.contoso.com alone."""
    ca = x509.load_pem_x509_certificate((ca_folder / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (ca_folder / "ca-key.pem").read_bytes(), password=None
    )
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "lyncweb")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("lyncweb.contoso.com")]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "narrow.pem", tmp_path / "narrow-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsFiles(cert_file, key_file)


async def test_insecure_skips_verification() -> None:
    async with (
        serve(Simulator(), tls=local_certificate()) as url,
        UcwaClient(BOT, PASSWORD, server_url=url + "/", insecure=True) as client,
    ):
        assert client.application.self_href.startswith(url)


def test_an_unusable_ca_bundle_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(OperationalError, match=r"^CA bundle .*nope.pem does not exist$"):
        UcwaClient(BOT, PASSWORD, ca_bundle=tmp_path / "nope.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("hello\n")
    with pytest.raises(OperationalError, match=r"^CA bundle .*junk.pem holds no usable PEM"):
        UcwaClient(BOT, PASSWORD, ca_bundle=junk)


def test_the_ca_is_reused_on_a_second_start() -> None:
    first = local_certificate()
    assert first.ca_file is not None
    trusted = ssl.create_default_context(cafile=first.ca_file)  # what a client kept
    for _ in range(2):
        with ThreadedServer(Simulator(), tls=local_certificate()) as url:
            r = httpx.get(_localhost(url), verify=trusted, timeout=WAIT)
            assert r.status_code == 200
            assert r.json()["_links"]["user"]["href"].startswith(_localhost(url))


async def test_webhooks_trust_the_ca_bundle_of_run_too() -> None:
    from ucwa_flow.cli._serving import Tls
    from ucwa_flow.runtime.webhooks import WebhookCaller

    tls = local_certificate()
    assert tls.ca_file is not None
    async with serve(Simulator(), tls=tls) as url:
        target = _localhost(url)  # any HTTPS endpoint behind the local CA will do
        untrusted = WebhookCaller()
        refused = await untrusted.call("GET", target, headers={}, body=None, timeout=WAIT)
        await untrusted.aclose()
        assert refused.error is not None
        assert "CERTIFICATE_VERIFY_FAILED" in refused.error
        assert Tls(None, insecure=False).webhook_client() is None  # the engine's default
        client = Tls(str(tls.ca_file), insecure=False).webhook_client()
        assert client is not None
        trusted = WebhookCaller(client)
        answered = await trusted.call("GET", target, headers={}, body=None, timeout=WAIT)
        await client.aclose()
    assert answered.ok, answered.error
    assert answered.json["_links"]["user"]["href"].startswith(target)
