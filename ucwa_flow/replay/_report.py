"""Replay results as people and CI read them.

* :func:`summary_lines`: how many conversations, unchanged and diverged, and where they
  first diverge, grouped by state and reason;
* :func:`detail_lines`: one block per diverged conversation: where, what was expected and
  what the flow did instead, why the replay stopped early, the variables that differ;
  ``verbose`` adds the whole conversation as a diff (recorded ``-``, replayed ``+``);
* :func:`as_json`: all of it as one JSON-ready object (``--json``).
"""

from __future__ import annotations

import difflib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

from ucwa_flow.replay._compare import Compare, Item, Result
from ucwa_flow.replay._driver import Stop

__all__ = ["as_json", "detail_lines", "reason", "summary_lines"]

_KIND = {"reply": "reply changed", "state": "path changed", "ended": "ending changed"}
_STOP = {
    "answer_unknown": "caller's answer unknown",
    "outcome_unknown": "outcome unknown",
    "declined": "declined by the invitation policy",
    "ended": "ended before the caller was done",
}


def reason(result: Result) -> str:
    """Why ``result`` diverged, in a few words (``unchanged`` when it did not)."""
    if not result.diverged:
        return "unchanged"
    if result.stop is not None and result.stop.kind in _STOP:
        return _STOP[result.stop.kind]
    if result.first is not None:
        return _KIND[result.first.kind]
    return "variables changed"


def summary_lines(results: Sequence[Result], flow: str, how: Compare) -> list[str]:
    diverged = [r for r in results if r.diverged]
    partial = sum(1 for r in results if r.partial and not r.diverged)
    n = len(results)
    head = (
        f"Replayed {n} conversation{'s' if n != 1 else ''} against {flow} (compare {how}): "
        f"{n - len(diverged)} unchanged, {len(diverged)} diverged."
    )
    lines = [head]
    if partial:
        lines.append(
            f"({partial} replayed only up to a caller's message kept secret, unchanged so far.)"
        )
    if diverged:
        lines.append("Where they first diverge, by state:")
        groups: dict[str, Counter[str]] = defaultdict(Counter)
        for result in diverged:
            groups[result.where][reason(result)] += 1
        width = max(len(state) for state in groups)
        for state, reasons in sorted(groups.items(), key=lambda kv: (-sum(kv[1].values()), kv[0])):
            shown = ", ".join(f"{why} {count}" for why, count in reasons.most_common())
            lines.append(f"  {state.ljust(width)}  {sum(reasons.values()):>5}  {shown}")
    return lines


def detail_lines(result: Result, *, verbose: bool = False) -> Iterator[str]:
    """The block of one diverged conversation."""
    rec = result.recording
    who = rec.caller_uri or "(unknown caller)"
    when = f"  {rec.started.isoformat(timespec='seconds')}" if rec.started else ""
    yield f"--- {rec.id}  {who}{when}  ({rec.source})"
    first = result.first
    inputs = [e for e in rec.inputs if e.kind in ("caller", "left")]
    if first is not None:
        after = _after(inputs, first.segment)
        yield f"diverged in {first.state or '(start)'}{after}: {_KIND[first.kind]}"
        yield f"  recorded: {_text(first.expected)}"
        yield f"  replayed: {_text(first.actual)}"
    if result.stop is not None:
        yield _stop_line(result.stop)
    for name, (expected, actual) in result.variables.items():
        yield f"variable {name}: recorded {_json(expected)}, replayed {_json(actual)}"
    if verbose:
        yield from _transcript_diff(result)


def _after(inputs: list[Any], segment: int) -> str:
    if segment >= len(inputs):
        return ", before the caller said anything"
    event = inputs[segment]
    if event.kind == "left":
        return f", after the caller left (+{event.at:g}s)"
    return f", after the caller's message {_quote(event.text)} (+{event.at:g}s)"


