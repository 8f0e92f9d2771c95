"""The store's operations as sans-IO programs both backends run.

An operation (commit, load, a transcript query...) is a generator that yields :class:`Sql`
statements and is sent back each one's result rows (``[]`` for a statement with none); its
return value is the operation's result. A backend runs the whole generator inside one
transaction (:data:`Program`), so the logic and the SQL exist once, and SQLite and PostgreSQL
share them. Statements use ``%s`` placeholders; the SQLite backend turns them into ``?``.

JSON columns are stored as text through :func:`dump`, which refuses values JSON cannot hold
before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from ucwa_flow.store._errors import StoreError
from ucwa_flow.store._records import REDACTED

__all__ = ["Dialect", "Program", "Rows", "Sql", "dump", "load_json", "redact"]

Dialect = Literal["sqlite", "postgres"]
Rows = list[tuple[Any, ...]]
T = TypeVar("T")
#: an operation: yields statements, receives their rows, returns its result
Program = Generator["Sql", Rows, T]


@dataclass(frozen=True, slots=True)
class Sql:
    """One statement and its parameters, or (``many``) one statement run for each of a
    sequence of parameter tuples, in order, with no rows back."""

    text: str
    params: tuple[Any, ...] = ()
    many: tuple[tuple[Any, ...], ...] | None = None

    @property
    def returns_rows(self) -> bool:
        """Whether the program needs this statement's rows (else it gets ``[]``)."""
        return self.many is None and (
            self.text.lstrip().upper().startswith("SELECT") or " RETURNING " in self.text
        )


#: compact, sorted, not ASCII-escaped, finite numbers only (one encoder: ``json.dumps``
#: with arguments builds a new one each call)
_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
)


def _prebuilt() -> Callable[[Any], str]:
    """:data:`_ENCODER`'s ``encode``, or the C encoder it builds on every call, built once
    (a commit encodes about eight values per conversation; this saves 2-3 us each). Without
    cycle checks: a cyclic value fails with :class:`RecursionError` instead. Used only when
    it writes exactly what ``_ENCODER`` writes (its arguments are CPython's, not an API)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return _ENCODER.encode
    try:
        encode = make(
            None, _ENCODER.default, json.encoder.encode_basestring, None, ":", ",",
            True, False, False,
        )  # fmt: skip
    except Exception:  # another CPython's arguments: the plain encoder
        return _ENCODER.encode

    def fast(value: Any) -> str:
        return "".join(encode(value, 0))

    probe = {"b": [1.5, None, True, "é\n"], "a": {"y": 1, "x": ""}}
    try:
        if fast(probe) != _ENCODER.encode(probe):
            return _ENCODER.encode
        fast({"nan": math.nan})
    except ValueError:
        return fast  # refuses NaN, as it must
    except Exception:
        return _ENCODER.encode
    return _ENCODER.encode  # took NaN


_encode = _prebuilt()


def dump(value: Any, what: str, *args: object) -> str:
    """``value`` as compact JSON text; a :class:`StoreError` naming ``what`` if it is not JSON
    (``what % args`` when ``args`` are given: formatted only then)."""
    if not value and type(value) in _EMPTY:  # most variables, timers, pending work
        return _EMPTY[type(value)]
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError) as exc:
        what = what % args if args else what
        raise StoreError(f"{what} cannot be stored: it is not JSON data ({exc})") from None


_EMPTY: dict[type, str] = {dict: "{}", list: "[]", tuple: "[]"}


def load_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def finite(value: float, what: str, *args: object) -> float:
    """``value`` as a float; a :class:`StoreError` naming ``what`` (``what % args``) if it
    is not a finite number."""
    if not _isfinite(value):
        what = what % args if args else what
        raise StoreError(f"{what} cannot be stored: {value} is not a time")
    return value if type(value) is float else float(value)


_isfinite = math.isfinite


def redact(data: Any, secrets: Iterable[str]) -> Any:
    """``data`` with the values of secret variables replaced by ``[redacted]``.

    Redacted are: a ``{"name": n, "value": v}`` entry (a variable change) whose name is
    secret, and the secret keys of any ``variables`` or ``captures`` mapping within ``data``.
    """
    names = frozenset(secrets)
    if not names or not isinstance(data, Mapping):
        return data
    out = dict(data)
    if out.get("name") in names and "value" in out:
        out["value"] = REDACTED
    for field in ("variables", "captures"):
        inner = out.get(field)
        if isinstance(inner, Mapping):
            out[field] = redact_names(inner, names)
    return out


def redact_names(variables: Mapping[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {k: (REDACTED if k in names else v) for k, v in variables.items()}


def placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)
