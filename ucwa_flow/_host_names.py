"""Host names as a connection uses them: :func:`canonical_host`, :func:`trusted_host_problem`.

Light (the standard library and ``idna``, which httpx uses for the same job), so the
deployment loader and the command line check a name before anything heavy is imported.

The canonical form is the one the client resolves and connects to: lower-case ASCII, a
non-ASCII name in IDNA (``bücher.example`` is ``xn--bcher-kva.example``, encoded as httpx
encodes it), no trailing dot, an IP address in its compressed form. Only plain DNS names
(letters, digits, ``-`` and ``_`` in labels) and IP addresses have one: a name with any
other character (``%``, ``\\``, a space) is nothing a trust decision may rest on.
"""

from __future__ import annotations

import ipaddress
import re

__all__ = ["canonical_host", "trusted_host_problem"]

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
    decodes to control characters); a name with one that is not has no canonical form."""
    import idna

    for label in name.split("."):
        if label.startswith("xn--"):
            try:
                idna.decode(label)
            except (idna.IDNAError, UnicodeError):
                return False
    return True


def trusted_host_problem(text: str) -> str | None:
    """Why ``text`` cannot be listed as a trusted sign-in host (one line, ``text`` not in
    it), or ``None``: it must be a host name or IP address alone, no scheme, port or path."""
    if canonical_host(text.strip()) is None:
        return "is not a host name such as lyncweb.fabrikam.com (no scheme, port or path)"
    return None
