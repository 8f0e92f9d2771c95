"""Host names as a connection uses them: :func:`canonical_host`, :func:`trusted_host_problem`,
:func:`trusted_suffix`.

Light (the standard library and ``idna``, which httpx uses for the same job), so the
deployment loader and the command line check a name before anything heavy is imported.

The canonical form is the one the client resolves and connects to: lower-case ASCII, a
non-ASCII name in IDNA (``bücher.example`` is ``xn--bcher-kva.example``, encoded as httpx
encodes it), no trailing dot, an IP address in its compressed form. Only plain DNS names
(letters, digits, ``-`` and ``_`` in labels) and IP addresses have one: a name with any
other character (``%``, ``\\``, a space) is nothing a trust decision may rest on.

A trusted sign-in server may also be listed as a domain suffix, as Lync's own trust list
takes them: ``*.contoso.local`` is every name under ``contoso.local`` at any depth
(``pool01.contoso.local``, ``a.b.contoso.local``), not ``contoso.local`` itself (list it
too if it signs in: a name is not a suffix of itself, and an apex is rarely a pool). The
``*`` stands alone, first; the domain after it has two labels at least (``*.com`` or
``*.local`` would trust a whole top-level domain) and is no IP address.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["canonical_host", "is_address", "trusted_host_problem", "trusted_suffix"]

_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_DNS_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")


def canonical_host(name: str) -> str | None:
    """``name`` (a URL's host, or a name as written) in its canonical form, or ``None``
    when it is not a plain host name or IP address (see the module docstring)."""
    text = name[1:-1] if name.startswith("[") and name.endswith("]") else name
    try:
        return ipaddress.ip_address(text).compressed
    except ValueError:
        pass
    text = text.removesuffix(".")
    if not text.isascii():
        import idna  # only for the rare non-ASCII name: its tables are large

        try:
            text = idna.encode(text.lower()).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    text = text.lower()
    if len(text) > 253 or not _DNS_NAME.fullmatch(text):
        return None
    if "xn--" in text and not _valid_a_labels(text):
        return None
    return text


def _valid_a_labels(name: str) -> bool:
    """Whether every ``xn--`` label of ``name`` is valid IDNA (``xn--ab`` is not: it
    decodes to control characters), and, for a name that starts with one, the whole name
    (httpx decodes such a name whole, and ``_`` is no IDNA: ``xn--bcher-kva._sip.example``);
    a name that is not has no canonical form."""
    import idna

    if name.startswith("xn--"):
        try:
            idna.decode(name)
        except (idna.IDNAError, UnicodeError):
            return False
    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return False
    return True


def trusted_host_problem(text: str) -> str | None:
    """Why ``text`` cannot be listed as a trusted sign-in host (one line, ``text`` not in
    it), or ``None``: it must be a host name or IP address alone, no scheme, port or path,
    or a domain suffix ``*.contoso.local`` (see the module docstring)."""
    name = text.strip()
    if name.startswith("*."):
        return _suffix_problem(name[2:])
    if canonical_host(name) is None:
        return (
            "is not a host name such as lyncweb.fabrikam.com or a domain suffix such as "
            "*.fabrikam.com (no scheme, port or path)"
        )
    return None


def trusted_suffix(text: str) -> str | None:
    """The canonical domain of a suffix as listed (``*.Contoso.LOCAL``: ``contoso.local``),
    or ``None`` when ``text`` is no suffix or not one that may be listed."""
    name = text.strip()
    if not name.startswith("*.") or _suffix_problem(name[2:]) is not None:
        return None
    return canonical_host(name[2:])


def _suffix_problem(domain: str) -> str | None:
    if "*" in domain:
        return "has a * that is not alone and first (a domain suffix is *.contoso.local)"
    canonical = canonical_host(domain)
    if canonical is None or is_address(canonical):
        return "is not a domain suffix such as *.contoso.local (a * and a domain name after it)"
    if "." not in canonical or canonical.replace(".", "").isdigit():
        return (
            f"is too wide: *.{canonical} would trust a whole top-level domain or address "
            "range; name your organisation's domain, such as *.contoso.local"
        )
    return None


def is_address(name: str) -> bool:
    """Whether ``name`` is an IPv4 or IPv6 address rather than a host name."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True
