"""Writing explored paths as conversation test scripts (the ``.test.yaml`` format).

The paths kept by the search are first reduced to a small set that still takes every
transition found (greedy: the path taking most transitions not yet taken first, the
shorter on a tie). Each becomes a scenario whose steps are the path's and whose
expectations are what the bot did when the path was played: every message each person
heard (exactly), the state after each step when it changed, the regex captures, and the
end.

Scenarios are grouped into *path families*: the state where the scenario's last step
acts (``entry`` for invitations that never reach a state). One file holds them all, a
comment heading each family, or, given a directory, each family gets a file of its own.
Texts are written as JSON strings, which YAML reads as double-quoted scalars.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ucwa_flow.flow import format_duration
from ucwa_flow.graph import Edge, Node, NodeKind
from ucwa_flow.testing import _script as s
from ucwa_flow.testing._script import DEFAULT_CALLER
from ucwa_flow.testing.explore._play import Observation, Play, WebMocks

__all__ = ["HEADER", "Written", "choose", "describe_edge", "family_of", "targets", "write_scripts"]

#: the first line of every script the explorer writes (it replaces only those)
HEADER = "# Written by `ucwa-flow test --explore"
_YAML_BREAKS = ("\x85", "\u2028", "\u2029", "\ufeff")


@dataclass(frozen=True, slots=True)
class Written:
    """A path chosen for a scenario and the transitions it is the first to take."""

    play: Play
    edges: frozenset[Edge]
    covers: tuple[Edge, ...]


def choose(plays: Iterable[tuple[Play, frozenset[Edge]]]) -> list[Written]:
    """A small set of plays that takes every transition any of them takes."""
    pool = list(plays)
    left = set().union(*(edges for _, edges in pool)) if pool else set()
    chosen: list[Written] = []
    while left:
        play, edges = max(pool, key=lambda item: (len(item[1] & left), -len(item[0].steps)))
        covers = tuple(sorted(edges & left, key=describe_edge))
        chosen.append(Written(play, edges, covers))
        left -= edges
    return chosen


def describe_edge(edge: Edge) -> str:
    """``menu -> handoff [no match 3+]``, as the coverage report names transitions."""
    label = f" [{edge.kind.value}: {edge.label}]" if edge.label else f" [{edge.kind.value}]"
    return f"{_node(edge.source)} -> {_node(edge.target)}{label}"


def _node(node: Node) -> str:
    return node.name if node.kind is NodeKind.STATE else f"({node.name})"


def family_of(play: Play) -> str:
    """The state where the path's last step acts (``entry`` before any state)."""
    before = play.observations[-2] if len(play.observations) > 1 else play.observations[0]
    return before.state or "entry"


def targets(flow_file: Path, out: Path, *, split: bool) -> tuple[list[Path], list[Path]]:
    """What writing to ``out`` replaces: (earlier explorer scripts, anything else).

    A file is the explorer's when it starts with its header; a directory's are the
    ``<flow>.*.test.yaml`` files in it (an earlier run's families, removed before
    writing so that none is left over). Anything else is never overwritten.
    """
    if not split:
        candidates = [out] if out.exists() else []
    elif out.is_dir():
        candidates = sorted(out.glob(f"{_stem(flow_file)}.*.test.yaml"))
    else:
        return [], [out] if out.exists() else []  # a file where a directory should be
    ours = [path for path in candidates if path.is_file() and _is_ours(path)]
    return ours, [path for path in candidates if path not in ours]


def write_scripts(
    flow_file: Path, chosen: list[Written], web: WebMocks, out: Path, *, split: bool
) -> list[Path]:
    """Write the scripts; ``out`` is a file, or a directory when ``split`` (see
    :func:`targets`: the caller checks that nothing else is in the way)."""
    families: dict[str, list[Written]] = {}
    for item in chosen:
        families.setdefault(family_of(item.play), []).append(item)
    if not split:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(_script(flow_file, out.parent, families, web), encoding="utf-8")
        return [out]
    out.mkdir(parents=True, exist_ok=True)
    for old in targets(flow_file, out, split=True)[0]:
        old.unlink()
    stem = _stem(flow_file)
    written = []
    for family, items in families.items():
        path = out / f"{stem}.{_slug(family)}.test.yaml"
        path.write_text(_script(flow_file, out, {family: items}, web), encoding="utf-8")
        written.append(path)
    return written


def _stem(flow_file: Path) -> str:
    return flow_file.name.removesuffix(".flow.yaml").removesuffix(".yaml")


