"""Which servers may have an account's password and tokens: :class:`SignInTrust`.

A front end answers a request with a WebTicket challenge naming where to send the
password (``MsRtcOAuth href=...``), and Autodiscover may redirect the client to another
root; both are the server's word. A server that is not the organisation's (a DNS or
Autodiscover answer pointing at an attacker's host, which has a valid certificate for its
own name) could name itself and collect the password. Lync and Skype for Business clients
sign in only to servers in the user's SIP domain (or the one configured), refusing others
with "cannot verify that the server is trusted for your sign-in address"; this is that
rule for the bot.

Trusted are: the SIP domain of the account and every name under it (``lyncweb.contoso.com``
for ``sip:bot@contoso.com``, never ``evilcontoso.com`` or ``contoso.com.evil.net``), and
the hosts named explicitly (the configured server URL's host, and whatever the operator
listed: ``--trust-host`` for ``ucwa-flow run``, ``server.trusted_hosts`` in a deployment
file); a name listed as ``*.contoso.local`` is a domain suffix, trusting every name under
``contoso.local`` but not ``contoso.local`` itself (the rules: :mod:`ucwa_flow._host_names`).
Names are compared in their canonical form (:func:`~ucwa_flow._host_names.canonical_host`:
case-insensitive, IDNA, no trailing dot); a host that has none is never trusted. Ports do
not matter: a host name is what a certificate vouches for.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from ucwa_flow._host_names import (
    canonical_host,
    is_address,
    trusted_host_problem,
    trusted_suffix,
)

__all__ = ["SignInTrust", "trust_hint"]


def trust_hint(host: str) -> str:
    """How an operator trusts ``host`` (canonical); the end of every refusal (see
    :class:`SignInTrust`). It offers the name alone, never a suffix: the name comes from
    the server that was refused, and ``*.co.uk`` or ``*.cloudapp.net`` would trust far more
    than the organisation's servers."""
    return (
        f"if it is your organisation's sign-in server, trust it with --trust-host {host} "
        "(ucwa-flow run) or server.trusted_hosts (deployment file)"
    )


@dataclass(frozen=True, slots=True)
class SignInTrust:
    """The hosts an account's password and tokens may go to (see the module docstring).

    ``domain`` is trusted with every name under it; ``hosts`` only as named; ``suffixes``
    (listed as ``*.contoso.local``) with every name under each, not the name itself. All
    hold canonical names: build one with :meth:`for_account`.
    """

    domain: str | None = None
    hosts: frozenset[str] = frozenset()
    suffixes: frozenset[str] = frozenset()

    @classmethod
    def for_account(
        cls, address: str, *, server_url: str | None = None, hosts: Iterable[str] = ()
    ) -> SignInTrust:
        """The trust of the account ``address`` (``sip:user@domain``, ``user@domain``; a
        ``DOMAIN\\user`` name has no domain to trust): its domain, the host of
        ``server_url`` and ``hosts``. A name in ``hosts`` that is not a host name raises
        :class:`ValueError` (the command line and the deployment file check them first)."""
        named: set[str] = set()
        suffixes: set[str] = set()
        for host in hosts:
            problem = trusted_host_problem(host)
            if problem is not None:
                raise ValueError(f"trusted host {host!r} {problem}")
            suffix = trusted_suffix(host)
            if suffix is not None:
                suffixes.add(suffix)
                continue
            canonical = canonical_host(host.strip())
            assert canonical is not None  # trusted_host_problem said so
            named.add(canonical)
        if server_url:
            try:
                server_host = canonical_host(urlsplit(server_url).hostname or "")
            except ValueError:  # not a URL: discovery says so, in one line
                server_host = None
            if server_host is not None:
                named.add(server_host)
        domain = None
        user = address[4:] if address[:4].lower() == "sip:" else address
        local, at, written = user.rpartition("@")
        if local and at and written:
            domain = canonical_host(written)
        if domain is not None and is_address(domain):
            named.add(domain)  # sip:bot@10.0.0.5: that address only, nothing "under" it
            domain = None
        return cls(domain, frozenset(named), frozenset(suffixes))

    def trusts(self, host: str) -> bool:
        """Whether ``host`` (a URL's host name, in any case, IDNA or not) is trusted."""
        name = canonical_host(host)
        if name is None:
            return False
        if name in self.hosts:
            return True
        domain = self.domain
        if domain is not None and (name == domain or name.endswith("." + domain)):
            return True
        return any(name.endswith("." + suffix) for suffix in self.suffixes)

    def describe(self) -> str:
        """What is trusted, for an error line: ``contoso.com and its subdomains, names under
        contoso.local, 10.0.0.5``."""
        parts = [f"{self.domain} and its subdomains"] if self.domain else []
        parts.extend(f"names under {suffix}" for suffix in sorted(self.suffixes))
        parts.extend(sorted(self.hosts))
        return ", ".join(parts) or "no host"
