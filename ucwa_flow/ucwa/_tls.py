"""The client's TLS trust, and turning a refused certificate into one clear error (private).

Skype for Business front ends usually carry certificates from a corporate CA that is not
in any public bundle. :func:`client_context` builds the one :class:`ssl.SSLContext` a
:class:`~ucwa_flow.ucwa.UcwaClient` uses for both of its connection pools: the trust
``httpx`` would use by default (``SSL_CERT_FILE``, ``SSL_CERT_DIR``, else certifi's
bundle) plus an extra CA bundle, or no verification at all when asked for explicitly.
:func:`rejected_certificate` recognises a failed certificate check inside an ``httpx``
transport error.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from ucwa_flow.errors import OperationalError, UnreadableFileError
from ucwa_flow.ucwa.errors import CertificateRejected

__all__ = ["client_context", "not_tls_hint", "rejected_certificate"]


def client_context(
    ca_bundle: str | os.PathLike[str] | None = None, *, insecure: bool = False
) -> ssl.SSLContext:
    """The TLS context for talking to a UCWA server.

    Verification is on unless ``insecure``. ``ca_bundle`` (a PEM file of one or more CA
    certificates) is trusted in addition to the default trust. An unreadable or invalid
    bundle raises :class:`~ucwa_flow.errors.OperationalError` with one line.
    """
    if insecure:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    if ca_bundle is None:
        return _default_trust()
    context = httpx.create_ssl_context(verify=True, trust_env=True)
    _add_bundle(context, os.fspath(ca_bundle))
    return context


#: the default trust's contexts, by what :func:`_trust_source` says they were made from
_DEFAULT_TRUST: dict[tuple[object, ...], ssl.SSLContext] = {}


def _default_trust() -> ssl.SSLContext:
    """``httpx``'s default trust, made once per process for each source of trust.

    Loading certifi's bundle costs some 25 ms of CPU, and every client asked for it again.
    A context is made to be shared by many connections. Nothing here changes it once made;
    httpcore sets its ALPN protocols at each TLS connection, always to ``http/1.1`` as no
    client of ours asks for HTTP/2 (one that did would change it for every client).
    """
    source = _trust_source()
    context = _DEFAULT_TRUST.get(source)
    if context is None:
        context = _DEFAULT_TRUST[source] = httpx.create_ssl_context(verify=True, trust_env=True)
    return context


def _trust_source() -> tuple[object, ...]:
    """What the default context is made of: the environment ``httpx`` and ``ssl`` read, and
    the file ``SSL_CERT_FILE`` names as it is now (a new file there is a new trust)."""
    names = ("SSL_CERT_FILE", "SSL_CERT_DIR", "SSLKEYLOGFILE")
    values = tuple(os.environ.get(name) for name in names)
    cafile = values[0]
    if not cafile:
        return values
    try:
        stat = os.stat(cafile)
    except OSError:
        return values  # httpx says what is wrong with it, each time
    return (*values, stat.st_mtime_ns, stat.st_size, stat.st_ino)


def _add_bundle(context: ssl.SSLContext, path: str) -> None:
    try:
        context.load_verify_locations(cafile=path)
    except FileNotFoundError:
        raise UnreadableFileError(f"CA bundle {path} does not exist") from None
    except ssl.SSLError as exc:
        raise OperationalError(
            f"CA bundle {path} holds no usable PEM certificate ({exc.reason or exc})"
        ) from None
    except OSError as exc:
        raise UnreadableFileError(f"cannot read CA bundle {path}: {exc.strerror or exc}") from None


def rejected_certificate(exc: BaseException, url: str) -> CertificateRejected | None:
    """A :class:`CertificateRejected` for ``url`` when ``exc`` is a failed certificate check.

    ``httpx`` wraps the :class:`ssl.SSLCertVerificationError` in its own errors (as the
    cause, or as an argument); the whole chain is searched. ``None`` for any other error.
    """
    failure = _find_verification_error(exc)
    if failure is None:
        return None
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2] or url
    reason = failure.verify_message or failure.reason or str(failure)
    return CertificateRejected(host, str(reason), _advice(str(reason)))


def not_tls_hint(exc: BaseException, url: str) -> str:
    """``"; ..."`` advice when an ``https://`` ``url`` reached a server that does not speak
    TLS there (OpenSSL's "wrong version number", "record layer failure" since 3.2: the
    answer was plain HTTP, say), else
    ``""``. The advice names the ``http://`` URL to try."""
    parts = urlsplit(url)
    if parts.scheme != "https" or not _said_wrong_version(exc):
        return ""
    plain = parts._replace(scheme="http").geturl()
    return f"; the server does not speak TLS there (a plain HTTP server?): try {plain}"


#: what OpenSSL says of a plain-HTTP answer to a TLS hello: before 3.2, and from 3.2 on
#: (``[SSL: WRONG_VERSION_NUMBER] wrong version number``, ``[SSL] record layer failure``)
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE")
_NOT_TLS_TEXT = ("wrong version number", "record layer failure")


def _said_wrong_version(exc: BaseException) -> bool:
    return any(
        (isinstance(item, ssl.SSLError) and item.reason in _NOT_TLS)
        or any(text in str(item) for text in _NOT_TLS_TEXT)  # wrapped: httpx keeps the text
        for item in _chain(exc)
    )


def _find_verification_error(exc: BaseException) -> ssl.SSLCertVerificationError | None:
    return next((i for i in _chain(exc) if isinstance(i, ssl.SSLCertVerificationError)), None)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and the exceptions behind it: causes, contexts and arguments, each once."""
    pending: list[object] = [exc]
    seen: set[int] = set()
    while pending:
        item = pending.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        pending.extend([item.__cause__, item.__context__, *item.args])


def _advice(reason: str) -> str:
    lowered = reason.lower()
    if "mismatch" in lowered or "not valid for" in lowered:
        return "connect with a host name the certificate is issued for"
    if "expired" in lowered or "not yet valid" in lowered:
        return "the server's certificate must be renewed (or this machine's clock is wrong)"
    return (
        "if the server uses a private or corporate CA, trust that CA's certificate "
        "with --ca-bundle FILE (or UCWA_FLOW_CA_BUNDLE)"
    )