def _is_ours(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8") as file:
            return file.readline().startswith(HEADER)
    except (OSError, UnicodeDecodeError):
        return False


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-") or "family"


def _script(
    flow_file: Path, folder: Path, families: dict[str, list[Written]], web: WebMocks
) -> str:
    relative = os.path.relpath(flow_file.resolve(), folder.resolve())
    lines = [
        f"{HEADER} {flow_file.name}`: conversations that together",
        "# take every transition the explorer could reach, recording what the flow does today.",
        "# Review the expectations: they are the flow's current behaviour, right or wrong.",
        "",
        f"flow: {_text(relative)}",
        "",
        "scenarios:",
    ]
    names: set[str] = set()
    for family, items in families.items():
        lines.append(f"  # -- {family} " + "-" * max(0, 80 - len(family) - 8))
        for item in items:
            lines += _scenario(family, item, web, names)
    return "\n".join(lines) + "\n"


def _scenario(family: str, item: Written, web: WebMocks, names: set[str]) -> list[str]:
    play = item.play
    ordered = sorted(item.covers, key=lambda edge: edge.source.name != family)
    labels = [edge.label for edge in ordered if edge.label]
    name = f"{family}: {labels[0]}" if labels else f"{family}: start"
    base, n = name, 2
    while name in names:
        name, n = f"{base} ({n})", n + 1
    names.add(name)
    lines = [f"  - name: {_text(name)}", "    # takes first:"]
    lines += [f"    #   {describe_edge(edge)}" for edge in item.covers]
    if play.setup.caller != DEFAULT_CALLER:
        lines.append(f"    caller: {play.setup.caller}")
    if play.setup.at is not None:
        lines.append(f"    at: {_text(play.setup.at.isoformat())}")
    lines += _webhooks(play, web)
    lines.append("    steps:")
    previous: Observation | None = None
    caller = play.setup.caller.lower()
    lines += _expectations(play.observations[0], None, caller)
    for step, seen in zip(play.steps, play.observations[1:], strict=False):
        lines.append(f"      - {_step(step)}")
        lines += _expectations(seen, previous or play.observations[0], caller)
        previous = seen
    return lines


def _webhooks(play: Play, web: WebMocks) -> list[str]:
    lines: list[str] = []
    for url, body in web.bodies.items():
        if url not in play.calls:
            continue
        for answer in (*play.setup.answer_list(url), "ok"):
            lines.append(f"      - url: {_text(url)}")
            if answer == "fail":
                lines.append("        status: 500")
                continue
            lines.append("        status: 200")
            lines.append(f"        json: {json.dumps(body, ensure_ascii=False)}")
            if answer == "slow":
                lines.append(f"        delay: {format_duration(web.timeouts[url] / 2)}")
    return ["    webhooks:", *lines] if lines else []


def _step(step: s.Step) -> str:
    if isinstance(step, s.Invite):
        if step.subject:
            text = "" if step.text is None else f"text: {_text(step.text)}, "
            return f"invite: {{{text}subject: {_text(step.subject)}}}"
        return "invite" if step.text is None else f"invite: {_text(step.text)}"
    if isinstance(step, s.Say) and step.who is not None:  # an agent a handoff bridged
        return f"say: {{as: {step.who}, text: {_text(step.text)}}}"
    if isinstance(step, s.Say):
        return f"say: {_text(step.text)}"
    if isinstance(step, s.Wait):
        return f"wait: {step.spelled}"
    if isinstance(step, s.HangUp):
        return "hang_up" if step.who is None else f"hang_up: {step.who}"
    if isinstance(step, s.Accept):
        return "accept" if step.who is None else f"accept: {step.who}"
    if isinstance(step, s.Decline):
        return "decline" if step.who is None else f"decline: {step.who}"
    raise TypeError(f"not an acting step: {step!r}")


def _expectations(seen: Observation, before: Observation | None, caller: str) -> list[str]:
    lines: list[str] = []
    for person, texts in seen.heard.items():
        to = "" if person == caller else f", to: {_text(person)}"
        lines += [f"      - expect: {{say: {_text(text)}{to}}}" for text in texts]
    captured = {name: seen.variables[name] for name in seen.captures if name in seen.variables}
    if captured and not seen.ended:
        lines.append(f"      - expect: {{variable: {_json(captured)}}}")
    if seen.ended:
        if before is None or not before.ended:
            lines.append("      - expect: ended")
    elif seen.state is not None and (before is None or before.state != seen.state):
        lines.append(f"      - expect: {{state: {seen.state}}}")
    return lines


def _text(text: str) -> str:
    """A YAML double-quoted scalar: JSON, with the characters YAML reads as line breaks
    (and JSON leaves as they are) escaped."""
    quoted = json.dumps(text, ensure_ascii=False)
    for char in _YAML_BREAKS:
        quoted = quoted.replace(char, f"\\u{ord(char):04x}")
    return quoted


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)
