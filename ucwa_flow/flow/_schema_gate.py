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
- a ``const`` that is a boolean or a number also gets its type, so that ``true`` is not
  taken for ``1``;
- a ``$ref`` with sibling keywords (ignored by draft 7) becomes an ``allOf`` of both;
- an ``enum`` that is not all texts, a keyword fastjsonschema does not know, or a format
  makes :func:`draft7` give up (``None``): no gate for that schema, jsonschema alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["Gate", "draft7"]

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
    if "const" in out and not isinstance(out["const"], str):
        const = out["const"]
        if isinstance(const, bool):
            out["type"] = "boolean"
        elif isinstance(const, int | float):
            out["type"] = "number"
        else:
            raise _Unsupported("const")
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}, out]}
    return out


class Gate:
    """fastjsonschema's function for one schema, compiled on first use."""

    def __init__(self, schema: Callable[[], dict[str, Any]]) -> None:
        self._schema = schema
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
            import fastjsonschema  # type: ignore[import-untyped]

            self._check = fastjsonschema.compile(rewritten, use_default=False, use_formats=False)
        try:
            self._check(data)
        except Exception:  # invalid, or a fault of the generated code: unsure
            return False
        return True
