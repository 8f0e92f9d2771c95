"""Reading what ``ucwa-flow test --json PATH`` wrote, for ``review --coverage PATH``.

The document (``docs/testing.md``) lists, per flow file, every edge of its graph and how
many times the tests took it. :func:`load_coverage` reads it; :meth:`CoverageResults.counts`
gives one reviewed flow's counts keyed by the graph's own :class:`~ucwa_flow.graph.Edge`
values, which is what :class:`~ucwa_flow.graph.Decorations` takes. A flow is found by
its file (resolved path), else by its name; an edge by its ends, kind and label, so a
flow edited since the tests ran still shows the edges that did not change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucwa_flow import bounded_json
from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.graph import Edge, Graph

__all__ = ["CoverageResults", "load_coverage"]

_FORMAT = "ucwa-flow-coverage"
#: the versions of the document this reader understands
_VERSIONS = (1,)
_EdgeKey = tuple[str, str, str, str, str, str]


@dataclass(frozen=True)
class CoverageResults:
    """The flows of one coverage document: file -> (name, edge key -> count)."""

    source: str
    flows: Mapping[str, tuple[str, Mapping[_EdgeKey, int]]]

    def counts(self, path: Path, name: str, graph: Graph) -> dict[Edge, int] | None:
        """How many times each edge of ``graph`` was taken (``None``: the document has
        no such flow)."""
        found = self.flows.get(str(path.resolve()))
        if found is None:
            named = [counts for flow_name, counts in self.flows.values() if flow_name == name]
            if len(named) != 1:
                return None
            counts = named[0]
        else:
            counts = found[1]
        return {edge: counts.get(_key(edge), 0) for edge in graph.edges}


def _key(edge: Edge) -> _EdgeKey:
    return (
        edge.source.kind.value,
        edge.source.name,
        edge.target.kind.value,
        edge.target.name,
        edge.kind.value,
        edge.label,
    )


def load_coverage(path: str | Path) -> CoverageResults:
    """Read a coverage document; :class:`UnreadableFileError` (one line) when it cannot
    be read or is not one."""
    try:
        data = bounded_json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except bounded_json.TooDeep:
        depth = bounded_json.MAX_DEPTH
        raise UnreadableFileError(
            f"{path}: JSON nested too deeply (more than {depth} levels)"
        ) from None
    except ValueError as exc:
        raise UnreadableFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT:
        raise UnreadableFileError(
            f"{path}: not a coverage file (write one with `ucwa-flow test --json {path}`)"
        )
    version = data.get("version")
    if type(version) is not int or version not in _VERSIONS:  # (True is no version)
        known = ", ".join(str(v) for v in _VERSIONS)
        raise UnreadableFileError(
            f"{path}: coverage file version {_shown(version)} is not understood (this "
            f"ucwa-flow reads version {known}): write it again with `ucwa-flow test --json {path}`"
        )
    flows: dict[str, tuple[str, Mapping[_EdgeKey, int]]] = {}
    try:
        for flow in data["flows"]:
            counts = {_item_key(item): int(item["count"]) for item in flow["edges"]["list"]}
            flows[str(Path(flow["file"]).resolve())] = (str(flow["name"]), counts)
    except KeyError as exc:
        raise UnreadableFileError(f"{path}: a coverage file without {exc}") from None
    except (TypeError, ValueError) as exc:
        raise UnreadableFileError(f"{path}: a coverage file with a bad entry ({exc})") from None
    return CoverageResults(str(path), flows)


def _shown(value: Any) -> str:
    return "(none)" if value is None else json.dumps(value)[:40]


def _item_key(item: Mapping[str, Any]) -> _EdgeKey:
    return (
        str(item["from_kind"]),
        str(item["from"]),
        str(item["to_kind"]),
        str(item["to"]),
        str(item["kind"]),
        str(item["label"]),
    )
