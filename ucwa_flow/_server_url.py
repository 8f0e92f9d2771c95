"""What is wrong with a UCWA server URL as written: :func:`server_url_problem`.

Light (the standard library, and ``idna`` for a name with an ``xn--`` label), so the
deployment loader and the command line check a URL before anything heavy is imported. A
URL that passes may still not be reachable; one that fails can never be, so it is refused
at once instead of a sign-in retried for ever.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from ucwa_flow._host_names import canonical_host

__all__ = ["server_url_problem"]


def server_url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a server's discovery URL (one line, no ``url`` in it), or
    ``None``: it must be ``http://`` or ``https://`` with a host, a port (if any) from 1 to
    65535, and brackets around an IPv6 address that close."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError when it is no number or out of range
    except ValueError as exc:
        return f"is not a URL ({exc})"
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return "is not an http(s) URL such as https://lyncdiscover.contoso.com"
    if port == 0:
        return "has port 0, where no server listens"
    if canonical_host(parts.hostname) is None and "xn--" in parts.hostname:
        # httpx raises an idna error (a traceback) for any request to it
        return "has a host name that is no valid IDNA (an xn-- label that decodes to nothing)"
    return None
