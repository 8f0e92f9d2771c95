"""A quick yes/no on a whole document before jsonschema looks for its errors.

jsonschema walks a document through its schema one keyword object at a time; on a large
flow that was a third of ``validate``'s time, and importing it costs more than some whole
checks. fastjsonschema compiles the schema into one Python function that answers only
whether the document is valid. :class:`Gate` asks it first: a document it passes has no
schema error, and jsonschema is neither imported nor run; a document it fails goes to
jsonschema, which finds and words every error as before. Diagnostics are the same either
way; only the cost of a valid document changes.

The gate must never pass what jsonschema fails (it may fail what jsonschema passes: that
costs only time). fastjsonschema implements draft 7, where the schemas are 2020-12, and
compares with Python's ``==``, where ``True == 1``; :func:`draft7` rewrites a schema so
that both read it alike:

- ``dependentRequired`` becomes draft 7's ``dependencies`` (the same for lists of names);
- a ``const`` becomes a one-item ``enum`` (fastjsonschema's lean code, without the
  details of each error, fails on ``const``), and one that is a boolean or a number also
  gets its type, so that ``true`` is not taken for ``1``;
- a ``oneOf`` of one-key ``required`` branches ("exactly one of these keys", as handlers
  and actions say) is written with ``dependencies`` and ``not``, which fastjsonschema
  checks without raising an exception for every branch that does not apply;
- a ``$ref`` with sibling keywords (ignored by draft 7) becomes an ``allOf`` of both;
- an ``enum`` that is not all texts, a keyword fastjsonschema does not know, or a format
  makes :func:`draft7` give up (``None``): no gate for that schema, jsonschema alone.

Generating and compiling the function costs more than checking a small flow, so the flow
schema's function is generated ahead, into ``ucwa_flow/flow/_flow_gate.py``, with the
digest of the rewritten schema it was made from; ``python -m ucwa_flow.flow._schema_gate``
writes it again after the schema changes. A module whose digest does not match (the schema
changed since) is not used: the function is then generated at run time, as for any other
schema, and a test says to write the module again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["FLOW_GATE_MODULE", "Gate", "digest", "draft7", "generated_code"]

#: the module holding the flow schema's function, generated ahead
FLOW_GATE_MODULE = "ucwa_flow.flow._flow_gate"

#: keywords of the 2020-12 schemas that draft 7 reads the same way
_SAME = frozenset(
    {
        "$schema", "$id", "$defs", "$ref", "type", "properties", "additionalProperties",
        "patternProperties", "required", "items", "enum", "const", "minLength", "maxLength",
        "minItems", "maxItems", "minProperties", "maxProperties", "pattern", "propertyNames",
        "if", "then", "else", "oneOf", "anyOf", "allOf", "not", "uniqueItems", "minimum",
        "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
        "description", "title", "default", "examples", "$comment",
    }
)  # fmt: skip
_ANNOTATIONS = frozenset({"description", "title", "default", "examples", "$comment"})
#: keywords whose value is a mapping of names to schemas
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs"})
#: keywords whose value is a schema or a list of schemas
_SCHEMAS = frozenset(
    {"additionalProperties", "items", "propertyNames", "if", "then", "else", "not"}
    | {"oneOf", "anyOf", "allOf"}
)


class _Unsupported(Exception):
    """A keyword or value the gate cannot check as jsonschema does."""


def draft7(schema: dict[str, Any]) -> dict[str, Any] | None:
    """``schema`` (2020-12) rewritten for fastjsonschema, or ``None`` when it cannot be."""
    try:
        rewritten: dict[str, Any] = _rewrite(schema)
    except _Unsupported:
        return None
    rewritten["$schema"] = "http://json-schema.org/draft-07/schema#"
    rewritten.pop("$id", None)
    return rewritten


def _rewrite(node: Any) -> Any:
    if isinstance(node, bool):
        return node
    if not isinstance(node, dict):
        raise _Unsupported(repr(node))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _ANNOTATIONS:
            continue  # annotations only make the generated code longer
        if key == "dependentRequired":
            out["dependencies"] = value
        elif key not in _SAME:
            raise _Unsupported(key)
        elif key in _SCHEMA_MAPS:
            out[key] = {name: _rewrite(sub) for name, sub in value.items()}
        elif key in _SCHEMAS:
            out[key] = [_rewrite(s) for s in value] if isinstance(value, list) else _rewrite(value)
        elif key == "enum" and not all(isinstance(v, str) for v in value):
            raise _Unsupported("enum")
        else:
            out[key] = value
    if "const" in out:  # as a one-item enum: fastjsonschema's lean code fails on const
        const = out.pop("const")
        out["enum"] = [const]
        if isinstance(const, bool):
            out["type"] = "boolean"
        elif isinstance(const, int | float):
            out["type"] = "number"
        elif not isinstance(const, str):
            raise _Unsupported("const")
    keys = _one_key(out.get("oneOf"))
    if keys is not None:
        del out["oneOf"]
        out.setdefault("allOf", []).append(_exactly_one(keys))
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}, out]}
    return out


def digest(rewritten: dict[str, Any]) -> str:
    """The sha256 of a rewritten schema, as recorded in a generated module."""
    return hashlib.sha256(json.dumps(rewritten, sort_keys=True).encode("utf-8")).hexdigest()


def generated_code(schema: dict[str, Any]) -> str:
    """The source of a module holding fastjsonschema's function for ``schema``."""
    import fastjsonschema  # type: ignore[import-untyped, unused-ignore]

    rewritten = draft7(schema)
    if rewritten is None:
        raise ValueError("this schema cannot be checked by fastjsonschema as jsonschema does")
    code: str = fastjsonschema.compile_to_code(
        rewritten, use_default=False, use_formats=False, detailed_exceptions=False
    )
    header = (
        "# Generated by `python -m ucwa_flow.flow._schema_gate` from the flow schema, for\n"
        "# ucwa_flow/flow/_schema_gate.py. Do not edit: write it again after a schema change.\n"
        "# ruff: noqa\n"
        f"SCHEMA_SHA256 = {digest(rewritten)!r}\n"
    )
    # YAML gives int and float, never Decimal: do not import decimal for isinstance checks
    code = code.replace("from decimal import Decimal\n", "Decimal = float\n", 1)
    # the gate asks only whether a document passes: stand-ins for fastjsonschema's
    # exceptions spare importing the whole package (its code generators) at every start
    code = code.replace(_EXCEPTIONS_IMPORT, _EXCEPTIONS_STAND_INS, 1)
    return header + code


