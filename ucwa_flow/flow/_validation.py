"""JSON Schema validation of a located document, with errors worded for people.

Two languages are checked against a JSON Schema packaged in :mod:`ucwa_flow.schemas`: flows
(``flow.schema.json``, :mod:`ucwa_flow.flow._schema`) and conversation-test scripts
(``test.schema.json``, :mod:`ucwa_flow.testing._schema`). Both want the same thing of
jsonschema: every violation, not only the first, each as a :class:`Diagnostic` at the
``file:line:col`` of the offending node (of the key, for an unknown or missing key), in
words an author understands rather than JSON paths and jsonschema's phrasing.

:class:`SchemaValidator` does that for one schema resource. What the two languages share
is here; a subclass words the shapes particular to its language by extending
:meth:`SchemaValidator.explain` (flows: a handler's trigger, an action's key; scripts: a
step written as a word or a one-key mapping) and, where needed, the message methods.

The codes are common to both languages: ``S001`` unknown key, ``S002`` missing key,
``S003`` wrong type, ``S004`` invalid value, ``S005`` one item holding two.

jsonschema is imported when the first document is checked, not before; a validator with
``gated`` set asks fastjsonschema first, and imports jsonschema only for a document with
errors.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any, ClassVar

from ucwa_flow.flow._diagnostics import Diagnostic
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._schema_gate import Gate

__all__ = [
    "INVALID",
    "MISSING_KEY",
    "TWO_IN_ONE",
    "UNKNOWN_KEY",
    "WRONG_TYPE",
    "SchemaValidator",
    "kind",
    "where",
]

UNKNOWN_KEY = "S001"
MISSING_KEY = "S002"
WRONG_TYPE = "S003"
INVALID = "S004"
TWO_IN_ONE = "S005"

#: a text that was meant as a key and its value, without the space after the colon
_GLUED_KEY = re.compile(r"[A-Za-z_]\w*:\S")

_TYPE_WORDS = {
    "string": "a text",
    "integer": "a whole number",
    "number": "a number",
    "object": "a mapping",
    "array": "a list",
    "boolean": "true or false",
    "null": "nothing",
}
_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "object": dict,
    "array": list,
    "boolean": bool,
    "null": type(None),
    "integer": int,
    "number": (int, float),
}


class SchemaValidator:
    """Checks documents against the packaged schema ``resource`` (a file name).

    :meth:`check` returns every violation as a located diagnostic, sorted, without
    duplicates. The schema is read and the validator compiled on first use, once per
    instance: keep one instance per process.

    Subclasses may set ``bare_words`` (items that are written as a word alone, so that
    ``stop:`` with a colon gets a hint) and ``suggest_values`` (whether a value not in an
    ``enum`` gets a "did you mean"), override :meth:`prepare` to transform the schema
    before it is compiled, and extend :meth:`explain` for their own shapes.
    """

    bare_words: ClassVar[frozenset[str]] = frozenset()
    suggest_values: ClassVar[bool] = True
    #: whether a quick yes/no (:mod:`ucwa_flow.flow._schema_gate`) may answer first
    gated: ClassVar[bool] = False
    #: the module that holds the quick check generated ahead, if any
    gate_module: ClassVar[str | None] = None

    def __init__(self, resource: str) -> None:
        self.resource = resource
        self._schema: dict[str, Any] | None = None
        self._validator: Any = None
        self._gate = Gate(lambda: self.rooted(self.schema()), self.gate_module)

    # -- the schema -----------------------------------------------------------------------

    def text(self) -> str:
        """The schema exactly as packaged."""
        return resources.files("ucwa_flow.schemas").joinpath(self.resource).read_text("utf-8")

    def schema(self) -> dict[str, Any]:
        """The schema as a parsed JSON object (read once; do not mutate)."""
        if self._schema is None:
            self._schema = json.loads(self.text())
        return self._schema

    def rooted(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema documents are checked against; the schema itself by default."""
        return schema

    def prepare(self, schema: dict[str, Any]) -> dict[str, Any]:
        """The schema jsonschema's validator is compiled from; :meth:`rooted` by default."""
        return self.rooted(schema)

    # -- checking -------------------------------------------------------------------------

    def passes(self, data: Any) -> bool:
        """Whether ``data`` surely has no schema violation, asked of the quick check
        (``False`` also when unsure, and always without ``gated``)."""
        return self.gated and self._gate.passes(data)

    def check(self, document: Document) -> list[Diagnostic]:
        """Every schema violation in ``document``, located and worded for people."""
        if self.passes(document.data):
            return []  # valid: jsonschema is needed only to find and word errors
        found: dict[tuple[object, ...], Diagnostic] = {}
        for error in self.errors(document.data):
            for diagnostic in self.explain(error, document):
                found.setdefault((diagnostic.sort_key(), diagnostic.message), diagnostic)
        return sorted(found.values(), key=Diagnostic.sort_key)

    def errors(self, data: Any) -> Iterator[Any]:
        """jsonschema's ``ValidationError`` for each violation in ``data``, unworded."""
        if self._validator is None:
            from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

            self._validator = Draft202012Validator(self.prepare(self.schema()))
        return iter(self._validator.iter_errors(data))

    def explain(self, error: Any, doc: Document) -> Iterator[Diagnostic]:
        """The diagnostics for one jsonschema ``ValidationError`` (none to drop it)."""
        path: Path = tuple(error.absolute_path)
        keyword: str = error.validator
        instance = error.instance
        if "propertyNames" in error.absolute_schema_path:
            # The instance is the offending key itself; point at it.
            name = f"{instance!r} is not {_title(error.schema, 'a valid name')}"
            yield self.at(doc, (*path, instance), INVALID, name, key=True)
        elif keyword == "additionalProperties":
            allowed = sorted(error.schema.get("properties", {}))
            for key in instance:
                if key not in allowed:
                    message = self.unknown_key(key, allowed, path)
                    yield self.at(doc, (*path, key), UNKNOWN_KEY, message, key=True)
        elif keyword == "required":
            for key in error.validator_value:
                if key not in instance:
                    message = f"{where(path)}missing required key {key!r}"
                    yield self.at(doc, path, MISSING_KEY, message, key=True)
        elif keyword == "dependentRequired":
            for key, needed in error.validator_value.items():
                for other in needed:
                    if key in instance and other not in instance:
                        message = self.needs(key, other, path)
                        yield self.at(doc, (*path, key), MISSING_KEY, message, key=True)
        elif keyword in ("anyOf", "oneOf"):
            yield from self.alternatives(error, path, doc)
        elif keyword == "type":
            hint = _text_hint(error.schema, instance, path)
            wrong = f"expected {expected(error.schema)}, got {kind(instance)}"
            yield self.at(doc, path, WRONG_TYPE, where(path) + (hint or wrong))
        else:
            yield self.at(doc, path, INVALID, where(path) + self.invalid(error))

    def alternatives(self, error: Any, path: Path, doc: Document) -> Iterator[Diagnostic]:
        """Explain the alternative whose type matches what was written; else list the types.

        A misspelt ``sya: hello`` where a word or a one-key mapping may stand is then an
        unknown key with a suggestion, not "is not valid under any of the given schemas".
        """
        branches: list[dict[str, Any]] = error.validator_value
        for index, branch in enumerate(branches):
            if _type_matches(branch.get("type"), error.instance):
                causes = [e for e in error.context if e.relative_schema_path[0] == index]
                for cause in causes:
                    yield from self.explain(cause, doc)
                if causes:
                    return
        titles = [str(b["title"]) for b in branches if "title" in b]
        wanted = " or ".join(titles) if titles else expected(error.schema)
        message = f"{where(path)}expected {wanted}, got {kind(error.instance)}"
        yield self.at(doc, path, WRONG_TYPE, message)

    # -- wording --------------------------------------------------------------------------

    @staticmethod
    def at(doc: Document, path: Path, code: str, message: str, *, key: bool = False) -> Diagnostic:
        """A diagnostic at the node ``path`` (at its key with ``key=True``)."""
        return Diagnostic.at(doc.locate(path, key=key), code, message)

    def unknown_key(self, key: str, allowed: list[str], path: Path) -> str:
        """The message for ``key``, not one of ``allowed``, in the mapping at ``path``."""
        if key in self.bare_words:
            return f"{where(path)}unknown key {key!r}; write `- {key}` alone, without a colon"
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        options = f" (expected one of: {', '.join(allowed)})" if allowed else ""
        return f"{where(path)}unknown key {key!r}{hint}{options}"

    def needs(self, key: str, other: str, path: Path) -> str:
        """The message for ``key`` written without the ``other`` key it needs."""
        return f"{where(path)}{key!r} needs {other!r}"

    def invalid(self, error: Any) -> str:
        """What is wrong with a value (after the path), for the remaining keywords."""
        keyword, value, instance = error.validator, error.validator_value, error.instance
        if keyword == "enum":
            words = [str(v) for v in value]
            close = difflib.get_close_matches(str(instance), words, n=1)
            hint = f"; did you mean {close[0]!r}?" if close and self.suggest_values else ""
            if not hint and isinstance(instance, str) and _GLUED_KEY.match(instance):
                # `- say:hi` is one text: YAML needs a space after a key's colon
                spaced = instance.replace(":", ": ", 1)
                hint = f"; to write a key, put a space after its ':' ({spaced})"
            return f"{instance!r} is not one of: {', '.join(words)}{hint}"
        if keyword == "const":
            return f"{instance!r} is not allowed here; the only value is {json.dumps(value)}"
        if keyword == "pattern":
            return f"{instance!r} is not {_title(error.schema, 'a valid value')}"
        if keyword == "minProperties" and isinstance(instance, dict) and instance:
            others = [k for k in error.schema.get("properties", {}) if k not in instance]
            return f"has only {', '.join(instance)}: add {' or '.join(others)}"
        if keyword in ("minItems", "minProperties", "minLength"):
            return "must not be empty"
        if keyword == "uniqueItems":
            return "has the same entry twice"
        if keyword == "minimum":
            return f"{instance!r} is below the minimum {value}"
        if keyword == "maximum":
            return f"{instance!r} is above the maximum {value}"
        return str(error.message)


