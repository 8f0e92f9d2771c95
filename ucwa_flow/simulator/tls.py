"""TLS for the simulator: a local CA and a server certificate, made on first use.

A real Skype for Business front end speaks only HTTPS, under names such as
``lyncdiscover.contoso.com`` and ``lyncweb.contoso.com``. To stand in for one, the
simulator needs a certificate for those names that clients can be told to trust:

* :func:`local_certificate` keeps a small private CA and a server certificate in
  :func:`tls_dir` (``$UCWA_FLOW_TLS_DIR``, else ``$XDG_DATA_HOME/ucwa-flow/tls``, else
  ``~/.local/share/ucwa-flow/tls``). Both are created on first use and reused afterwards,
  so a client trusts ``ca.pem`` once. The server certificate is issued again when it does
  not cover every requested name, when it expires within 30 days or when it was not
  issued by the CA in the folder. It is always valid for ``127.0.0.1``, ``::1`` and
  ``localhost``. Private keys are written with mode 0600.
* :func:`user_certificate` takes a certificate and key of the user's own (``--cert``,
  ``--key``).
* :meth:`TlsFiles.server_context` loads either into an :class:`ssl.SSLContext`; every
  problem with the files is an :class:`~ucwa_flow.errors.OperationalError` with one line.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import ipaddress
import os
import socket
import ssl
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ucwa_flow.errors import OperationalError, UnreadableFileError

__all__ = [
    "TLS_DIR_ENV",
    "TlsFiles",
    "default_hostnames",
    "local_certificate",
    "tls_dir",
    "user_certificate",
]

#: The environment variable that moves the folder of the local CA (tests set it).
TLS_DIR_ENV = "UCWA_FLOW_TLS_DIR"

CA_FILE = "ca.pem"
CA_KEY_FILE = "ca-key.pem"
CERT_FILE = "server.pem"
KEY_FILE = "server-key.pem"

_ALWAYS = ("127.0.0.1", "::1", "localhost")
_CA_LIFETIME = dt.timedelta(days=3650)
_CERT_LIFETIME = dt.timedelta(days=397)
_RENEW_BEFORE = dt.timedelta(days=30)
_BACKDATE = dt.timedelta(minutes=5)  # tolerate clocks a little behind ours


@dataclass(frozen=True)
class TlsFiles:
    """A server certificate (PEM) and its private key; ``ca_file`` is the CA that issued it.

    ``ca_file`` is set for the simulator's own local CA (it is what clients must trust)
    and ``None`` for a certificate the user brought. ``names`` are the DNS names and
    addresses the certificate is valid for, when known.
    """

    cert_file: Path
    key_file: Path
    ca_file: Path | None = None
    names: tuple[str, ...] = ()

    def server_context(self) -> ssl.SSLContext:
        """An :class:`ssl.SSLContext` for serving with this certificate and key.

        Raises :class:`~ucwa_flow.errors.OperationalError` naming the file when either is
        missing or unreadable, or when they are not a PEM certificate and its key.
        """
        cert_pem = _read(self.cert_file, "certificate")
        key_pem = _read(self.key_file, "key")
        try:
            x509.load_pem_x509_certificate(cert_pem)
        except ValueError:
            raise OperationalError(
                f"TLS certificate file {self.cert_file} does not hold a PEM certificate"
            ) from None
        try:
            serialization.load_pem_private_key(key_pem, password=None)
        except TypeError:
            raise OperationalError(
                f"TLS key file {self.key_file} is encrypted; give a key without a passphrase"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise OperationalError(
                f"TLS key file {self.key_file} does not hold a PEM private key"
            ) from None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(self.cert_file, self.key_file)
        except ssl.SSLError as exc:
            raise OperationalError(
                f"TLS key file {self.key_file} does not belong to the certificate in "
                f"{self.cert_file} ({exc.reason or exc})"
            ) from None
        return context


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UnreadableFileError(f"TLS {what} file {path} does not exist") from None
    except OSError as exc:
        raise UnreadableFileError(
            f"cannot read TLS {what} file {path}: {exc.strerror or exc}"
        ) from None


def tls_dir() -> Path:
    """The per-user folder of the local CA and the server certificate (see the module doc)."""
    explicit = os.environ.get(TLS_DIR_ENV)
    if explicit:
        return Path(explicit).expanduser()
    data = os.environ.get("XDG_DATA_HOME")
    base = Path(data).expanduser() if data else Path.home() / ".local" / "share"
    return base / "ucwa-flow" / "tls"


def default_hostnames(domains: Iterable[str]) -> list[str]:
    """``lyncdiscover``, ``lyncdiscoverinternal`` and ``lyncweb`` names for each domain."""
    names: list[str] = []
    for domain in domains:
        for prefix in ("lyncdiscover", "lyncdiscoverinternal", "lyncweb"):
            name = f"{prefix}.{domain.lower()}"
            if name not in names:
                names.append(name)
    return names


def user_certificate(
    cert_file: str | os.PathLike[str], key_file: str | os.PathLike[str]
) -> TlsFiles:
    """A certificate and key the user brought, checked now (one clear line if unusable)."""
    files = TlsFiles(Path(cert_file), Path(key_file))
    files.server_context()
    return files


def local_certificate(
    hostnames: Iterable[str] = (),
    *,
    directory: Path | None = None,
    now: dt.datetime | None = None,
) -> TlsFiles:
    """The local CA's server certificate for ``hostnames`` (plus loopback), made if needed.

    ``directory`` defaults to :func:`tls_dir`; ``now`` (timezone-aware) to the current
    time, so that a test can ask about a date a year ahead. A new certificate keeps the
    names of the one it replaces, so alternating users files do not re-issue every time.
    """
    folder = directory if directory is not None else tls_dir()
    moment = now or dt.datetime.now(dt.UTC)
    wanted = _normalised([*_ALWAYS, *hostnames])
    try:
        _private_folder(folder)
        with _locked(folder):
            ca_cert, ca_key = _ca(folder, moment)
            names = _server_names(folder, ca_cert, wanted, moment)
            if names is not None:
                return TlsFiles(folder / CERT_FILE, folder / KEY_FILE, folder / CA_FILE, names)
            names = _normalised([*wanted, *_names_of(_load_cert(folder / CERT_FILE))])
            _issue(folder, ca_cert, ca_key, names, moment)
    except OSError as exc:
        raise OperationalError(
            f"cannot keep the simulator's TLS certificates in {folder}: "
            f"{exc.strerror or exc}; set {TLS_DIR_ENV} to a writable folder"
        ) from None
    return TlsFiles(folder / CERT_FILE, folder / KEY_FILE, folder / CA_FILE, names)


# -- the CA ---------------------------------------------------------------------------------


def _ca(folder: Path, now: dt.datetime) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The CA in ``folder``, or a new one when it is missing, damaged or about to expire."""
    cert = _load_cert(folder / CA_FILE)
    key = _load_key(folder / CA_KEY_FILE)
    if (
        cert is not None
        and key is not None
        and cert.public_key() == key.public_key()
        and cert.not_valid_after_utc - now > _RENEW_BEFORE
    ):
        return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ucwa-flow simulator"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"ucwa-flow local CA ({_owner()})"),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + _CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    _write(folder / CA_KEY_FILE, _key_pem(key), private=True)
    _write(folder / CA_FILE, cert.public_bytes(serialization.Encoding.PEM), private=False)
    (folder / CERT_FILE).unlink(missing_ok=True)  # issued by the old CA
    return cert, key


