"""The deployment JSON Schema, checked with the flow language's located, worded errors.

The schema ships inside the package (``ucwa_flow/schemas/deploy.schema.json``, identical
to ``schemas/deploy.schema.json`` at the repository root, for editors:
``# yaml-language-server: $schema=schemas/deploy.schema.json``). Validation is
:class:`~ucwa_flow.flow._validation.SchemaValidator`'s, with its codes (``S001`` unknown
key ... ``S005``); this module words the deployment's "exactly one of" rules: an account
has ``password_env`` or ``password_file``, ``flow`` or ``flows``; the admin endpoint
``token_env`` or ``token_file``, not both.

The published schema's patterns (URLs, SIP addresses, durations) also accept any text
with ``${`` in it, so that an editor does not flag ``url: ${DISCOVERY_URL}``; the loader
checks the values after substitution, against the patterns without that allowance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from ucwa_flow.flow import Diagnostic
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._validation import TWO_IN_ONE, SchemaValidator, where

__all__ = ["SCHEMA_ID", "check_deploy_schema", "deploy_schema_text", "typed"]

SCHEMA_ID = "https://ucwa-flow.dev/schemas/deploy-1.json"


#: the end of a pattern that lets an editor accept a value with ``${...}`` in it (every
#: pattern ends ``(?!\\n)$``: ``$`` alone, as Python's ``re.search`` reads it, would let a
#: final line break through)
_SUBSTITUTED = "|.*\\$\\{.*)(?!\\n)$"


class _DeploySchema(SchemaValidator):
    # a deployment is checked once a process: the quick check is compiled then (a small
    # schema: less than importing jsonschema, which only a deployment with errors needs)
    gated = True

    def rooted(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema with the ``${...}`` allowance cut from its patterns: the loader
        checks values after substitution, when they must be the real thing."""
        strict: dict[str, Any] = _strict(schema)
        return strict

    def explain(self, error: Any, doc: Document) -> Iterator[Diagnostic]:
        path: Path = tuple(error.absolute_path)
        branches = error.validator_value
        instance = error.instance
        if error.validator == "oneOf" and isinstance(instance, dict):
            keys = [b["required"][0] for b in branches]
            present = [key for key in keys if key in instance]
            if len(present) > 1:
                yield self._both(doc, path, present)
            else:
                message = f"{where(path)}needs one of: {', '.join(keys)}"
                yield self.at(doc, path, TWO_IN_ONE, message, key=True)
        elif error.validator == "not" and isinstance(instance, dict):
            yield self._both(doc, path, list(branches["required"]))
        else:
            yield from super().explain(error, doc)

    def wanted_types(self, data: Any) -> Iterator[tuple[Path, set[str]]]:
        """Each value of ``data`` of a type the schema does not take there, with the types
        it takes (in a branch of ``oneOf``/``anyOf`` too)."""
        if self.passes(data):
            return  # no schema error at all, so none of type
        errors = list(self.errors(data))
        while errors:
            error = errors.pop()
            if error.validator == "type":
                declared = error.validator_value
                wanted = {declared} if isinstance(declared, str) else set(declared)
                yield tuple(error.absolute_path), wanted
            elif error.validator == "pattern" and "number" in _types(error.schema):
                # a duration: text with a unit, or a number of seconds ("30")
                yield tuple(error.absolute_path), {"number"}
            errors.extend(error.context or ())

    def _both(self, doc: Document, path: Path, keys: list[str]) -> Diagnostic:
        first, second = keys[:2]
        message = f"{where(path)}{first!r} and {second!r} together: use exactly one"
        return self.at(doc, (*path, second), TWO_IN_ONE, message, key=True)


_DEPLOY = _DeploySchema("deploy.schema.json")


def _strict(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: v.replace(_SUBSTITUTED, ")(?!\\n)$") if k == "pattern" else _strict(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_strict(item) for item in node]
    return node


def deploy_schema_text() -> str:
    """The schema exactly as packaged (what ``ucwa-flow schema deploy`` prints)."""
    return _DEPLOY.text()


def typed(document: Document, whole: set[Path]) -> None:
    """Read as a number or a boolean each value of ``whole`` (a value that was one
    ``${...}`` substitution and nothing else: a text) where the schema wants one and the
    text is one: ``500``, ``-1``, ``2.5``, ``true``, ``false`` (any case); a duration's
    number of seconds (``30``) too. The others keep their text, and the schema's check
    says what it wanted."""
    if not whole:
        return
    for path, wanted in _DEPLOY.wanted_types(document.data):
        if not path or path not in whole:  # not the whole file (`"${X}"` alone)
            continue
        parent = document.data
        for part in path[:-1]:
            parent = parent[part]
        value = _as(parent[path[-1]], wanted)
        if value is not None:
            parent[path[-1]] = value


def _types(schema: Any) -> set[str]:
    declared = schema.get("type", ()) if isinstance(schema, dict) else ()
    return {declared} if isinstance(declared, str) else set(declared)


def _as(text: Any, wanted: set[str]) -> int | float | bool | None:
    if not isinstance(text, str):
        return None
    word = text.strip()
    if "boolean" in wanted and word.lower() in ("true", "false"):
        return word.lower() == "true"
    if {"integer", "number"} & wanted and re.fullmatch(r"[+-]?[0-9]+", word):
        return int(word)
    if "number" in wanted and re.fullmatch(r"[+-]?([0-9]+\.[0-9]*|\.[0-9]+)", word):
        return float(word)
    return None


def check_deploy_schema(document: Document) -> list[Diagnostic]:
    """Every schema violation in ``document``, located and worded for people."""
    return _DEPLOY.check(document)