_EXCEPTIONS_IMPORT = (
    "from fastjsonschema import JsonSchemaValueException, JsonSchemaValuesException\n"
)
_EXCEPTIONS_STAND_INS = (
    "class JsonSchemaValueException(ValueError): pass\n"
    "class JsonSchemaValuesException(ValueError): pass\n"
)


def _one_key(branches: Any) -> list[str] | None:
    """The keys of a ``oneOf`` whose every branch is ``{"required": [KEY]}``, else None."""
    if not isinstance(branches, list) or len(branches) < 2:
        return None
    keys = [b["required"][0] for b in branches if list(b) == ["required"]]
    if len(keys) != len(branches) or any(len(b["required"]) != 1 for b in branches):
        return None
    return keys


def _exactly_one(keys: list[str]) -> dict[str, Any]:
    """ "Exactly one of ``keys``" without ``oneOf``, which fastjsonschema checks by raising
    an exception for every branch but one (a handler, an action: most of the time spent).
    At most one: each key, when present, forbids the others; at least one: not all absent.
    """
    others = {key: {"properties": {o: False for o in keys if o != key}} for key in keys}
    return {"dependencies": others, "not": {"properties": dict.fromkeys(keys, False)}}


class Gate:
    """fastjsonschema's function for one schema: from the module ``generated`` when it was
    made from the same schema, else compiled on first use."""

    def __init__(self, schema: Callable[[], dict[str, Any]], generated: str | None = None) -> None:
        self._schema = schema
        self._generated = generated
        self._check: Callable[[Any], Any] | None = None
        self._usable = True

    def passes(self, data: Any) -> bool:
        """Whether ``data`` surely has no schema error (``False`` also when unsure)."""
        if not self._usable:
            return False
        if self._check is None:
            rewritten = draft7(self._schema())
            if rewritten is None:
                self._usable = False
                return False
            self._check = self._ahead(rewritten) or self._compile(rewritten)
        try:
            self._check(data)
        except Exception:  # invalid, or a fault of the generated code: unsure
            return False
        return True

    def _ahead(self, rewritten: dict[str, Any]) -> Callable[[Any], Any] | None:
        if self._generated is None:
            return None
        try:
            module = importlib.import_module(self._generated)
        except ImportError:
            return None
        if getattr(module, "SCHEMA_SHA256", None) != digest(rewritten):
            return None  # made from another schema
        check: Callable[[Any], Any] = module.validate
        return check

    @staticmethod
    def _compile(rewritten: dict[str, Any]) -> Callable[[Any], Any]:
        import fastjsonschema

        check: Callable[[Any], Any] = fastjsonschema.compile(
            rewritten, use_default=False, use_formats=False, detailed_exceptions=False
        )
        return check


def _write() -> None:
    from ucwa_flow.flow._schema import schema

    target = Path(__file__).with_name(FLOW_GATE_MODULE.rsplit(".", 1)[1] + ".py")
    target.write_text(generated_code(schema()), "utf-8")
    print(f"wrote {target}", file=sys.stderr)


if __name__ == "__main__":
    _write()
