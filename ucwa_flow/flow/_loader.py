"""Reading a flow file: YAML text -> plain JSON data plus a table of source positions.

The loader uses ruamel.yaml in round-trip mode (YAML 1.2: ``on``/``yes``/``no`` are
strings, only ``true``/``false`` are booleans) because it records the line and column of
every key and item. It refuses what a flow never needs and an attacker could abuse:
anchors and aliases (billion laughs), non-standard tags, nesting deeper than
:data:`MAX_DEPTH` and files larger than :data:`MAX_BYTES`. Duplicate keys are errors, and so
are the numbers JSON has no form for (``.nan``, ``.inf``, ``-.inf``).

The result is a :class:`Document`: ``data`` holds only ``dict``/``list``/``str``/
``int``/``float``/``bool``/``None`` (mapping keys that YAML reads as numbers, such as a
state named ``404``, become strings), and :meth:`Document.locate` maps a JSON path back
to ``file:line:col``. Every problem is a ``Y`` diagnostic; a YAML syntax error stops the
load, since nothing after it can be trusted.
"""

from __future__ import annotations

import datetime
import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.constructor import DuplicateKeyError, RoundTripConstructor
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from ruamel.yaml.nodes import MappingNode, ScalarNode
from ruamel.yaml.reader import Reader, ReaderError
from ruamel.yaml.scalarfloat import ScalarFloat

from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._fast_yaml import plain_scalar, read_plain
from ucwa_flow.flow._yaml_hints import TEMPLATE_KEY, hint

__all__ = ["MAX_BYTES", "MAX_DEPTH", "Document", "Path", "not_utf8", "read_document"]

MAX_BYTES = 1_000_000
MAX_DEPTH = 64

#: a JSON path: mapping keys and list indexes from the root
Path = tuple[str | int, ...]

_CORE_TAGS = frozenset(
    f"tag:yaml.org,2002:{name}" for name in ("str", "int", "float", "bool", "null", "seq", "map")
)


@dataclass(slots=True)
class Document:
    """Plain data read from a flow file, with the position of every node.

    ``values[path]`` is where the node at ``path`` starts and ``keys[path]`` where its
    mapping key is written; both are 1-based ``(line, col)`` pairs. ``digest`` is the
    sha256 (hex) of the text the document was read from, encoded as UTF-8: the same
    text gives the same digest in every process. ``sources`` names the file of the parts
    merged in from other files (``include``): a path and everything below it are located
    in that file.
    """

    file: str
    data: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)
    digest: str = ""
    sources: dict[Path, str] = field(default_factory=dict)

    def file_of(self, path: Path) -> str:
        """The file the node at ``path`` was read from."""
        if self.sources:
            for end in range(len(path), 0, -1):
                found = self.sources.get(path[:end])
                if found is not None:
                    return found
        return self.file

    def locate(self, path: Path, *, key: bool = False) -> Location:
        """The location of the node at ``path`` (of its key with ``key=True``).

        A path that does not exist falls back to its nearest existing ancestor.
        """
        if key and path in self.keys:
            line, col = self.keys[path]
            return Location(self.file_of(path), line, col)
        found = self.values.get(path)
        if found is not None and not self.sources:  # the common case, cheaply
            return Location(self.file, found[0], found[1])
        while path not in self.values and path:
            path = path[:-1]
        line, col = self.values.get(path, (1, 1))
        return Location(self.file_of(path), line, col)


class _Rejected(MarkedYAMLError):
    """A construct the loader refuses (alias, anchor, tag); carries its own rule code."""

    def __init__(self, code: str, problem: str, mark: Any) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.code = code


