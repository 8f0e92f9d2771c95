"""Loading a flow does work linear in its size (issue 17).

The reachability checks (F103, F104) used to search from every state (quadratic: 2,000
states took 10 s to validate); F101 built a tuple of every state for each goto; F106 read
the whole flow once per sub-flow; merging an included file scanned all its positions for
each of its states. Work is counted, never timed: how many times a state's targets are
read, and how many lines of ``ucwa_flow.flow`` run (``sys.settrace``) for a flow and for
one four times its size. Linear work grows about four times; quadratic work, sixteen.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import pytest

import ucwa_flow.flow
from ucwa_flow.flow import _checks, load_flow, load_flow_text
from ucwa_flow.flow._api import _pruned_checks
from ucwa_flow.flow._builder import build_flow
from ucwa_flow.flow._checks import run_checks
from ucwa_flow.flow._loader import read_document
from ucwa_flow.flow._parts import assemble

FLOW_PACKAGE = str(Path(ucwa_flow.flow.__file__).parent)


def _chain(states: int) -> str:
    # a ring of states with no way out: every state is reported as one that can get stuck,
    # the case that made the check search the whole ring once per state
    lines = ["version: 1", "name: ring", "start: s0", "states:"]
    for i in range(states):
        lines += [
            f"  s{i}:",
            "    messages:",
            f"      - keywords: [next{i}]",
            f"        goto: s{(i + 1) % states}",
        ]
    return "\n".join(lines) + "\n"


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counted = [0]
    targets = _checks._targets

    def counting(state: _checks.State) -> set[str]:
        counted[0] += 1
        return targets(state)

    monkeypatch.setattr(_checks, "_targets", counting)
    return counted


@pytest.mark.parametrize("states", [100, 400])
def test_reading_each_states_targets_a_bounded_number_of_times(
    reads: list[int], states: int
) -> None:
    loaded = load_flow_text(_chain(states), "ring.flow.yaml")
    stuck = [d for d in loaded.diagnostics if d.code == "F104"]
    assert len(stuck) == states  # the check still finds every one
    assert reads[0] == states  # once each (it was once per state searched from)


# --- every stage, by lines run ----------------------------------------------------------


def _steps(work: Callable[[], Any]) -> int:
    """How many lines of ``ucwa_flow.flow``'s modules ``work`` runs."""
    count = [0]

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            count[0] += 1
        return local

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename.startswith(FLOW_PACKAGE):
            return local
        return None

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        work()
    finally:
        sys.settrace(previous)
    return count[0]


def _subflow(k: int) -> str:
    return f"""\
version: 1
subflow: ask{k}
params:
  question: {{default: "Sure?"}}
returns: [answer]
variables: {{answer: null}}
start: ask
states:
  ask:
    enter: [{{say: "{{{{ question }}}} ({k})"}}]
    messages:
      - match: '^(?P<word{k}>\\w+)$'
        do: [{{return: {{answer: "{{{{ match.word{k} }}}}"}}}}]
    no_match: [{{say: Please answer.}}]
"""


def _included(states: int) -> str:
    lines = ["states:"]
    for i in range(states):
        lines += [
            f"  x{i}:",
            f"    enter: [{{say: 'Included {i}, {{{{ caller.name }}}}'}}]",
            "    messages:",
            f"      - {{keywords: [back], goto: x{(i - 1) % states}}}",
            f"      - {{any: true, goto: m{i}}}",
        ]
    return "\n".join(lines) + "\n"


