"""Autodiscover: from a SIP address (or a server URL) to the UCWA ``applications`` URL.

The walk follows links only: the root resource gives ``user`` (or a ``redirect`` to
another root), the user resource gives ``applications`` (or a ``redirect`` when the user is
homed on another pool). The ``401`` on the user resource is answered by the client's
:class:`~ucwa_flow.ucwa.auth.WebTicketAuth`, which also fetches a second token when a
redirect or the applications link points at another host. A redirect may lead anywhere
(over https), but the password and tokens go only to the hosts the client trusts
(:class:`~ucwa_flow.ucwa.trust.SignInTrust`): a redirect elsewhere ends in
``AuthenticationFailed`` at its first challenge, with nothing sent there.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ucwa_flow import bounded_json
from ucwa_flow._host_names import canonical_host
from ucwa_flow._server_url import server_url_problem
from ucwa_flow.ucwa._http import ACCEPT_JSON, NETWORK_ERRORS, link, resolve
from ucwa_flow.ucwa._tls import not_tls_hint, rejected_certificate
from ucwa_flow.ucwa.errors import CertificateRejected, DiscoveryFailed, ServerUnreachable

__all__ = ["Discovery", "discover", "root_candidates"]


@dataclass(frozen=True, slots=True)
class Discovery:
    """Where a user's UCWA lives: the root that answered, the user resource, applications."""

    root_url: str
    user_url: str
    applications_url: str


def sip_domain(user: str) -> str:
    """The domain of ``sip:user@domain`` (or ``user@domain``), lower-cased."""
    address = user[4:] if user.lower().startswith("sip:") else user
    _, at, domain = address.rpartition("@")
    if not at or not domain or "/" in domain:
        raise DiscoveryFailed(
            f"cannot derive a discovery domain from {user!r}: expected sip:user@domain, "
            f"or give the server URL explicitly"
        )
    return domain.lower()


def root_candidates(user: str, server_url: str | None = None) -> tuple[str, ...]:
    """The Autodiscover roots to try, in order.

    An explicit ``server_url`` is the only candidate; otherwise the internal then the
    external Lync discover names of the user's SIP domain.
    """
    if server_url:
        problem = server_url_problem(server_url)
        if problem is not None:
            raise DiscoveryFailed(f"server URL {server_url!r} {problem}")
        return (server_url,)
    domain = sip_domain(user)
    if "xn--" in domain and canonical_host(domain) is None:  # httpx: an idna traceback
        raise DiscoveryFailed(
            f"the SIP domain of {user} ({domain}) is not a valid host name: give the server "
            "URL explicitly"
        )
    return (f"https://lyncdiscoverinternal.{domain}/", f"https://lyncdiscover.{domain}/")


async def discover(
    http: httpx.AsyncClient,
    user: str,
    *,
    server_url: str | None = None,
    max_hops: int = 5,
) -> Discovery:
    """Walk Autodiscover for ``user`` and return where its ``applications`` resource is.

    ``http`` must carry the WebTicket auth (the user resource is protected). Redirects are
    followed up to ``max_hops`` times; a redirect must stay on https (or on the scheme the
    walk started with), and must not loop. Derived roots are tried in turn; an explicit
    ``server_url`` is tried alone.

    Raises :class:`ServerUnreachable` when no candidate could be reached (its
    :class:`CertificateRejected` when a candidate's certificate failed verification),
    :class:`DiscoveryFailed` when one answered but did not lead to ``applications``, and
    :class:`~ucwa_flow.ucwa.errors.AuthenticationFailed` from the auth flow.
    """
    failures: list[Exception] = []
    for root in root_candidates(user, server_url):
        try:
            return await _walk(http, root, max_hops)
        except (ServerUnreachable, DiscoveryFailed) as exc:
            failures.append(exc)
    if all(isinstance(f, ServerUnreachable) for f in failures):
        rejected = [f for f in failures if isinstance(f, CertificateRejected)]
        if rejected:
            raise rejected[0]  # the one failure a person can do something about
        if len(failures) == 1:
            raise failures[0]
        raise ServerUnreachable(
            "cannot reach any Autodiscover server for "
            f"{user} ({'; '.join(str(f) for f in failures)}); give the server URL explicitly"
        )
    raise next(f for f in failures if isinstance(f, DiscoveryFailed))


async def _walk(http: httpx.AsyncClient, root: str, max_hops: int) -> Discovery:
    start_scheme = urlsplit(root).scheme
    url = root
    user_url: str | None = None
    seen: set[str] = set()
    hops = 0
    while True:
        if url in seen:
            raise DiscoveryFailed(f"Autodiscover redirects loop back to {url}")
        seen.add(url)
        resource = await _get(http, url)
        applications = link(resource, "applications")
        if applications:
            found = _named_host(resolve(url, applications), url)
            return Discovery(root, user_url or url, found)
        user = link(resource, "user")
        redirect = link(resource, "redirect")
        if user and user_url is None:
            user_url = url = _named_host(resolve(url, user), url)
            continue
        if redirect:
            hops += 1
            if hops > max_hops:
                raise DiscoveryFailed(
                    f"Autodiscover from {root} took more than {max_hops} redirects"
                )
            url = _checked_redirect(resolve(url, redirect), start_scheme, url)
            if user_url is not None:
                user_url = None  # a pool redirect starts a new root -> user walk
            continue
        raise DiscoveryFailed(
            f"{url} is not a UCWA Autodiscover resource (no user, applications or redirect link)"
        )


def _checked_redirect(target: str, start_scheme: str, source: str) -> str:
    scheme = urlsplit(target).scheme
    if scheme != "https" and scheme != start_scheme:
        raise DiscoveryFailed(
            f"refusing Autodiscover redirect from {source} to {target}: it would leave https"
        )
    return _named_host(target, source)


def _named_host(target: str, source: str) -> str:
    """``target``, a link ``source`` gave, unless its host is no host name (``xn--ab.example``
    is no valid IDNA: httpx raises an ``idna`` error building any request to it)."""
    try:
        host = urlsplit(target).hostname
    except ValueError:
        host = None
    if canonical_host(host or "") is None:
        raise DiscoveryFailed(
            f"refusing the link from {source} to {target}: its host is not a valid host name"
        )
    return target


async def _get(http: httpx.AsyncClient, url: str) -> dict[str, object]:
    try:
        response = await http.get(url, headers=ACCEPT_JSON)
    except NETWORK_ERRORS as exc:
        rejected = rejected_certificate(exc, url)
        if rejected is not None:
            raise rejected from None
        reason = (str(exc) or type(exc).__name__) + not_tls_hint(exc, url)
        raise ServerUnreachable(f"cannot reach {url}: {reason}") from None
    if response.status_code != 200:
        raise DiscoveryFailed(
            f"Autodiscover at {url} answered {response.status_code} {response.reason_phrase}"
        )
    try:
        body = bounded_json.loads(response.content)
    except ValueError:  # not JSON, or nested too deeply
        body = None
    if not isinstance(body, dict):
        raise DiscoveryFailed(f"{url} is not a UCWA Autodiscover service (its answer is not JSON)")
    return body