class _StrictComposer(Composer):
    #: what the files are called in messages ("flows", "deployment files")
    files = "flows"

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):
            message = (
                f"alias *{event.anchor} is not allowed in {self.files} "
                "(a text that starts with '*' must be quoted)"
            )
            raise _Rejected("Y003", message, event.start_mark)
        if event.anchor is not None:
            raise _Rejected(
                "Y003", f"anchor &{event.anchor} is not allowed in {self.files}", event.start_mark
            )
        tag = getattr(event, "tag", None)
        if tag is not None and tag not in _CORE_TAGS and tag != "!":
            shown = tag.replace("tag:yaml.org,2002:", "!!")
            message = f"YAML tag {shown} is not allowed in {self.files}"
            raise _Rejected("Y001", message, event.start_mark)
        is_key = index is None and isinstance(parent, MappingNode)
        if is_key and _template_start(parent, event):
            raise _Rejected("Y006", TEMPLATE_KEY, parent.start_mark)
        if is_key and isinstance(event, MappingStartEvent | SequenceStartEvent):
            kind = "mapping" if isinstance(event, MappingStartEvent) else "list"
            message = f"a {kind} cannot be a mapping key: keys are texts"
            raise _Rejected("Y006", message, event.start_mark)
        return super().compose_node(parent, index)


def _template_start(parent: MappingNode, event: Any) -> bool:
    """Whether ``event`` is the second brace of ``{{ ... }}`` on one line: a template."""
    if not (isinstance(event, MappingStartEvent) and event.flow_style and parent.flow_style):
        return False
    mark = event.start_mark
    buffer, pointer = getattr(mark, "buffer", None), getattr(mark, "pointer", None)
    if parent.start_mark.index + 1 != mark.index or not isinstance(buffer, str):
        return False
    line = buffer[pointer:].split("\n", 1)[0] if isinstance(pointer, int) else ""
    return "}}" in line  # {{a: 1}: x} is a mapping used as a key, not a template


def _composer(kind: str) -> type[_StrictComposer]:
    if kind == "flow":
        return _StrictComposer

    class _Composer(_StrictComposer):
        files = f"{kind} files"

    return _Composer


class _StrictConstructor(RoundTripConstructor):
    """Builds values; a scalar that resolves to a kind it cannot be is never a traceback.

    A plain scalar that only looks like a date or number (``2026-02-30``,
    ``2026-13-05T10:00:00``, ``0x_``) is the text as written, as valid dates are texts too;
    one with an explicit tag that does not fit it (``!!int abc``) is a located ``Y001``.
    """

    def construct_non_recursive_object(self, node: Any, tag: str | None = None) -> Any:
        try:
            return super().construct_non_recursive_object(node, tag)
        except (ValueError, KeyError, IndexError, OverflowError) as exc:
            if not isinstance(node, ScalarNode):
                raise
            implicit = self.resolver.resolve(ScalarNode, node.value, (True, False))
            if str(implicit) == str(node.tag):
                return str(node.value)
            shown = str(node.tag).replace("tag:yaml.org,2002:", "!!")
            message = f"{node.value!r} cannot be read as {shown}: fix the value or drop the tag"
            raise _Rejected("Y001", message, node.start_mark) from exc

    def check_mapping_key(
        self, node: Any, key_node: Any, mapping: Any, key: Any, value: Any
    ) -> bool:
        """A duplicate key names the line of the first one (ruamel's error names the line
        where the mapping starts)."""
        first = getattr(mapping, "lc", None)
        if key in mapping and first is not None and key in first.data:
            line = first.data[key][0] + 1
            message = f"duplicate key {str(key)!r} (first defined at line {line})"
            raise _Rejected("Y002", message, key_node.start_mark)
        return bool(super().check_mapping_key(node, key_node, mapping, key, value))


