"""The test-script JSON Schema and its errors as located, readable diagnostics.

The schema ships inside the package (``ucwa_flow/schemas/test.schema.json``, identical to
``schemas/test.schema.json`` at the repository root, which editors use through the
``# yaml-language-server: $schema=...`` comment). Validation and the wording of errors are
the flow language's (:mod:`ucwa_flow.flow._validation`), with its codes: ``S001`` unknown
key, ``S002`` missing key, ``S003`` wrong type, ``S004`` invalid value, ``S005`` one item
holding two steps.

A step is either a word (``hang_up``) or a mapping with one key (``say: hello``); when
such an alternative fails, the explanation follows the alternative of the same YAML type
as what was written, so a misspelt ``sya: hello`` is an unknown key with a suggestion,
not "is not valid under any of the given schemas". This module words the rest that is
particular to scripts: two steps in one list item, and an expectation that must hold
exactly one of ``say``, ``state`` and ``variable``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ucwa_flow.flow import Diagnostic
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._validation import TWO_IN_ONE, SchemaValidator, where

__all__ = ["check_script_schema", "schema_text"]


class _ScriptSchema(SchemaValidator):
    """The test-script schema's validator, with one-key steps and expectations worded."""

    def explain(self, error: Any, doc: Document) -> Iterator[Diagnostic]:
        path: Path = tuple(error.absolute_path)
        keyword, instance = error.validator, error.instance
        if keyword == "maxProperties" and isinstance(instance, dict):
            first, second = list(instance)[:2]
            message = (
                f"{where(path)}{first!r} and {second!r} in one step: "
                "write each step as its own list item"
            )
            yield self.at(doc, (*path, second), TWO_IN_ONE, message, key=True)
        elif keyword == "oneOf" and isinstance(instance, dict):
            keys = [branch["required"][0] for branch in error.validator_value]
            present = [key for key in keys if key in instance]
            if len(present) > 1:
                message = (
                    f"{where(path)}{present[0]!r} and {present[1]!r} in one expectation: write two"
                )
                yield self.at(doc, (*path, present[1]), TWO_IN_ONE, message, key=True)
            else:
                message = f"{where(path)}an expectation needs one of: {', '.join(keys)}"
                yield self.at(doc, path, TWO_IN_ONE, message)
        else:
            yield from super().explain(error, doc)


_SCRIPT = _ScriptSchema("test.schema.json")


def schema_text() -> str:
    """The test-script schema exactly as packaged."""
    return _SCRIPT.text()


def check_script_schema(document: Document) -> list[Diagnostic]:
    """Every schema violation in ``document``, located and worded for script authors."""
    return _SCRIPT.check(document)
