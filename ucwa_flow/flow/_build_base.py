"""What every part of the builder shares, and the building of ``call`` and ``return``.

:class:`BuilderBase` holds the document being built, the problems found so far and the
helpers that compile one piece at a located path (a template, a duration, a variable
name). The flow builder (``_builder``) extends it; a sub-flow is built by a builder of its
own document with a ``prefix`` (``confirm/``) that qualifies its state names, so that its
gotos, like its states, are ``confirm/STATE`` in the calling flow.

A ``call`` is checked against the sub-flow's file here, where both files' positions are
known: F133 (the file is no usable sub-flow), F134 (a parameter missing or unknown),
F135 (a returned name the sub-flow does not return); ``return`` outside a sub-flow is F137,
and ``return: {name: value}`` with a name the sub-flow does not return is F135.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from ucwa_flow.flow._back import BACK
from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._durations import parse_duration
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._model import Action, Settings
from ucwa_flow.flow._parts import Parts, part_path
from ucwa_flow.flow._sandbox import RESERVED_NAMES, Template, TemplateCompileError, Value
from ucwa_flow.flow._subflow_model import Call, Return, subflow_state

__all__ = ["BuilderBase", "text_of"]

_T = TypeVar("_T")


def text_of(value: Any) -> str:
    """A number where a text is expected means its text."""
    return value if isinstance(value, str) else str(value)


class BuilderBase:
    """The document, the problems, and compiling one located piece at a time."""

    def __init__(
        self,
        document: Document,
        parts: Parts | None = None,
        *,
        prefix: str = "",
        settings: Settings | None = None,
    ) -> None:
        self.doc = document
        self.parts = parts or Parts()
        self.prefix = prefix
        self.problems: list[Diagnostic] = []
        self.settings = settings or Settings()

    def loc(self, path: Path, *, key: bool = False) -> Location:
        return self.doc.locate(path, key=key)

    def report(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        self.problems.append(Diagnostic.at(self.loc(path, key=key), code, message))

    def target(self, raw: Any) -> str:
        """The state a ``goto`` in this document names."""
        return self.prefix + text_of(raw)

    def goto_target(self, raw: Any) -> str:
        """The target of a ``goto``: a state, or ``back`` (never a sub-flow's own)."""
        return BACK if text_of(raw) == BACK else self.target(raw)

    def compiled(self, path: Path, make: Callable[[Location], _T], code: str) -> _T | None:
        location = self.loc(path)
        try:
            return make(location)
        except TemplateCompileError as exc:
            where = f" (line {exc.lineno} of it)" if exc.lineno > 1 else ""
            what = "condition" if code == "F113" else "template"
            message = f"{what} does not compile{where}: {exc}"
            self.problems.append(Diagnostic.at(exc.location or location, code, message))
            return None

    def template(self, raw: Any, path: Path, *, html: bool = False) -> Template | None:
        if raw is None:
            return None
        return self.compiled(path, lambda at: Template(text_of(raw), at, html=html), "F112")

    def value(self, raw: Any, path: Path) -> Value | None:
        """A value (``set``, a webhook's ``json``), each of its templates located at its
        own key or item."""

        def locate(within: Path) -> Location:
            return self.loc((*path, *within))

        return self.compiled(path, lambda at: Value(raw, at, locate), "F112")

    def duration(self, raw: Any, path: Path, default: float) -> float:
        if raw is None:
            return default
        seconds = parse_duration(raw)
        if not math.isfinite(seconds):  # .nan, .inf: the schema's minimum lets them through
            message = f"duration {raw!r} is not a number of seconds; give one such as 90s or 2m"
            self.report(path, "F111", message)
            return default
        if seconds == 0:
            self.report(path, "F111", f"duration {raw!r} is zero; give a positive duration")
        return seconds

    def variable_name(self, name: str, path: Path, *, key: bool = True) -> None:
        if name in RESERVED_NAMES:
            self.report(
                path,
                "F117",
                f"{name!r} is a reserved name in templates; choose another variable name",
                key=key,
            )

    def values(self, raw: Mapping[str, Any], path: Path) -> tuple[tuple[str, Value], ...]:
        """Values written as in ``set`` (``name: value``), compiled."""
        built: list[tuple[str, Value]] = []
        for name, value in raw.items():
            compiled = self.value(value, (*path, name))
            if compiled is not None:
                built.append((name, compiled))
        return tuple(built)

    # --- call and return -------------------------------------------------------------

    def call(self, raw: Mapping[str, Any], path: Path) -> list[Action]:
        file = part_path(self.doc.file_of(path), raw["flow"])
        sub = self.parts.subflows.get(file)
        args = self.values(raw.get("with", {}), (*path, "with"))
        returns = tuple(raw.get("returns", {}).items())
        for i, (_, variable) in enumerate(returns):
            self.variable_name(variable, (*path, "returns", returns[i][0]), key=False)
        if sub is None:
            return []  # unusable: reported where it was read
        data: dict[str, Any] = sub.data
        params: dict[str, Any] = data.get("params", {})
        name = data["subflow"]
        for arg in raw.get("with", {}):
            if arg not in params:
                known = ", ".join(params) or "none"
                message = f"sub-flow {name!r} has no parameter {arg!r} (it has: {known})"
                self.report((*path, "with", arg), "F134", message, key=True)
        missing = [p for p, spec in params.items() if "default" not in spec]
        missing = [p for p in missing if p not in raw.get("with", {})]
        if missing:
            where = f"{sub.file}:{sub.locate(('params', missing[0]), key=True).line}"
            message = f"call of {name!r} lacks parameter {', '.join(missing)} (required at {where})"
            self.report(path, "F134", message, key=True)
        offered = data.get("returns", [])
        for returned, _ in returns:
            if returned not in offered:
                message = (
                    f"sub-flow {name!r} does not return {returned!r} "
                    f"(it returns: {', '.join(offered) or 'nothing'})"
                )
                self.report((*path, "returns", returned), "F135", message, key=True)
        start = subflow_state(name, text_of(data["start"]))
        return [Call(name, raw["flow"], args, returns, start, self.loc(path, key=True))]

    def return_(
        self, raw: Mapping[str, Any] | None, path: Path, returns: list[str]
    ) -> list[Action]:
        if not self.prefix:
            message = "`return` ends a sub-flow: this flow is not one (use goto or stop)"
            self.report(path, "F137", message, key=raw is not None)
            return []
        for name in raw or {}:
            if name not in returns:
                message = (
                    f"{name!r} is not a value this sub-flow returns: add it to `returns` "
                    f"(it returns: {', '.join(returns) or 'nothing'})"
                )
                self.report((*path, name), "F135", message, key=True)
        values = self.values(raw or {}, path)
        return [Return(values, self.loc(path, key=raw is not None))]