def _yaml(kind: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.Composer = _composer(kind)
    yaml.Constructor = _StrictConstructor
    yaml.max_depth = MAX_DEPTH
    yaml.allow_duplicate_keys = False
    return yaml


def read_document(
    text: str, file: str, *, kind: str = "flow"
) -> tuple[Document | None, list[Diagnostic]]:
    """Parse ``text`` (the content of ``file``); the document is ``None`` on any Y error.

    ``kind`` names the files in messages (``"deployment"``: "a deployment file holds ...");
    the rules are the same for every kind.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) > MAX_BYTES:
        message = f"{kind} file is larger than {MAX_BYTES:,} bytes"
        return None, [Diagnostic.at(Location(file, 1, 1), "Y005", message)]
    digest = hashlib.sha256(encoded).hexdigest()
    document = Document(file, None, digest=digest)
    if read_plain(text, document, MAX_DEPTH):
        return document, []
    try:
        tree = _yaml(kind).load(text)
    except MarkedYAMLError as exc:
        return None, [_syntax_diagnostic(exc, file, kind)]
    except ReaderError as exc:
        return None, [_character_diagnostic(exc, text, file)]
    except YAMLError as exc:  # any other refusal of the parser: still one located line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "invalid YAML"
        return None, [Diagnostic.at(Location(file, 1, 1), "Y001", first)]
    if tree is None:  # no document at all, or one that is only null (`~`)
        return None, [_no_value(text, file, kind)]
    document = Document(file, None, digest=digest)
    problems: list[Diagnostic] = []
    document.values[()] = _start(tree)
    document.data = _convert(tree, (), document, problems)
    return (None if problems else document), problems


#: what a file of each kind should hold, for a file that holds only null
_EXPECTED = {
    "flow": "a flow, a mapping with version, name, start, states",
    "sub-flow": "a sub-flow, a mapping with version, subflow, start, states",
    "included": "part of a flow, a mapping with states, variables or commands",
    "deployment": "a deployment, a mapping with accounts",
    "test script": "a test script, a mapping with flow and scenarios",
}


def _no_value(text: str, file: str, kind: str) -> Diagnostic:
    """``Y007`` for a ``kind`` file that YAML reads as nothing: no document (empty, only
    comments), or one that holds only null (``~``, ``null``, a lone ``---``)."""
    node = _yaml(kind).compose(text)
    if node is None:
        return Diagnostic.at(Location(file, 1, 1), "Y007", "the file has no YAML document")
    written = f"null ({node.value})" if node.value else "an empty document"
    expected = _EXPECTED.get(kind, "a mapping")
    message = f"the file holds only {written}: expected {expected}"
    location = Location(file, node.start_mark.line + 1, node.start_mark.column + 1)
    return Diagnostic.at(location, "Y007", message)


def not_utf8(exc: UnicodeDecodeError, file: str) -> Diagnostic:
    """``Y001`` at the first byte of ``file`` that is not UTF-8 (``exc`` from decoding it,
    a leading byte-order mark removed), at its line and column as an editor counts them."""
    raw = bytes(exc.object)
    start = raw.rfind(b"\n", 0, exc.start) + 1
    line = raw.count(b"\n", 0, exc.start) + 1
    col = len(raw[start : exc.start].decode("utf-8", "replace")) + 1
    message = f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x}); save it as UTF-8"
    return Diagnostic.at(Location(file, line, col), "Y001", message)


def _syntax_diagnostic(exc: MarkedYAMLError, file: str, kind: str) -> Diagnostic:
    mark = exc.problem_mark or exc.context_mark
    ended = re.search("<stream end>|end of stream", str(exc.problem))
    if ended and exc.context_mark is not None:
        mark = exc.context_mark  # point at what was left open, not at the end of the file
    if "scanning an alias" in str(exc.context) and exc.context_mark is not None:
        mark = exc.context_mark  # the '*' that starts the text, not the character after it
    if "scanning a simple key" in str(exc.context) and exc.context_mark is not None:
        mark = exc.context_mark  # the line missing its ':', not where the scanner gave up
    location = Location(file, mark.line + 1, mark.column + 1) if mark else Location(file, 1, 1)
    problem = str(exc.problem or "invalid YAML").strip()
    if isinstance(exc, _Rejected):
        return Diagnostic.at(location, exc.code, problem)
    if isinstance(exc, DuplicateKeyError):
        key = re.search(r'duplicate key "(.*?)" with value', problem)
        first = exc.context_mark
        where = f" (first defined at line {first.line + 1})" if first else ""
        shown = key.group(1) if key else "?"
        return Diagnostic.at(location, "Y002", f"duplicate key {shown!r}{where}")
    if isinstance(exc, MaxDepthExceededError):
        return Diagnostic.at(location, "Y004", f"nesting deeper than {MAX_DEPTH} levels")
    if isinstance(exc, ComposerError) and "single document" in f"{problem} {exc.context}":
        return Diagnostic.at(location, "Y007", f"a {kind} file holds exactly one YAML document")
    problem = re.sub(r"\('([^']+)',\)", r"'\1'", problem)  # ruamel's ('<scalar>',), ('{',)
    problem = problem.replace("but found '?'", "but found a key")  # its token for a key
    context = str(exc.context or "")
    hinted = hint(problem, context, exc.problem_mark)
    message = f"{hinted} ({problem})" if hinted else f"{problem} {context}".strip()
    return Diagnostic.at(location, "Y001", message)


def _character_diagnostic(exc: ReaderError, text: str, file: str) -> Diagnostic:
    """A character YAML does not allow (NUL, other control characters, a lone surrogate)."""
    found = Reader.NON_PRINTABLE.search(text)
    if found is not None:
        position, code = found.start(), ord(found.group())
    else:
        position = exc.position if isinstance(exc.position, int) else 0
        code = exc.character if isinstance(exc.character, int) else 0
    before = text[:position]
    line = before.count("\n") + 1
    col = position - (before.rfind("\n") + 1) + 1
    kind = "a lone surrogate" if 0xD800 <= code <= 0xDFFF else "a control character"
    message = f"character U+{code:04X} is not allowed in YAML ({kind})"
    return Diagnostic.at(Location(file, line, col), "Y001", message)


def _start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    return (lc.line + 1, lc.col + 1) if lc is not None else (1, 1)


def _convert(node: Any, path: Path, doc: Document, problems: list[Diagnostic]) -> Any:
    if isinstance(node, CommentedMap):
        result: dict[str, Any] = {}
        for raw_key, value in node.items():
            key_line, key_col = node.lc.key(raw_key)
            key = _key_text(raw_key)
            if key is None:
                location = Location(doc.file, key_line + 1, key_col + 1)
                shown = "null" if raw_key is None else str(raw_key).lower()
                problems.append(
                    Diagnostic.at(
                        location,
                        "Y006",
                        f"key {shown} is read by YAML as a {_kind(raw_key)}, not a text; "
                        f"quote it: '{shown}'",
                    )
                )
                continue
            child = (*path, key)
            if key in result:  # `404:` and `"404":`, both the text "404"
                location = Location(doc.file, key_line + 1, key_col + 1)
                first = doc.keys[child][0]
                message = f"duplicate key {key!r} (first defined at line {first})"
                problems.append(Diagnostic.at(location, "Y002", message))
                continue
            value_line, value_col = node.lc.value(raw_key)
            if value is None and value_line > key_line:
                # An empty value is "located" at the next token; point at its key instead.
                value_line, value_col = key_line, key_col
            doc.keys[child] = (key_line + 1, key_col + 1)
            doc.values[child] = _value_start(value, value_line, value_col)
            result[key] = _convert(value, child, doc, problems)
        return result
    if isinstance(node, CommentedSeq):
        items: list[Any] = []
        for index, value in enumerate(node):
            child = (*path, index)
            line, col = node.lc.item(index)
            doc.values[child] = _value_start(value, line, col)
            items.append(_convert(value, child, doc, problems))
        return items
    value = plain_scalar(node)
    if isinstance(value, float) and not math.isfinite(value):
        line, col = doc.values.get(path, (1, 1))
        message = _not_finite(value, written=isinstance(node, ScalarFloat))
        problems.append(Diagnostic.at(Location(doc.file, line, col), "Y008", message))
        return None
    return value


def _not_finite(value: float, written: bool = False) -> str:
    """``written``: a number written out (``1e999``) that is too large for one, which YAML
    reads as infinity; else ``.nan``, ``.inf`` or ``-.inf`` as such."""
    if written:
        return "this number is too large: YAML reads it as infinity, which no value may be"
    written_as = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
    what = "not a number" if math.isnan(value) else "infinity"
    return (
        f"YAML reads {written_as} as {what}, which no value may be: quote it ('{written_as}') "
        "for a text"
    )


def _value_start(value: Any, line: int, col: int) -> tuple[int, int]:
    # A nested block collection starts where its first entry is, not after the colon.
    if isinstance(value, CommentedMap | CommentedSeq) and len(value):
        return _start(value)
    return (line + 1, col + 1)


def _key_text(key: Any) -> str | None:
    if isinstance(key, bool) or key is None:
        return None
    if isinstance(key, str):
        return str(key)
    if isinstance(key, int):
        return str(int(key))
    return None


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, datetime.date):
        return "date"
    if isinstance(value, float):
        return "number"
    return type(value).__name__
