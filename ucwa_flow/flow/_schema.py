"""The flow JSON Schema: loading it, validating a document, and readable located errors.

The schema ships inside the package (``ucwa_flow/schemas/flow.schema.json``, identical to
``schemas/flow.schema.json`` at the repository root) and is read through
:mod:`importlib.resources`. The validator is compiled once per process.

jsonschema reports errors against JSON paths with its own wording; :func:`check_schema`
turns each into an ``S`` diagnostic at the ``file:line:col`` of the offending node (of the
key, for an unknown key), in words a flow author understands, and reports all of them,
not only the first.
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from importlib import resources
from typing import Any

from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._loader import Document, Path

__all__ = ["SCHEMA_ID", "check_schema", "schema", "schema_text"]

SCHEMA_ID = "https://ucwa-flow.dev/schemas/flow-1.json"

_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "null",
}


def schema_text() -> str:
    """The schema exactly as packaged (what ``ucwa-flow schema`` prints)."""
    return resources.files("ucwa_flow.schemas").joinpath("flow.schema.json").read_text("utf-8")


@functools.cache
def schema() -> dict[str, Any]:
    """The schema as a parsed JSON object (cached; do not mutate)."""
    loaded: dict[str, Any] = json.loads(schema_text())
    return loaded


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

    return Draft202012Validator(_inlined(schema()))


def _inlined(root: dict[str, Any], depth: int = 1) -> dict[str, Any]:
    """The schema with local ``$ref``s replaced by their targets, for speed.

    Resolving a ``$ref`` costs more than the check it leads to; inlining saves about a
    third of the validation time. A recursive definition (actions nest in actions) is
    expanded ``depth`` times on each path, then keeps its ``$ref``, so the schema stays
    small. Validation results are unchanged.
    """
    defs: dict[str, Any] = root["$defs"]

    def expand(node: Any, stack: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [expand(item, stack) for item in node]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref", "")
        if ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            if stack.count(name) < depth:
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                return {**expand(defs[name], (*stack, name)), **siblings}
        return {key: expand(value, stack) for key, value in node.items()}

    inlined: dict[str, Any] = expand({k: v for k, v in root.items() if k != "$defs"}, ())
    inlined["$defs"] = defs
    return inlined


def check_schema(document: Document) -> list[Diagnostic]:
    """Every schema violation in ``document``, located and worded for people."""
    found: dict[tuple[object, ...], Diagnostic] = {}
    for error in _validator().iter_errors(document.data):
        for diagnostic in _explain(error, document):
            found.setdefault((diagnostic.sort_key(), diagnostic.message), diagnostic)
    return sorted(found.values(), key=Diagnostic.sort_key)


def _explain(error: Any, doc: Document) -> Iterator[Diagnostic]:
    path: Path = tuple(error.absolute_path)
    keyword: str = error.validator
    instance = error.instance
    if "propertyNames" in error.absolute_schema_path:
        # The instance is the offending key itself; point at it.
        name_path = (*path, instance)
        yield Diagnostic.at(
            doc.locate(name_path, key=True),
            "S004",
            f"{instance!r} is not {_title(error.schema, 'a valid name')}",
        )
    elif keyword == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                yield Diagnostic.at(
                    doc.locate((*path, key), key=True), "S001", _unknown_key(key, allowed, path)
                )
    elif keyword in ("required", "dependentRequired"):
        yield from _missing(error, path, doc)
    elif keyword in ("oneOf", "anyOf"):
        explained = _alternatives(error, path, doc)
        if explained is not None:
            yield explained
    elif keyword == "type":
        yield Diagnostic.at(
            doc.locate(path),
            "S003",
            f"{_where(path)}expected {_expected(error.schema)}, got {_kind(instance)}",
        )
    else:
        yield Diagnostic.at(doc.locate(path), "S004", _where(path) + _invalid(error))


def _unknown_key(key: str, allowed: list[str], path: Path) -> str:
    close = difflib.get_close_matches(key, allowed, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    options = f" (expected one of: {', '.join(allowed)})" if allowed else ""
    if key in ("stop", "typing"):
        hint = f"; write `- {key}` alone, without a colon"
        options = ""
    return f"{_where(path)}unknown key {key!r}{hint}{options}"


def _missing(error: Any, path: Path, doc: Document) -> Iterator[Diagnostic]:
    location = doc.locate(path, key=True)
    if error.validator == "required":
        for key in error.validator_value:
            if key not in error.instance:
                yield Diagnostic.at(location, "S002", f"{_where(path)}missing required key {key!r}")
        return
    for key, needed in error.validator_value.items():
        if key in error.instance:
            for other in needed:
                if other not in error.instance:
                    yield Diagnostic.at(
                        doc.locate((*path, key), key=True), "S002", f"{key!r} needs {other!r}"
                    )


def _alternatives(error: Any, path: Path, doc: Document) -> Diagnostic | None:
    branches = error.validator_value
    keys = [b["required"][0] for b in branches if list(b) == ["required"]]
    if len(keys) == len(branches) and isinstance(error.instance, dict):
        present = [key for key in keys if key in error.instance]
        if set(error.instance) - set(error.schema.get("properties", {})):
            return None  # an unknown key is reported already, and is the likelier mistake
        what = "trigger" if "match" in keys else "action"
        options = ", ".join(keys)
        if present:
            second = doc.locate((*path, present[1]), key=True)
            message = (
                f"{_where(path)}{present[0]!r} and {present[1]!r} in one {what}: "
                f"use exactly one of {options}"
            )
            if what == "action":
                message += " (write each action as its own list item)"
            return Diagnostic.at(second, "S005", message)
        needs = "a handler needs a trigger" if what == "trigger" else "an action needs a key"
        return Diagnostic.at(doc.locate(path), "S005", f"{_where(path)}{needs}: one of {options}")
    from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

    best = best_match(error.context) if error.context else None
    if best is None:
        return Diagnostic.at(doc.locate(path), "S004", f"{_where(path)}{error.message}")
    return next(_explain(best, doc))


def _invalid(error: Any) -> str:
    keyword, value, instance = error.validator, error.validator_value, error.instance
    if keyword == "enum":
        return f"{instance!r} is not one of: {', '.join(map(str, value))}"
    if keyword == "const":
        return f"{instance!r} is not allowed here; the only value is {json.dumps(value)}"
    if keyword == "pattern":
        return f"{instance!r} is not {_title(error.schema, 'a valid value')}"
    if keyword in ("minItems", "minProperties", "minLength"):
        return "must not be empty"
    if keyword == "uniqueItems":
        return "has the same entry twice"
    if keyword == "minimum":
        return f"{instance!r} is below the minimum {value}"
    if keyword == "maximum":
        return f"{instance!r} is above the maximum {value}"
    return str(error.message)


def _title(subschema: Any, fallback: str) -> str:
    return str(subschema.get("title", fallback)) if isinstance(subschema, dict) else fallback


def _expected(subschema: dict[str, Any]) -> str:
    if "title" in subschema:
        return str(subschema["title"])
    types = subschema.get("type", [])
    words = [_TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return " or ".join(words) or "another value"


def _kind(instance: Any) -> str:
    if instance is None:
        return "nothing (null)"
    if isinstance(instance, bool):
        return f"{str(instance).lower()}"
    if isinstance(instance, dict):
        return "a mapping"
    if isinstance(instance, list):
        return "a list"
    if isinstance(instance, str):
        return f"the text {instance!r}"
    return f"the number {instance!r}"


def _where(path: Path) -> str:
    if not path:
        return ""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return f"{text}: "
