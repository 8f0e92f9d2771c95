"""Secrets by value: what a secret variable holds, blanked out of other values.

The store redacts secret variables by name (:func:`~ucwa_flow.store.redact`). A value
copied from one keeps the secret under another name: a sub-flow's parameter made from a
caller's secret, a message that repeats it, a variable set from it. :func:`secret_texts`
gives the texts to look for (the values of the secret variables, 3 characters or more:
shorter ones would blank out ordinary words; the strings and numbers inside a secret
mapping or list too), and :func:`scrub` replaces them in a value: inside a text, or a
whole number whose text holds one; mappings and lists are gone through. A text is
looked for in the forms a flow encodes it in a URL too (:func:`url_forms`: a webhook's
failure line shows its URL, ``ab%2Bc`` for ``ab+c``). A secret is blanked out wherever
it shows, inside a longer number or word too (a PIN ``1234`` makes ``order 912345`` read
``order 9[redacted]5``): a copy of a secret glued to digits (``+1``, a leading ``0``, a
bank code before an account number) cannot be told from another number, and the price
of a wrong guess is a secret stored in clear.
The runtime cleans transcript lines with them, the store an ended conversation's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ucwa_flow._url_forms import url_forms
from ucwa_flow.store._records import REDACTED

__all__ = ["longest_first", "scrub", "scrub_variables", "secret_texts"]

#: shorter values are not looked for: they would blank out ordinary words and numbers
MIN_LENGTH = 3


def secret_texts(scopes: Iterable[Mapping[str, Any]], names: frozenset[str]) -> list[str]:
    """The texts of the values the variables ``names`` hold in ``scopes`` (strings and
    numbers, :data:`MIN_LENGTH` characters or more, and those inside mappings and lists),
    longest first (a secret that holds another is blanked out whole), once each."""
    found: set[str] = set()
    for variables in scopes:
        for name in names:
            if name in variables:
                _collect(variables[name], found)
    return longest_first(found)


def _collect(value: Any, found: set[str]) -> None:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        if len(text) >= MIN_LENGTH and text != REDACTED:
            found.add(text)
            if isinstance(value, str):
                found.update(url_forms(text))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def longest_first(texts: Iterable[str]) -> list[str]:
    """``texts`` in the order :func:`scrub` wants them: a longer one before a part of it."""
    return sorted(texts, key=lambda text: (-len(text), text))


def scrub(value: Any, texts: list[str]) -> Any:
    """``value`` with the ``texts`` blanked out (``[redacted]``): in a string, each
    occurrence; a number whose text holds one, whole; mappings and lists item by
    item. The value itself when nothing was found."""
    if not texts:
        return value
    if isinstance(value, str):
        return _blank(value, texts)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        text = str(value)
        return REDACTED if any(secret in text for secret in texts) else value
    if isinstance(value, Mapping):
        items = {k: scrub(v, texts) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if isinstance(value, list | tuple):
        listed = [scrub(v, texts) for v in value]
        return listed if any(a is not b for a, b in zip(listed, value, strict=True)) else value
    return value


def _blank(value: str, texts: list[str]) -> str:
    """``value`` with every character of an occurrence of any of ``texts`` blanked out,
    looked for in ``value`` as it is, between the ``[redacted]`` it already holds: two
    secrets that overlap (``abc1`` and ``1xyz`` in ``abc1xyz``) are one ``[redacted]``,
    where replacing one and then the other left a part of the second in clear, and a
    secret such as ``red`` does not make ``[redacted]`` read ``[[redacted]acted]``."""
    if REDACTED in value:
        return REDACTED.join(_blank(part, texts) for part in value.split(REDACTED))
    spans = []
    for text in texts:
        at = value.find(text)
        while at >= 0:
            spans.append((at, at + len(text)))
            at = value.find(text, at + 1)
    if not spans:
        return value
    spans.sort()
    parts, kept, run, end = [], 0, 0, -1
    for start, stop in spans:
        if start >= end:  # a new run of blanked characters
            if end >= 0:
                parts += [value[kept:run], REDACTED]
                kept = end
            run = start
        end = max(end, stop)
    parts += [value[kept:run], REDACTED, value[end:]]
    return "".join(parts)


def scrub_variables(variables: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """An ended conversation's ``variables``: the secret ones (``names``) redacted, and
    their values blanked out of the others."""
    texts = secret_texts((variables,), names) if names else []
    return {
        k: REDACTED if k in names else scrub(v, texts) if texts else v for k, v in variables.items()
    }
