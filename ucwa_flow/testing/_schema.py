"""The test-script JSON Schema and its errors as located, readable diagnostics.

The schema ships inside the package (``ucwa_flow/schemas/test.schema.json``, identical to
``schemas/test.schema.json`` at the repository root, which editors use through the
``# yaml-language-server: $schema=...`` comment). Errors use the flow language's codes:
``S001`` unknown key, ``S002`` missing key, ``S003`` wrong type, ``S004`` invalid value,
``S005`` one item holding two steps.

A step is either a word (``hang_up``) or a mapping with one key (``say: hello``); when
such an alternative fails, the explanation follows the alternative of the same YAML type
as what was written, so a misspelt ``sya: hello`` is an unknown key with a suggestion,
not "is not valid under any of the given schemas".
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ucwa_flow.flow import Diagnostic
from ucwa_flow.flow._loader import Document, Path

__all__ = ["check_script_schema", "schema_text"]

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}
_WORDS = {
    "string": "a text",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "nothing",
    "integer": "a whole number",
    "number": "a number",
}


def schema_text() -> str:
    """The test-script schema exactly as packaged."""
    return resources.files("ucwa_flow.schemas").joinpath("test.schema.json").read_text("utf-8")


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    return Draft202012Validator(json.loads(schema_text()))


def check_script_schema(document: Document) -> list[Diagnostic]:
    """Every schema violation in ``document``, located and worded for script authors."""
    found: dict[tuple[object, ...], Diagnostic] = {}
    for error in _validator().iter_errors(document.data):
        for diagnostic in _explain(error, document):
            found.setdefault((diagnostic.sort_key(), diagnostic.message), diagnostic)
    return sorted(found.values(), key=Diagnostic.sort_key)


def _at(doc: Document, path: Path, code: str, message: str, *, key: bool = False) -> Diagnostic:
    return Diagnostic.at(doc.locate(path, key=key), code, message)


def _explain(error: Any, doc: Document) -> Iterator[Diagnostic]:
    path: Path = tuple(error.absolute_path)
    keyword, instance, schema = error.validator, error.instance, error.schema
    where = _where(path)
    if keyword == "additionalProperties":
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                options = ", ".join(allowed)
                message = f"{where}unknown key {key!r}{hint} (expected one of: {options})"
                yield _at(doc, (*path, key), "S001", message, key=True)
    elif keyword in ("required", "dependentRequired"):
        needed = error.validator_value
        if keyword == "required":
            for key in needed:
                if key not in instance:
                    yield _at(doc, path, "S002", f"{where}missing required key {key!r}", key=True)
        else:
            for key, others in needed.items():
                for other in others:
                    if key in instance and other not in instance:
                        message = f"{where}{key!r} needs {other!r}"
                        yield _at(doc, (*path, key), "S002", message, key=True)
    elif keyword == "maxProperties" and isinstance(instance, dict):
        first, second = list(instance)[:2]
        message = (
            f"{where}{first!r} and {second!r} in one step: write each step as its own list item"
        )
        yield _at(doc, (*path, second), "S005", message, key=True)
    elif keyword == "oneOf" and isinstance(instance, dict):
        keys = [branch["required"][0] for branch in error.validator_value]
        present = [key for key in keys if key in instance]
        if len(present) > 1:
            message = f"{where}{present[0]!r} and {present[1]!r} in one expectation: write two"
            yield _at(doc, (*path, present[1]), "S005", message, key=True)
        else:
            message = f"{where}an expectation needs one of: {', '.join(keys)}"
            yield _at(doc, path, "S005", message)
    elif keyword in ("anyOf", "oneOf"):
        yield from _alternatives(error, path, doc)
    elif keyword == "type":
        yield _at(doc, path, "S003", f"{where}expected {_expected(schema)}, got {_kind(instance)}")
    else:
        yield _at(doc, path, "S004", where + _invalid(error))


def _alternatives(error: Any, path: Path, doc: Document) -> Iterator[Diagnostic]:
    """Explain the alternative whose type matches what was written; else list the types."""
    branches: list[dict[str, Any]] = error.validator_value
    for index, branch in enumerate(branches):
        if _type_matches(branch.get("type"), error.instance):
            causes = [e for e in error.context if e.relative_schema_path[0] == index]
            for cause in causes:
                yield from _explain(cause, doc)
            if causes:
                return
    titles = [str(b["title"]) for b in branches if "title" in b]
    expected = " or ".join(titles) if titles else _expected(error.schema)
    message = f"{_where(path)}expected {expected}, got {_kind(error.instance)}"
    yield _at(doc, path, "S003", message)


def _type_matches(declared: Any, instance: Any) -> bool:
    names = [declared] if isinstance(declared, str) else list(declared or [])
    if isinstance(instance, bool):
        return "boolean" in names
    return any(isinstance(instance, _JSON_TYPES[name]) for name in names)


def _invalid(error: Any) -> str:
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "enum":
        words = [str(v) for v in value]
        close = difflib.get_close_matches(str(instance), words, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"{instance!r} is not one of: {', '.join(words)}{hint}"
    if keyword == "pattern":
        return f"{instance!r} is not {error.schema.get('title', 'a valid value')}"
    if keyword in ("minItems", "minProperties", "minLength"):
        return "must not be empty"
    if keyword == "uniqueItems":
        return "has the same entry twice"
    if keyword == "minimum":
        return f"{instance!r} is below the minimum {value}"
    if keyword == "maximum":
        return f"{instance!r} is above the maximum {value}"
    return str(error.message)


def _expected(schema: dict[str, Any]) -> str:
    if "title" in schema:
        return str(schema["title"])
    types = schema.get("type", [])
    words = [_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return " or ".join(words) or "another value"


def _kind(instance: Any) -> str:
    if instance is None:
        return "nothing (null)"
    if isinstance(instance, bool):
        return str(instance).lower()
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if isinstance(instance, str):
        return f"the text {instance!r}"
    return f"the number {instance!r}"


def _where(path: Path) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{text}: " if text else ""
