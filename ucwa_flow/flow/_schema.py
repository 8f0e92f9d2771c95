"""The flow JSON Schema: loading it, validating a document, and readable located errors.

The schema ships inside the package (``ucwa_flow/schemas/flow.schema.json``, identical to
``schemas/flow.schema.json`` at the repository root) and is read through
:mod:`importlib.resources`. The validator is compiled once per process.

:func:`check_schema` reports every violation as an ``S`` diagnostic at the
``file:line:col`` of the offending node through the shared machinery of
:mod:`ucwa_flow.flow._validation`; this module words what is particular to flows: a
handler needs exactly one trigger, an action exactly one key, and ``stop``/``typing`` are
written alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._schema_gate import FLOW_GATE_MODULE
from ucwa_flow.flow._validation import INVALID, TWO_IN_ONE, SchemaValidator, where

__all__ = ["SCHEMA_ID", "check_part_schema", "check_schema", "schema", "schema_text"]

SCHEMA_ID = "https://ucwa-flow.dev/schemas/flow-1.json"


class _FlowSchema(SchemaValidator):
    """The flow schema's validator: its ``$ref``s inlined, its one-key mappings worded."""

    bare_words = frozenset({"stop", "typing"})
    suggest_values = False
    gated = True
    gate_module: ClassVar[str | None] = FLOW_GATE_MODULE

    def prepare(self, schema: dict[str, Any]) -> dict[str, Any]:
        return _inlined(self.rooted(schema))

    def needs(self, key: str, other: str, path: Path) -> str:
        return f"{key!r} needs {other!r}"

    def alternatives(self, error: Any, path: Path, doc: Document) -> Iterator[Diagnostic]:
        branches = error.validator_value
        keys = [b["required"][0] for b in branches if list(b) == ["required"]]
        if len(keys) == len(branches) and isinstance(error.instance, dict):
            yield from self._one_key(error, keys, path, doc)
            return
        from jsonschema.exceptions import best_match  # type: ignore[import-untyped]

        best = best_match(error.context) if error.context else None
        if best is None:
            yield self.at(doc, path, INVALID, f"{where(path)}{error.message}")
        else:
            yield next(self.explain(best, doc))

    def _one_key(
        self, error: Any, keys: list[str], path: Path, doc: Document
    ) -> Iterator[Diagnostic]:
        """A handler or action mapping that must hold exactly one of ``keys``."""
        if set(error.instance) - set(error.schema.get("properties", {})):
            return  # an unknown key is reported already, and is the likelier mistake
        present = [key for key in keys if key in error.instance]
        what = "trigger" if "match" in keys else "action"
        options = ", ".join(keys)
        if present:
            message = (
                f"{where(path)}{present[0]!r} and {present[1]!r} in one {what}: "
                f"use exactly one of {options}"
            )
            if what == "action":
                message += " (write each action as its own list item)"
            yield self.at(doc, (*path, present[1]), TWO_IN_ONE, message, key=True)
            return
        needs = "a handler needs a trigger" if what == "trigger" else "an action needs a key"
        yield self.at(doc, path, TWO_IN_ONE, f"{where(path)}{needs}: one of {options}")


class _PartSchema(_FlowSchema):
    """The flow schema rooted at one of its definitions: ``subflowFile`` (a sub-flow) or
    ``statesFile`` (an included file)."""

    gated = False  # a part is small: jsonschema alone, as generating a check costs more
    gate_module = None

    def __init__(self, root: str) -> None:
        super().__init__("flow.schema.json")
        self.root = root

    def rooted(self, schema: dict[str, Any]) -> dict[str, Any]:
        defs = schema["$defs"]
        return {"$schema": schema["$schema"], **defs[self.root], "$defs": defs}


_FLOW = _FlowSchema("flow.schema.json")
_PARTS = {"subflow": _PartSchema("subflowFile"), "states": _PartSchema("statesFile")}


def schema_text() -> str:
    """The schema exactly as packaged (what ``ucwa-flow schema`` prints)."""
    return _FLOW.text()


def schema() -> dict[str, Any]:
    """The schema as a parsed JSON object (cached; do not mutate)."""
    return _FLOW.schema()


def check_schema(document: Document) -> list[Diagnostic]:
    """Every schema violation in ``document``, located and worded for people."""
    return _FLOW.check(document)


def check_part_schema(document: Document, kind: str) -> list[Diagnostic]:
    """Every schema violation in a sub-flow (``kind="subflow"``) or an included file
    (``kind="states"``)."""
    return _PARTS[kind].check(document)


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