def _stop_line(stop: Stop) -> str:
    at = f"+{stop.at:g}s"
    if stop.kind == "answer_unknown":
        return (
            f"diverged, caller's answer unknown at {at}: the flow now waits in {stop.state}, "
            f"the caller answered {_quote(stop.detail)} in {stop.expected}"
        )
    if stop.kind == "outcome_unknown":
        return f"stopped at {at} in {stop.state}: the recording has no outcome for {stop.detail}"
    if stop.kind == "declined":
        return f"the flow's invitation policy now declines {stop.detail or 'the caller'}"
    if stop.kind == "ended":
        return f"the flow ended the conversation before the caller said {_quote(stop.detail)}"
    return f"replayed up to {at} only: the caller's next message was kept secret"


def _transcript_diff(result: Result) -> Iterator[str]:
    rec = result.recording
    inputs = [e for e in rec.inputs if e.kind in ("caller", "left")]
    recorded = _transcript(result.recorded, inputs)
    replayed = _transcript(result.replayed, inputs)
    diff = difflib.unified_diff(recorded, replayed, "recorded", "replayed", lineterm="", n=1000)
    for line in list(diff)[2:]:
        if not line.startswith("@@"):
            # a reply of several lines: each line under the first, marked as it is
            first, *more = line.split("\n")
            yield "  " + first
            for rest in more:
                yield "  " + line[:1] + rest


def _transcript(segments: list[list[Item]], inputs: list[Any]) -> list[str]:
    lines: list[str] = []
    for i, segment in enumerate(segments):
        if i < len(inputs):
            event = inputs[i]
            lines.append("caller: " + ("(leaves)" if event.kind == "left" else event.text))
        for kind, text in segment:
            if kind == "bot":
                lines.append("bot:    " + text.replace("\n", "\n        "))
            elif kind == "state":
                lines.append(f"state:  {text}")
            else:
                lines.append("ended:  by the bot")
    return lines


def as_json(results: Sequence[Result], flow: str, how: Compare) -> dict[str, Any]:
    """Everything, JSON-ready: counts, the groups by state, one object per conversation."""
    diverged = [r for r in results if r.diverged]
    groups: dict[str, dict[str, int]] = defaultdict(dict)
    for result in diverged:
        why = reason(result)
        groups[result.where][why] = groups[result.where].get(why, 0) + 1
    return {
        "flow": flow,
        "compare": str(how),
        "conversations": len(results),
        "unchanged": len(results) - len(diverged),
        "diverged": len(diverged),
        "partial": sum(1 for r in results if r.partial),
        "by_state": dict(sorted(groups.items())),
        "results": [_result(r) for r in results],
    }


def _result(result: Result) -> dict[str, Any]:
    rec, first, stop = result.recording, result.first, result.stop
    return {
        "id": rec.id,
        "source": rec.source,
        "caller": rec.caller_uri,
        "started": rec.started.isoformat() if rec.started else None,
        "status": "diverged" if result.diverged else "unchanged",
        "partial": result.partial,
        "reason": reason(result),
        "where": result.where if result.diverged else None,
        "first": None
        if first is None
        else {
            "kind": first.kind,
            "state": first.state,
            "after_input": first.segment + 1,
            "recorded": first.expected,
            "replayed": first.actual,
        },
        "stop": None
        if stop is None
        else {
            "kind": stop.kind,
            "at": stop.at,
            "state": stop.state,
            "expected_state": stop.expected,
            "detail": stop.detail,
        },
        "variables": {
            name: {"recorded": expected, "replayed": actual}
            for name, (expected, actual) in result.variables.items()
        },
    }


def _text(text: str | None) -> str:
    if text is None:
        return "(nothing)"
    return text.replace("\n", "\n            ")


def _quote(text: str) -> str:
    shown = text if len(text) <= 60 else text[:57] + "..."
    return json.dumps(shown, ensure_ascii=False)


def _json(value: Any) -> str:
    return (
        value
        if isinstance(value, str) and value == "(not set)"
        else json.dumps(value, ensure_ascii=False, sort_keys=True)
    )
