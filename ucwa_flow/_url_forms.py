"""The forms a text takes in a URL (private): where a secret is looked for besides itself,
and the part of a URL that is one (its userinfo: ``user:password@``)."""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["url_forms", "userinfo"]


def url_forms(text: str) -> set[str]:
    """The forms ``text`` takes in a URL when a flow encodes it there, other than itself:
    ``urlencode`` (``/`` kept), ``urlsegment`` (nothing kept) and a query's ``+`` for a
    space (``urlencode`` of a mapping). A secret API key ``ab+c/d==`` is
    ``ab%2Bc/d%3D%3D`` in a webhook's URL, which its failure's line shows."""
    forms = {quote(text, safe="/"), quote(text, safe="")}
    forms.add(quote(text, safe=" ").replace(" ", "+"))
    forms.discard(text)
    return forms


def userinfo(url: str) -> str | None:
    """The userinfo of ``url`` as written (``bot:pw%2Fx`` of ``https://bot:pw%2Fx@host/``),
    up to the authority's last ``@`` as HTTP clients read it; None when it has none. Read
    from the text, so a URL no parser takes is looked into too."""
    scheme, sep, rest = url.partition("://")
    if not sep or not scheme:
        return None
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]  # not ``\\``: httpx does not
    info, at, _ = authority.rpartition("@")
    return info if at else None
