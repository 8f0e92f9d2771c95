"""Compare two compiled flows: :func:`diff_flows`.

States are matched by name first. A state of the old flow that the new one no longer has
and a state of the new flow that the old one did not have are then paired as one
**renamed** state when their contents are similar enough:

* the content of a state is the multiset of its lines as :func:`state_parts` describes
  them, each prefixed by its part (``message choice "1": goto ask_id``, ``timeout step 1:
  after 5m``, ``enter on enter: say "..."``); a ``goto`` to the state itself is written
  ``goto (itself)`` so a self-loop survives the rename;
* similarity is the Jaccard index of the two multisets (shared lines / all lines);
* pairs scoring at least :data:`RENAME_THRESHOLD` (0.6) are taken best first (ties in
  file order), each state in at most one pair.

Matched states (same name or renamed) are then compared part by part, the old flow
described with the renames applied, so a ``goto`` to a renamed state is not a change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from ucwa_flow.diff._describe import Part, flow_parts, state_parts
from ucwa_flow.diff._model import Change, FlowDiff, StateDiff
from ucwa_flow.flow import Flow

__all__ = ["RENAME_THRESHOLD", "diff_flows", "similarity"]

#: the smallest content similarity (0..1) at which a removed and an added state are one
#: renamed state
RENAME_THRESHOLD = 0.6


def diff_flows(old: Flow, new: Flow) -> FlowDiff:
    """What differs from ``old`` to ``new``: flow-wide changes and per-state changes."""
    removed = [name for name in old.states if name not in new.states]
    added = [name for name in new.states if name not in old.states]
    renames, scores = _renames(old, new, removed, added)
    states: list[StateDiff] = []
    back = {new_name: old_name for old_name, new_name in renames.items()}
    for name, state in new.states.items():
        new_parts = state_parts(state, new)
        old_name = back.get(name, name if name in old.states else None)
        if old_name is None:
            changes = _compare({}, new_parts)
            states.append(StateDiff(name, "added", changes=changes))
            continue
        old_parts = state_parts(old.states[old_name], old, renames)
        changes = _compare(old_parts, new_parts) + _handler_order(old_parts, new_parts)
        if old_name != name:
            states.append(StateDiff(name, "renamed", old_name, scores[old_name], changes))
        else:
            states.append(StateDiff(name, "changed" if changes else "same", name, None, changes))
    for name in removed:
        if name not in renames:
            changes = _compare(state_parts(old.states[name], old, renames), {})
            states.append(StateDiff(name, "removed", name, changes=changes))
    flow_changes = _compare(flow_parts(old, renames), flow_parts(new))
    return FlowDiff(old.name, new.name, flow_changes, tuple(states))


def similarity(a: Counter[str], b: Counter[str]) -> float:
    """The Jaccard index of two multisets of lines (1.0 for two empty ones)."""
    union = sum((a | b).values())
    return 1.0 if union == 0 else sum((a & b).values()) / union


def _content(flow: Flow, name: str) -> Counter[str]:
    lines: Counter[str] = Counter()
    for (section, key), part in state_parts(flow.states[name], flow, {name: "(itself)"}).items():
        lines.update(f"{section} {key}: {line}" for line in part)
    return lines


def _renames(
    old: Flow, new: Flow, removed: list[str], added: list[str]
) -> tuple[dict[str, str], dict[str, float]]:
    old_content = {name: _content(old, name) for name in removed}
    new_content = {name: _content(new, name) for name in added}
    candidates = [
        (similarity(old_content[o], new_content[n]), i, j, o, n)
        for i, o in enumerate(removed)
        for j, n in enumerate(added)
    ]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2]))
    renames: dict[str, str] = {}
    scores: dict[str, float] = {}
    taken: set[str] = set()
    for score, _, _, o, n in candidates:
        if score < RENAME_THRESHOLD:
            break
        if o in renames or n in taken:
            continue
        renames[o], scores[o] = n, score
        taken.add(n)
    return renames, scores


def _compare(
    old: Mapping[Part, tuple[str, ...]], new: Mapping[Part, tuple[str, ...]]
) -> tuple[Change, ...]:
    changes: list[Change] = []
    for part, lines in new.items():
        if part not in old:
            changes.append(Change(*part, "added", (), lines))
        elif old[part] != lines:
            aspects = ("value",) if part[0] in _VALUES else _aspects(old[part], lines)
            changes.append(Change(*part, "changed", old[part], lines, aspects))
    changes.extend(
        Change(*part, "removed", lines) for part, lines in old.items() if part not in new
    )
    return tuple(changes)


#: flow-wide sections whose parts are single values rather than action lists
_VALUES = ("flow", "settings", "variables", "invitation")


def _handler_order(
    old: Mapping[Part, tuple[str, ...]], new: Mapping[Part, tuple[str, ...]]
) -> tuple[Change, ...]:
    """A change when the handlers both versions have are tried in another order (the first
    handler that matches wins, so the order is behaviour)."""
    old_keys = [key for section, key in old if section == "message" and ("message", key) in new]
    new_keys = [key for section, key in new if section == "message" and ("message", key) in old]
    if old_keys == new_keys:
        return ()
    return (Change("message", "order", "changed", tuple(old_keys), tuple(new_keys), ("order",)),)


def _aspects(old: tuple[str, ...], new: tuple[str, ...]) -> tuple[str, ...]:
    """What differs between two descriptions of one part: ``texts`` (``say`` lines),
    ``gotos``, ``timing`` (a timeout's ``after``), ``actions`` (any other line)."""

    def pick(lines: tuple[str, ...], prefixes: tuple[str, ...]) -> list[str]:
        return [line.strip() for line in lines if line.strip().startswith(prefixes)]

    aspects = []
    for aspect, prefixes in (("texts", ("say ",)), ("gotos", ("goto ",)), ("timing", ("after ",))):
        if pick(old, prefixes) != pick(new, prefixes):
            aspects.append(aspect)
    other = ("say ", "goto ", "after ")
    rest_old = [line for line in old if not line.strip().startswith(other)]
    rest_new = [line for line in new if not line.strip().startswith(other)]
    if rest_old != rest_new or not aspects:
        aspects.append("actions")
    return tuple(aspects)
