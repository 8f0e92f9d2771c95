"""The forms a text takes in a URL (private): where a secret is looked for besides itself."""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["url_forms"]


def url_forms(text: str) -> set[str]:
    """The forms ``text`` takes in a URL when a flow encodes it there, other than itself:
    ``urlencode`` (``/`` kept), ``urlsegment`` (nothing kept) and a query's ``+`` for a
    space (``urlencode`` of a mapping). A secret API key ``ab+c/d==`` is
    ``ab%2Bc/d%3D%3D`` in a webhook's URL, which its failure's line shows."""
    forms = {quote(text, safe="/"), quote(text, safe="")}
    forms.add(quote(text, safe=" ").replace(" ", "+"))
    forms.discard(text)
    return forms