def where(path: Path) -> str:
    """``states.menu.on[2]: `` for a path, the prefix of a message; empty at the top. A
    name a line break or another unprintable character would split or garble is quoted
    (``states['start\\n'].enter``): a diagnostic stays one line."""
    text = ""
    for part in path:
        if isinstance(part, int) or not str(part).isprintable():
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else str(part)
    return f"{text}: " if text else ""


def kind(instance: Any) -> str:
    """What a value is, in words: ``a mapping``, ``the text 'x'``, ``nothing (null)``."""
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


def _text_hint(subschema: dict[str, Any], instance: Any, path: Path) -> str | None:
    """What to write instead of a YAML boolean, or of a null list item, where a text is
    wanted (``choice: [true]``, ``keywords: [~]``); ``None`` for any other mistake."""
    types = subschema.get("type", [])
    if "string" not in ([types] if isinstance(types, str) else types):
        return None
    if isinstance(instance, bool):
        return (
            f"expected {expected(subschema)}, got {kind(instance)} (a YAML boolean): "
            "put the word in quotes to mean it as text"
        )
    if instance is None and path and isinstance(path[-1], int):
        return (
            "the item is null (~, null or nothing): remove it, or write the text you meant "
            "in quotes"
        )
    return None


def expected(subschema: dict[str, Any]) -> str:
    """What ``subschema`` wants, in words: its title, else its types."""
    if "title" in subschema:
        return str(subschema["title"])
    types = subschema.get("type", [])
    words = [_TYPE_WORDS.get(t, t) for t in ([types] if isinstance(types, str) else types)]
    return " or ".join(words) or "another value"


def _title(subschema: Any, fallback: str) -> str:
    return str(subschema.get("title", fallback)) if isinstance(subschema, dict) else fallback


def _type_matches(declared: Any, instance: Any) -> bool:
    names = [declared] if isinstance(declared, str) else list(declared or [])
    if isinstance(instance, bool):
        return "boolean" in names
    return any(isinstance(instance, _JSON_TYPES[name]) for name in names)
