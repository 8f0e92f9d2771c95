"""Secrets by value: what a secret variable holds, blanked out of other values.

The store redacts secret variables by name (:func:`~ucwa_flow.store.redact`). A value
copied from one keeps the secret under another name: a sub-flow's parameter made from a
caller's secret, a message that repeats it, a variable set from it. :func:`secret_texts`
gives the texts to look for (the values of the secret variables, 3 characters or more:
shorter ones would blank out ordinary words; the strings and numbers inside a secret
mapping or list too), and :func:`scrub` replaces them in a value: inside a text, or a
whole number or other scalar whose text is one of them; mappings and lists are gone
through. Inside a text, a secret made of digits only is not blanked out of a longer run
of digits (a PIN ``1234`` stays in ``order 912345``: that is another number); any other
secret is blanked out wherever it shows.
The runtime cleans transcript lines with them, the store an ended conversation's record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

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
    occurrence; a number whose text is one of them, whole; mappings and lists item by
    item. The value itself when nothing was found."""
    if not texts:
        return value
    if isinstance(value, str):
        for text in texts:
            if text in value:
                value = _blank(value, text)
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return REDACTED if str(value) in texts else value
    if isinstance(value, Mapping):
        items = {k: scrub(v, texts) for k, v in value.items()}
        return items if any(items[k] is not v for k, v in value.items()) else value
    if isinstance(value, list | tuple):
        listed = [scrub(v, texts) for v in value]
        return listed if any(a is not b for a, b in zip(listed, value, strict=True)) else value
    return value


def _blank(value: str, text: str) -> str:
    """``value`` with each occurrence of ``text`` replaced, but for a number's inside a
    longer run of digits."""
    if not text.isdigit():
        return value.replace(text, REDACTED)
    parts, start, at = [], 0, value.find(text)
    while at >= 0:
        end = at + len(text)
        if (at > 0 and value[at - 1].isdigit()) or (end < len(value) and value[end].isdigit()):
            at = value.find(text, at + 1)
            continue
        parts.append(value[start:at])
        parts.append(REDACTED)
        start = end
        at = value.find(text, end)
    parts.append(value[start:])
    return "".join(parts)


def scrub_variables(variables: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """An ended conversation's ``variables``: the secret ones (``names``) redacted, and
    their values blanked out of the others."""
    texts = secret_texts((variables,), names) if names else []
    return {
        k: REDACTED if k in names else scrub(v, texts) if texts else v for k, v in variables.items()
    }
