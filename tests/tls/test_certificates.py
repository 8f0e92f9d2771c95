"""The local CA and the server certificate: made once, reused, re-issued when they must be."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from ucwa_flow.errors import OperationalError
from ucwa_flow.simulator.tls import (
    TLS_DIR_ENV,
    TlsFiles,
    default_hostnames,
    local_certificate,
    tls_dir,
    user_certificate,
)

NAMES = ["lyncdiscover.contoso.com", "lyncweb.contoso.com"]


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _sans(path: Path) -> set[str]:
    san = _cert(path).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in san.get_values_for_type(x509.IPAddress)}
    return set(san.get_values_for_type(x509.DNSName)) | ips


def test_first_use_creates_a_ca_and_a_certificate_for_loopback_and_the_names(
    tls_home: Path,
) -> None:
    files = local_certificate(NAMES)
    assert files.ca_file == tls_home / "ca.pem"
    assert files.cert_file.parent == tls_home
    assert _sans(files.cert_file) == {"127.0.0.1", "::1", "localhost", *NAMES}
    ca = _cert(tls_home / "ca.pem")
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    _cert(files.cert_file).verify_directly_issued_by(ca)
    for key in (files.key_file, tls_home / "ca-key.pem"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(tls_home.stat().st_mode) == 0o700


def test_a_second_start_reuses_the_ca_and_the_certificate(tls_home: Path) -> None:
    first = local_certificate(NAMES)
    ca, cert = (tls_home / "ca.pem").read_bytes(), first.cert_file.read_bytes()
    again = local_certificate(["LYNCWEB.contoso.com."])  # a subset, spelled differently
    assert again.ca_file == first.ca_file
    assert (tls_home / "ca.pem").read_bytes() == ca
    assert again.cert_file.read_bytes() == cert


def test_a_new_name_reissues_the_certificate_from_the_same_ca(tls_home: Path) -> None:
    first = local_certificate(NAMES)
    ca = (tls_home / "ca.pem").read_bytes()
    serial = _cert(first.cert_file).serial_number
    grown = local_certificate(["lyncweb.fabrikam.com"])
    assert (tls_home / "ca.pem").read_bytes() == ca
    assert _cert(grown.cert_file).serial_number != serial
    # the old names stay, so alternating between users files does not re-issue each time
    assert _sans(grown.cert_file) >= {*NAMES, "lyncweb.fabrikam.com", "localhost"}


def test_a_certificate_close_to_expiry_is_reissued(tls_home: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    first = local_certificate(NAMES, now=now)
    expires = _cert(first.cert_file).not_valid_after_utc
    assert local_certificate(NAMES, now=expires - dt.timedelta(days=40)).cert_file.read_bytes() == (
        first.cert_file.read_bytes()
    )
    later = local_certificate(NAMES, now=expires - dt.timedelta(days=10))
    assert _cert(later.cert_file).not_valid_after_utc > expires


def test_a_damaged_ca_is_replaced_and_its_certificate_with_it(tls_home: Path) -> None:
    local_certificate(NAMES)
    old_ca = (tls_home / "ca.pem").read_bytes()
    (tls_home / "ca-key.pem").write_text("not a key")
    again = local_certificate(NAMES)
    ca = _cert(tls_home / "ca.pem")
    assert (tls_home / "ca.pem").read_bytes() != old_ca
    _cert(again.cert_file).verify_directly_issued_by(ca)


def test_the_folder_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(TLS_DIR_ENV)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert tls_dir() == tmp_path / "data" / "ucwa-flow" / "tls"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert tls_dir() == tmp_path / "home" / ".local" / "share" / "ucwa-flow" / "tls"


def test_an_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(
        OperationalError, match=rf"cannot keep .* in {blocker}/tls: .*UCWA_FLOW_TLS_DIR"
    ):
        local_certificate(directory=blocker / "tls")


def test_default_names_cover_each_user_domain_once() -> None:
    assert default_hostnames(["contoso.com", "Fabrikam.com", "contoso.com"]) == [
        "lyncdiscover.contoso.com",
        "lyncdiscoverinternal.contoso.com",
        "lyncweb.contoso.com",
        "lyncdiscover.fabrikam.com",
        "lyncdiscoverinternal.fabrikam.com",
        "lyncweb.fabrikam.com",
    ]


def test_user_files_that_cannot_serve_are_one_line_each(tmp_path: Path) -> None:
    good = local_certificate(NAMES)
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN NOTHING-----\n")
    cases = [
        (
            tmp_path / "missing.pem",
            good.key_file,
            r"TLS certificate file .*missing.pem does not exist",
        ),
        (good.cert_file, tmp_path / "gone.key", r"TLS key file .*gone.key does not exist"),
        (junk, good.key_file, r"TLS certificate file .*junk.pem does not hold a PEM certificate"),
        (good.cert_file, junk, r"TLS key file .*junk.pem does not hold a PEM private key"),
        (
            good.cert_file,
            good.key_file.parent / "ca-key.pem",
            r"does not belong to the certificate",
        ),
        (tmp_path, good.key_file, r"cannot read TLS certificate file .*: Is a directory"),
    ]
    for cert, key, message in cases:
        with pytest.raises(OperationalError, match=message):
            user_certificate(cert, key)
    assert user_certificate(good.cert_file, good.key_file) == TlsFiles(
        good.cert_file, good.key_file
    )
