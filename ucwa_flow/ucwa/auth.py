"""WebTicket OAuth (the UCWA password grant) as an :class:`httpx.Auth`.

A UCWA server answers an unauthenticated request with ``401`` and a challenge such as::

    WWW-Authenticate: Bearer trusted_issuers="...", client_id="..."
    WWW-Authenticate: MsRtcOAuth href="https://pool/WebTicket/oauthtoken",grant_type="...,password"

:class:`WebTicketAuth` answers that challenge by POSTing the password grant to the ``href``,
keeps the token it gets (one per host: a WebTicket token is valid for one pool), and sends
the original request again with ``Authorization: Bearer cwt=...``. Only the password grant
is implemented; Integrated Windows sign-in (NTLM/Negotiate) and ADFS passive sign-in are not.

The challenge is the server's word, so the password goes only where a
:class:`~ucwa_flow.ucwa.trust.SignInTrust` says it may: both the WebTicket host and the
host that challenged (which gets the token) must be trusted, or nothing is sent.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator, Generator, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from ucwa_flow import bounded_json
from ucwa_flow._host_names import canonical_host
from ucwa_flow.clock import Clock, SystemClock
from ucwa_flow.ucwa._http import ACCEPT_JSON, error_for, host_name, host_of, resolve
from ucwa_flow.ucwa.errors import AuthenticationFailed, TokenRefused
from ucwa_flow.ucwa.trust import SignInTrust, trust_hint

__all__ = ["Challenge", "WebTicketAuth", "parse_challenge"]

_SCHEME = re.compile(r"MsRtcOAuth\b", re.IGNORECASE)
_PARAM = re.compile(
    r"""([A-Za-z_][\w-]*)\s*=\s*(?:"([^"]*)"|([^,\s"]+))""",
)
_FORM = "application/x-www-form-urlencoded;charset=UTF-8"


@dataclass(frozen=True, slots=True)
class Challenge:
    """The ``MsRtcOAuth`` challenge: where to get a token, and which grants it takes."""

    href: str
    grant_types: tuple[str, ...]

    @property
    def allows_password(self) -> bool:
        """True unless the server listed its grants and ``password`` is not among them."""
        return not self.grant_types or "password" in self.grant_types


def parse_challenge(headers: Sequence[str]) -> Challenge | None:
    """Find the ``MsRtcOAuth`` challenge among ``WWW-Authenticate`` header values.

    Tolerant on purpose: the two challenges may come as two headers or merged into one
    comma-joined value, ``href`` may be quoted or not, and case does not matter. Returns
    ``None`` when there is no ``MsRtcOAuth`` challenge with an ``href``.
    """
    text = ", ".join(headers)
    found = _SCHEME.search(text)
    if found is None:
        return None
    href = None
    grants: tuple[str, ...] = ()
    for match in _PARAM.finditer(text, found.end()):
        name = match.group(1).lower()
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if name == "href" and href is None:
            href = value.strip()
        elif name == "grant_type" and not grants:
            grants = tuple(g.strip() for g in value.split(",") if g.strip())
    if not href:
        return None
    return Challenge(href=href, grant_types=grants)


@dataclass(frozen=True, slots=True)
class _Token:
    authorization: str  # the whole header value, e.g. "Bearer cwt=AAEB..."
    endpoint: str  # the WebTicket URL it came from, for proactive refresh
    refresh_at: float  # clock.monotonic() after which a new grant is fetched first


class WebTicketAuth(httpx.Auth):
    """UCWA WebTicket password-grant authentication for an ``httpx.AsyncClient``.

    ``username`` is what the WebTicket service expects (``user@domain`` or
    ``DOMAIN\\user``). Tokens are cached per ``scheme://host:port`` of the request, so a
    client that moves from the Autodiscover host to a different pool host gets a second
    token from that pool's own challenge.

    * A ``401`` with an ``MsRtcOAuth`` challenge triggers a password grant to its ``href``
      and one retry of the request. A second ``401`` right after a fresh grant raises
      :class:`~ucwa_flow.ucwa.errors.TokenRefused`, an :class:`AuthenticationFailed` (the
      request was not performed; the next one meets a 401 and fetches another token); a
      ``401`` with no ``MsRtcOAuth`` challenge, or a challenge that does not offer the
      password grant, raises :class:`AuthenticationFailed`.
    * ``400 invalid_grant`` from the token service raises :class:`AuthenticationFailed`
      ("wrong user name or password ..."); other grant errors raise it with the OAuth error
      name; a 5xx raises :class:`~ucwa_flow.ucwa.errors.UcwaHttpError`.
    * Tokens are renewed before ``expires_in`` runs out (a tenth of the lifetime early, at
      most five minutes), measured on the injected ``clock``.
    * Concurrent requests share one grant per host (an asyncio lock per host).
    * The password goes to an ``https`` WebTicket service only, when the challenge came
      over ``https``: an ``http`` (or other) ``href`` raises :class:`AuthenticationFailed`.
      Once a request went over ``https``, a challenge over ``http`` raises it too: a
      server link to ``http`` (a user, applications or event href) does not take the
      password or a token off ``https``.
    * The password goes only to a WebTicket host that ``trust`` trusts, and only when the
      host that challenged is trusted too (the token it gets is sent there, and is as good
      as the password for hours): otherwise :class:`AuthenticationFailed`, one line naming
      the host, the account and how to trust the host, and nothing is sent. ``trust``
      defaults to the domain of ``username`` when it is ``user@domain`` (a
      ``DOMAIN\\user`` name trusts no host then); :class:`~ucwa_flow.ucwa.UcwaClient`
      passes the account's SIP domain, its server URL's host and the operator's list.
    * A token is sent only to the host whose challenge it answered (``scheme://host:port``);
      the pools do not follow HTTP redirects, so no request carries it anywhere else.

    Async clients only.
    """

    def __init__(
        self,
        username: str,
        password: str,
        *,
        clock: Clock | None = None,
        trust: SignInTrust | None = None,
    ) -> None:
        if not username:
            raise ValueError("a user name is required for the WebTicket password grant")
        self.username = username
        self.trust = trust if trust is not None else SignInTrust.for_account(username)
        self._password = password
        self._clock = clock or SystemClock()
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.grants = 0  # number of password grants obtained (observability and tests)
        self._https = False  # a request went over https: no grant over http after it

    def has_token(self, url: str) -> bool:
        """Whether a token for the host of ``url`` is cached."""
        return host_of(url) in self._tokens

    def forget(self) -> None:
        """Drop every cached token (the next request to each host is challenged again)."""
        self._tokens.clear()

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("WebTicketAuth works with httpx.AsyncClient only")

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        if request.url.scheme == "https":
            self._https = True  # from now on, nothing of the account's goes over http
        host = host_of(request.url)
        lock = self._locks.setdefault(host, asyncio.Lock())
        token = self._tokens.get(host)

        if token is not None and self._clock.monotonic() >= token.refresh_at:
            async with lock:
                current = self._tokens.get(host)
                if current is token:
                    grant = yield self._grant_request(token.endpoint)
                    token = await self._accept_grant(grant, host, token.endpoint)
                else:
                    token = current

        if token is not None:
            request.headers["Authorization"] = token.authorization
        response = yield request
        if response.status_code != 401:
            return

        challenge = parse_challenge(response.headers.get_list("WWW-Authenticate"))
        if challenge is None:
            offered = ", ".join(response.headers.get_list("WWW-Authenticate")) or "nothing"
            raise AuthenticationFailed(
                f"{host} asked {self.username} to authenticate but offered no WebTicket "
                f"(MsRtcOAuth) sign-in (it offered: {offered}); ucwa-flow supports only the "
                f"password grant, not NTLM or Windows sign-in"
            )
        if not challenge.allows_password:
            raise AuthenticationFailed(
                f"{host} does not allow password sign-in (it offers "
                f"{', '.join(challenge.grant_types)}); ucwa-flow supports only the password grant"
            )
        endpoint = resolve(str(request.url), challenge.href)
        if request.url.scheme == "https" and not endpoint.startswith("https://"):
            raise AuthenticationFailed(
                f"{host} asked for {self.username}'s password at {endpoint}: refused, it "
                f"would cross the network unencrypted (the WebTicket service must be https)"
            )
        if self._https and request.url.scheme != "https":
            raise AuthenticationFailed(
                f"{host} asked for {self.username}'s password over http after sign-in "
                f"began over https: refused, the password and the token would cross the "
                f"network unencrypted (a link of the server leads to http: its links must "
                f"stay on https)"
            )
        self._check_trust(request.url, httpx.URL(endpoint))
        async with lock:
            current = self._tokens.get(host)
            if current is not None and current is not token:
                token = current  # another request got a new token while we waited
            else:
                grant = yield self._grant_request(endpoint)
                token = await self._accept_grant(grant, host, endpoint)

        request.headers["Authorization"] = token.authorization
        response = yield request
        if response.status_code == 401:
            raise TokenRefused(
                f"{host} refused a freshly issued token for {self.username}; if it goes on, "
                f"the account may not be enabled for Skype for Business web access"
            )

    def _check_trust(self, challenger: httpx.URL, endpoint: httpx.URL) -> None:
        """:class:`AuthenticationFailed` unless both hosts are trusted (the token goes to
        ``challenger``, the password to ``endpoint``)."""
        named_by = host_name(challenger)
        for url, what in (
            (challenger, "sign in there (it would get the account's token)"),
            (endpoint, f"send the password to the WebTicket service {named_by} named"),
        ):
            host = host_name(url)
            canonical = canonical_host(host)
            if canonical is None:  # xn--ab.contoso.com: no trust to hint at
                raise AuthenticationFailed(
                    f"{host} is not a valid host name, so not a trusted sign-in server for "
                    f"{self.username}: refused to {what}"
                )
            if not self.trust.trusts(host):
                raise AuthenticationFailed(
                    f"{host} is not a trusted sign-in server for {self.username} "
                    f"(trusted: {self.trust.describe()}): refused to {what}; "
                    + trust_hint(canonical)
                )

    def _grant_request(self, endpoint: str) -> httpx.Request:
        form = urlencode(
            {"grant_type": "password", "username": self.username, "password": self._password}
        )
        return httpx.Request(
            "POST",
            endpoint,
            content=form.encode(),
            headers={**ACCEPT_JSON, "Content-Type": _FORM},
        )

    async def _accept_grant(self, response: httpx.Response, host: str, endpoint: str) -> _Token:
        await response.aread()
        where = host_name(httpx.URL(endpoint)) or endpoint
        if response.status_code == 400:
            error = _oauth_error(response)
            if error == "invalid_grant":
                raise AuthenticationFailed(
                    f"wrong user name or password for {self.username} at {where}"
                )
            raise AuthenticationFailed(
                f"the WebTicket service at {where} refused the password grant for "
                f"{self.username} ({error or 'no reason given'})"
            )
        if response.status_code >= 500:
            raise error_for(response)
        if response.status_code != 200:
            raise AuthenticationFailed(
                f"the WebTicket service at {endpoint} answered {response.status_code} "
                f"to the password grant for {self.username}"
            )
        try:
            body = bounded_json.loads(response.content)
            access = body["access_token"]
            kind = body.get("token_type") or "Bearer"
            lifetime = float(body.get("expires_in") or 3600)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise AuthenticationFailed(
                f"the WebTicket service at {endpoint} answered without a usable access token"
            ) from None
        if not isinstance(access, str) or not access or not isinstance(kind, str):
            raise AuthenticationFailed(
                f"the WebTicket service at {endpoint} answered without a usable access token"
            )
        margin = min(300.0, lifetime / 10)
        token = _Token(
            authorization=f"{kind} {access}",
            endpoint=endpoint,
            refresh_at=self._clock.monotonic() + lifetime - margin,
        )
        self._tokens[host] = token
        self.grants += 1
        return token


def _oauth_error(response: httpx.Response) -> str | None:
    try:
        body = bounded_json.loads(response.content)
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, str) else None