def _owner() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "user"
    return f"{user}@{socket.gethostname()}"


# -- the server certificate -----------------------------------------------------------------


def _server_names(
    folder: Path, ca: x509.Certificate, wanted: tuple[str, ...], now: dt.datetime
) -> tuple[str, ...] | None:
    """The names of the current server certificate if it can be reused, else ``None``."""
    cert = _load_cert(folder / CERT_FILE)
    key = _load_key(folder / KEY_FILE)
    if cert is None or key is None or cert.public_key() != key.public_key():
        return None
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return None
    names = _names_of(cert)
    if not set(wanted) <= set(names) or cert.not_valid_after_utc - now <= _RENEW_BEFORE:
        return None
    return names


def _issue(
    folder: Path,
    ca_cert: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: tuple[str, ...],
    now: dt.datetime,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    alt_names: list[x509.GeneralName] = []
    for name in names:
        address = _address(name)
        alt_names.append(x509.IPAddress(address) if address else x509.DNSName(name))
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(min(now + _CERT_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write(folder / KEY_FILE, _key_pem(key), private=True)
    _write(folder / CERT_FILE, cert.public_bytes(serialization.Encoding.PEM), private=False)


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _names_of(cert: x509.Certificate | None) -> tuple[str, ...]:
    if cert is None:
        return ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return ()
    return _normalised(
        str(entry.value) for entry in san if isinstance(entry, x509.DNSName | x509.IPAddress)
    )


def _address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(name)
    except ValueError:
        return None


def _normalised(names: Iterable[str]) -> tuple[str, ...]:
    """Lower-cased, without a trailing dot, addresses in canonical form, first seen first."""
    seen: dict[str, None] = {}
    for raw in names:
        name = raw.strip().rstrip(".").lower()
        address = _address(name.strip("[]"))
        if address is not None:
            name = str(address)
        if name:
            seen.setdefault(name, None)
    return tuple(seen)


# -- files ----------------------------------------------------------------------------------


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _private_folder(folder: Path) -> None:
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)


def _write(path: Path, data: bytes, *, private: bool) -> None:
    """Replace ``path`` atomically; private files are 0600 from their first byte."""
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(temp, 0o600 if private else 0o644)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Serialise simulators that start at the same time (POSIX; elsewhere a no-op)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(folder / ".lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
