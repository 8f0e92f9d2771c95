"""Why a transition was not taken: one line per transition, for the explorer's report.

The reasons come from what the search noted (a handler no message could be built for,
an invitation rule no caller and time fits), from :mod:`._reach` (transitions provably
out of reach: timeouts never due, ``delivery failed``), and from the labels: a branch of
``if`` that the values tried never took names its condition.
"""

from __future__ import annotations

from ucwa_flow.graph import Edge, NodeKind
from ucwa_flow.testing.explore._search import Exploration

__all__ = ["reasons"]


def reasons(found: Exploration) -> dict[Edge, str]:
    """A reason for every transition of the flow that no kept path took."""
    entered: set[str] = {
        obs.state
        for play, _ in found.plays
        for obs in play.observations
        if obs.state is not None and obs.state in found.flow.states
    }
    # a state left within the step that entered it (its enter calls a webhook, then goes
    # on) is no observation's state: a transition taken into it says it was entered
    entered |= {e.target.name for e in found.covered if e.target.kind is NodeKind.STATE}
    why: dict[Edge, str] = {}
    for edge in found.graph.edges:
        if edge not in found.covered:
            why[edge] = _reason(found, edge, entered)
    return why


def _reason(found: Exploration, edge: Edge, entered: set[str]) -> str:
    source = edge.source
    if source.kind is NodeKind.START:
        for label, text in found.entry_missed.items():
            if label == edge.label:
                return text
    if source.kind is NodeKind.STATE and source.name not in entered:
        return f"the state {source.name} is never entered"
    if edge in found.out_of_reach:
        return found.out_of_reach[edge]
    if edge in found.unbuildable:
        return found.unbuildable[edge]
    branch = _condition(edge.label)
    if branch:
        return branch
    spent = "; the search stopped there, finding nothing new" if found.budget_spent else ""
    failed = ""
    if found.errors:
        failed = f"; {len(found.errors)} could not be played, the first: {found.errors[0]}"
    return f"no explored path took it ({found.runs} paths played{spent}{failed})"


def _condition(label: str) -> str:
    for part in label.split(" → "):
        if part.startswith("if "):
            return f"its condition `{part[3:]}` was never true with the values tried"
        if part == "else":
            return "its `if` condition was never false with the values tried"
    return ""
