"""Protocol-layer errors: what the UCWA wire layer raises.

* :class:`MalformedEventBody`: an event-channel body that is not UCWA (decoder).
* :class:`UcwaHttpError`: a UCWA request answered with an error status; carries the
  ``{code, subcode, message}`` error body when the server sent one.
* :class:`AuthenticationFailed`, :class:`DiscoveryFailed`, :class:`ServerUnreachable`:
  operational failures during sign-in, each with a message a person can act on.
* :class:`TokenRefused`: an :class:`AuthenticationFailed` for a token refused right after
  it was issued; at start-up it names a broken account, later it may pass (callers that run
  for long sign in again, with back-off).
* :class:`CertificateRejected`: a :class:`ServerUnreachable` whose TLS certificate failed
  verification; it names the host and says what to do.
* :class:`ApplicationGone`: a :class:`UcwaHttpError` saying the UCWA application no longer
  exists (404 ApplicationNotFound, 410 InactiveApplicationExpired); the cure is to re-create it.
* :class:`UnexpectedResponse`: a success status whose content is not what UCWA sends (a body
  that is not JSON, a 201 without ``Location``).
* :class:`EventChannelReplaced`: the event channel keeps being taken over by another reader.
* :class:`ForeignHref`: an href of the server's that leads to another origin than the
  application's: not requested.
"""

from __future__ import annotations

from ucwa_flow.errors import OperationalError, UcwaFlowError

__all__ = [
    "ApplicationGone",
    "AuthenticationFailed",
    "CertificateRejected",
    "DiscoveryFailed",
    "EventChannelReplaced",
    "ForeignHref",
    "MalformedEventBody",
    "ServerUnreachable",
    "TokenRefused",
    "UcwaError",
    "UcwaHttpError",
    "UnexpectedResponse",
]


class UcwaError(UcwaFlowError):
    """Root of the protocol layer's errors."""


class MalformedEventBody(UcwaError):
    """An event-channel body that cannot be decoded. ``path`` says where it went wrong."""

    def __init__(self, message: str, path: str = "$") -> None:
        super().__init__(f"malformed event body at {path}: {message}")
        self.path = path


class UcwaHttpError(UcwaError):
    """A UCWA request that got an error status.

    ``code``/``subcode``/``error_message`` come from the UCWA error body when there is one
    (``None`` for the IIS HTML pages that 401s and proxies return).
    """

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        code: str | None = None,
        subcode: str | None = None,
        error_message: str | None = None,
    ) -> None:
        detail = "/".join(p for p in (code, subcode) if p)
        text = f"{method} {url} -> {status}"
        if detail:
            text += f" {detail}"
        if error_message:
            text += f": {error_message}"
        super().__init__(text)
        self.method = method
        self.url = url
        self.status = status
        self.code = code
        self.subcode = subcode
        self.error_message = error_message


class AuthenticationFailed(UcwaError, OperationalError):
    """Sign-in was refused (wrong user name or password, grant type not allowed)."""


class TokenRefused(AuthenticationFailed):
    """The server refused a token it had just issued (a second 401 right after the grant).

    The request it carried was not performed. When it happens at the first sign-in, the
    account is most likely not enabled for web access, and the message says so. A bot that
    has been running can meet it for a while (a front end that has not yet accepted the
    token service's keys, an account being changed): the event channel and the operation
    retries treat it as passing and sign in again after a back-off.
    """


class DiscoveryFailed(UcwaError, OperationalError):
    """Autodiscover did not lead to a UCWA applications resource."""


class ServerUnreachable(UcwaError, OperationalError):
    """The server could not be reached at all (DNS, refused connection, TLS).

    ``unsent`` is true when the operation itself was certainly not performed (it was the
    token grant on the way that failed), so that sending it again is safe.
    """

    def __init__(self, message: str, *, unsent: bool = False) -> None:
        super().__init__(message)
        self.unsent = unsent


class CertificateRejected(ServerUnreachable):
    """The server's TLS certificate failed verification, so nothing was sent to it.

    ``host`` is ``host[:port]`` as addressed, ``reason`` what OpenSSL said (``unable to get
    local issuer certificate``, ``Hostname mismatch ...``), ``advice`` what to do about it.
    """

    def __init__(self, host: str, reason: str, advice: str) -> None:
        super().__init__(f"the TLS certificate of {host} was rejected ({reason}); {advice}")
        self.host = host
        self.reason = reason
        self.advice = advice


class ApplicationGone(UcwaHttpError):
    """The UCWA application behind a request no longer exists on the server.

    Raised for ``404 ApplicationNotFound`` and ``410 InactiveApplicationExpired``. Every
    href of the old application is dead; re-create the application (conversations are lost).
    """


class UnexpectedResponse(UcwaError):
    """A success status with content UCWA never sends (not JSON, no ``Location`` header)."""


class EventChannelReplaced(UcwaError, OperationalError):
    """Another reader keeps replacing this application's event-channel request (409 PGetReplaced).

    Only one process may run per bot account: two readers of one event channel steal each
    other's events.
    """


class ForeignHref(UcwaError):
    """An href from an event or a resource that resolves to another origin
    (``scheme://host:port``) than the application's: the request is not sent. Only sign-in
    (discovery, the pool's redirects) moves between hosts; every link of an application
    stays on its host, and the bot's requests go nowhere a server's data alone names."""
