"""Coverage as one JSON document: what ``ucwa-flow test --json PATH`` writes.

``ucwa-flow review --coverage PATH`` reads it back to draw the edges tests never took
apart, with the count of times each edge was taken. The format (``docs/testing.md``)::

    {"format": "ucwa-flow-coverage", "version": 1,
     "passed": true, "scenarios": 12, "failed": 0,
     "flows": [
       {"file": "flows/helpdesk.flow.yaml", "name": "helpdesk", "digest": "<sha256>",
        "states": {"total": 7, "covered": 7, "percent": 100.0,
                   "counts": {"welcome": 12, "menu": 15, ...}},
        "edges": {"total": 40, "covered": 31, "percent": 77.5,
                  "list": [{"from": "menu", "from_kind": "state", "to": "describe",
                            "to_kind": "state", "kind": "message", "label": "\\"2\\" or ...",
                            "line": 80, "file": null, "count": 3}, ...]}}]}

``states.counts`` has every state of the flow (0: never entered); ``edges.list`` every
edge of the flow's graph (``ucwa-flow graph``), in drawing order, with how many times the
tests took it. An edge is identified by its ends, ``kind`` and ``label``; ``from_kind``
and ``to_kind`` are ``state`` or one of the pseudo-nodes ``start``, ``any``, ``end``;
``line`` is the source line of the handler, rung or step behind it (``null`` if unknown),
``file`` the file of that line relative to the flow file's folder when it is another file
(an included file, a sub-flow), else ``null``.
"""

from __future__ import annotations

import json
from typing import Any

from ucwa_flow.testing._coverage import Coverage, FlowCoverage
from ucwa_flow.testing._suite import TestRun

__all__ = ["COVERAGE_FORMAT", "coverage_document", "coverage_json"]

#: the ``format`` value of the document
COVERAGE_FORMAT = "ucwa-flow-coverage"


def coverage_document(run: TestRun) -> dict[str, Any]:
    """The JSON-ready document of a test run's results and coverage."""
    results = run.results
    return {
        "format": COVERAGE_FORMAT,
        "version": 1,
        "passed": run.passed,
        "scenarios": len(results),
        "failed": sum(1 for result in results if not result.passed),
        "flows": _flows(run.coverage),
    }


def coverage_json(run: TestRun) -> str:
    """:func:`coverage_document` as indented JSON text, ending with a newline."""
    return json.dumps(coverage_document(run), indent=2, ensure_ascii=False) + "\n"


def _flows(coverage: Coverage) -> list[dict[str, Any]]:
    return [_flow(key, cov) for key, cov in sorted(coverage.flows.items())]


def _flow(key: str, cov: FlowCoverage) -> dict[str, Any]:
    lines, files = cov.graph.lines, cov.graph.files
    return {
        "file": key,
        "name": cov.name,
        "digest": cov.flow.digest,
        "states": {
            "total": cov.state_total,
            "covered": len(cov.states),
            "percent": round(cov.state_percent, 2),
            "counts": {name: cov.state_counts.get(name, 0) for name in cov.flow.states},
        },
        "edges": {
            "total": cov.edge_total,
            "covered": len(cov.edges),
            "percent": round(cov.edge_percent, 2),
            "list": [
                {
                    "from": edge.source.name,
                    "from_kind": edge.source.kind.value,
                    "to": edge.target.name,
                    "to_kind": edge.target.kind.value,
                    "kind": edge.kind.value,
                    "label": edge.label,
                    "line": lines.get(edge),
                    "file": files.get(edge),
                    "count": cov.edge_counts.get(edge, 0),
                }
                for edge in cov.graph.edges
            ],
        },
    }