def _flow(states: int, *, broken: bool = False) -> str:
    """A flow of ``states`` menu states with most of the language: templates, regexes
    with captures, keywords, choices, set, if, webhook, invite, timeouts, no_match
    ladders, global commands, goto back, a call of one of ``states // 10`` sub-flows
    every tenth state, and as many states again from an included file. ``broken`` adds
    a schema error to every state (the pruned checks)."""
    lines = [
        "version: 1",
        "name: big",
        "start: m0",
        "include: [more.states.yaml]",
        "variables: {last: null, misses: 0, answer: null, result: null}",
        "commands:",
        "  help: {keywords: [help], say: 'Type next.'}",
        "  home: {keywords: [home], goto: m0}",
        "states:",
    ]
    for i in range(states):
        nxt, prv = (i + 1) % states, (i - 1) % states
        lines += [
            f"  m{i}:",
            "    enter:",
            f"      - say: 'Menu {i} for {{{{ caller.name }}}}'",
            "      - if: misses > 2",
            "        then: [{say: 'Type help.'}]",
            "        else: [{set: {misses: 0}}]",
        ]
        if i % 10 == 0:
            lines.append(
                f"      - call: {{flow: ask{i // 10}.subflow.yaml, returns: {{answer: answer}}}}"
            )
        if broken:
            lines.append("      - sya: oops")
        lines += [
            "    messages:",
            f"      - match: '^(?P<code{i}>[A-Z]{{2}}\\d{{{i % 5 + 1}}})$'",
            f"        set: {{last: '{{{{ match.code{i} }}}}'}}",
            f"        goto: m{nxt}",
            f"      - {{keywords: [back, previous{i}], goto: back}}",
            f"      - {{choice: [1, one], goto: x{i}}}",
            f"      - match: 'web{i}'",
            "        do:",
            "          - webhook:",
            f"              url: 'https://api.example/{{{{ last | urlsegment }}}}/{i}'",
            "              result: result",
            "              success: [{say: 'ok {{ result.id }}'}]",
            "              failure: [{say: failed}]",
            f"      - match: 'agent{i}'",
            "        do:",
            "          - invite:",
            "              to: sip:agent@example.com",
            "              declined: [{say: busy}]",
            "              no_answer: [{say: nobody}]",
            "    no_match:",
            "      - say: Sorry?",
            f"      - goto: m{prv}",
            "    timeouts:",
            "      - after: 5m",
            "        do: [stop]",
        ]
    return "\n".join(lines) + "\n"


def _write(folder: Path, states: int, *, broken: bool = False) -> Path:
    folder.mkdir()
    for k in range(states // 10):
        (folder / f"ask{k}.subflow.yaml").write_text(_subflow(k), "utf-8")
    (folder / "more.states.yaml").write_text(_included(states), "utf-8")
    path = folder / "big.flow.yaml"
    path.write_text(_flow(states, broken=broken), "utf-8")
    return path


SMALL, LARGE = 20, 80  # four times the states (and sub-flows, and included states)


def _stages(path: Path) -> Iterator[tuple[str, Callable[[], Any]]]:
    text = path.read_text("utf-8")
    document, problems = read_document(text, str(path))
    assert document is not None, problems
    yield "yaml", lambda: read_document(text, str(path))
    yield "include and call", lambda: assemble(read_document(text, str(path))[0], path.parent)  # type: ignore[arg-type]
    parts = assemble(document, path.parent)
    assert not parts.diagnostics, parts.diagnostics
    flow, found = build_flow(document, parts)
    assert not found, found
    yield "build", lambda: build_flow(document, parts)
    yield "checks", lambda: run_checks(flow, document)


def test_every_stage_of_loading_does_work_linear_in_the_flows_size(tmp_path: Path) -> None:
    small = dict(_stages(_write(tmp_path / "small", SMALL)))
    large = dict(_stages(_write(tmp_path / "large", LARGE)))
    assert load_flow(tmp_path / "large" / "big.flow.yaml").diagnostics == []  # a valid flow
    for stage, work in small.items():
        ratio = _steps(large[stage]) / _steps(work)
        assert ratio < 4.6, f"{stage}: {ratio:.1f} times the work for four times the flow"


def test_each_check_does_work_linear_in_the_flows_size(tmp_path: Path) -> None:
    flows = {}
    for size in (SMALL, LARGE):
        path = _write(tmp_path / str(size), size)
        document, _ = read_document(path.read_text("utf-8"), str(path))
        assert document is not None
        flow, _ = build_flow(document, assemble(document, path.parent))
        flows[size] = (flow, document)
    for check in _checks.CHECKS:
        small = _steps(lambda c=check: list(c(*flows[SMALL])))  # type: ignore[misc]
        large = _steps(lambda c=check: list(c(*flows[LARGE])))  # type: ignore[misc]
        assert large < 4.6 * small + 50, f"{check.__name__}: {small} -> {large} lines run"


def test_the_checks_of_a_flow_with_schema_errors_do_work_linear_in_its_size(
    tmp_path: Path,
) -> None:
    steps = []
    for size in (SMALL, LARGE):
        path = _write(tmp_path / str(size), size, broken=True)
        result = load_flow(path)
        assert sum(d.code == "S001" for d in result.diagnostics) == size  # one per state
        document, _ = read_document(path.read_text("utf-8"), str(path))
        assert document is not None
        parts = assemble(document, path.parent)
        steps.append(_steps(lambda d=document, p=parts: _pruned_checks(d, p)))  # type: ignore[misc]
    assert steps[1] / steps[0] < 4.6
