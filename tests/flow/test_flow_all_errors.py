"""Schema errors and F problems come out in one run, without artefacts of the pruning.

A flow with a schema error is checked on a copy with the invalid parts cut out; these
tests pin that both kinds are reported at their exact positions, that nothing is reported
that only the cut caused (each such case is paired with its repaired file, to show the
repaired file is clean and the suppression is what keeps the broken one quiet), and that
random small mutations of every known flow never crash the loader.
"""

from __future__ import annotations

import random
import textwrap
from collections import Counter
from pathlib import Path

from ucwa_flow.flow import Diagnostic, FlowFileError, LoadResult, load_flow, load_flow_text

HERE = Path(__file__).parent
CORPUS = sorted((HERE / "broken").glob("*.flow.yaml")) + sorted(
    (HERE.parents[1] / "flows").glob("*.flow.yaml")
)


def _found(text: str) -> list[tuple[str, int, int]]:
    result = load_flow_text(textwrap.dedent(text), "f.flow.yaml")
    return [(d.code, d.line, d.col) for d in result.diagnostics]


def _codes(text: str) -> list[tuple[str, int, int]]:
    return [c for c in _found(text) if c[0].startswith("F")]


def test_a_misspelt_key_and_a_missing_goto_target_are_reported_together() -> None:
    text = """\
        version: 1
        name: both
        start: menu
        states:
          menu:
            enter:
              - sya: hello
            messages:
              - keywords: [help]
                goto: missing_state
              - any: true
                goto: done
          done:
            enter: [stop]
        """
    assert _found(text) == [("S001", 7, 9), ("F101", 10, 15)]
    message = load_flow_text(textwrap.dedent(text)).errors[1].message
    assert message == "goto 'missing_state': there is no state named 'missing_state'"


def test_f_problems_in_the_same_state_and_a_bad_setting_are_reported() -> None:
    text = """\
        version: 1
        name: both
        start: menu
        settings:
          idle_timeout: soon
        states:
          menu:
            enter:
              - say: "{{ nobody }}"
              - goto: menu
              - say: never
            messages:
              - match: '[open'
                goto: menu
        """
    assert _found(text) == [
        ("S004", 5, 17),
        ("F106", 9, 14),
        ("F118", 11, 14),
        ("F105", 13, 16),
    ]


def test_a_bad_start_still_reports_unknown_gotos() -> None:
    text = """\
        version: 1
        name: no-start
        start: [menu]
        states:
          menu:
            enter: [{goto: nowhere}]
        """
    assert _found(text) == [("S003", 3, 8), ("F101", 6, 20)]


_ARTEFACTS = """\
    version: 1
    name: artefacts
    start: menu
    states:
      menu:
        messages:
          - keywords: [help]
            {say}: sorry
            goto: helpdesk
          - any: true
            say: "{{{{ count }}}}"
            goto: other
        timeouts:
          - after: 1m
            do:
              - set: {{count: 1}}
              {dash}say: one action each
              - stop
      helpdesk:
        enter: [stop]
      other:
        {enter}: [stop]
    """


def test_cut_parts_cause_no_unknown_unreachable_or_unset_reports() -> None:
    broken = _ARTEFACTS.format(say="sya", dash="  ", enter="on_enter")
    repaired = _ARTEFACTS.format(say="say", dash="- ", enter="enter")
    assert _found(repaired) == []
    # Cut: the handler leading to helpdesk (F103), the state `other` (F101 for its goto,
    # F104 for menu), the action setting `count` (F106).
    assert _found(broken) == [("S001", 8, 9), ("S005", 16, 13), ("S001", 22, 5)]


def test_cuts_cause_no_shifted_dead_action_or_timeout_order_reports() -> None:
    text = """\
        version: 1
        name: siblings
        start: menu
        states:
          menu:
            enter:
              - goto: menu
              - {bad}: x
              - say: after
            timeouts:
              - after: 3m
                do: [stop]
              - after: {later}
                do: [stop]
              - after: 2m
                do: [stop]
        """
    repaired = text.format(bad="say", later="1m")
    assert _codes(repaired) == [("F118", 8, 14), ("F116", 13, 16)]
    # Cut: the dead action itself and the step the third one is compared with; reporting
    # the next action or step instead would be a problem the repaired file does not have.
    assert _found(text.format(bad="sya", later="[1m]")) == [("S001", 8, 9), ("S003", 13, 16)]


def test_cut_handlers_cause_no_shadowing_reports() -> None:
    text = """\
        version: 1
        name: shadow
        start: menu
        states:
          menu:
            messages:
              - any: true
                {say}: first
              - any: true
                say: second
              - keywords: [x]
                say: third
            timeouts:
              - after: 1m
                do: [stop]
        """
    assert _codes(text.format(say="say")) == [("F108", 9, 9), ("F108", 11, 9)]
    assert _found(text.format(say="sya")) == [("S001", 8, 9)]


def test_graph_rules_stay_when_the_cut_cannot_change_the_graph() -> None:
    text = """\
        version: 1
        name: graph
        description: [not, a, text]
        start: menu
        variables:
          count: 0
        states:
          menu:
            enter: [stop]
          lost:
            enter: [stop]
        """
    assert _found(text) == [("S003", 3, 14), ("F103", 10, 3)]


def test_no_f_problems_when_no_valid_copy_exists() -> None:
    text = """\
        version: 1
        name: nothing
        start: menu
        states: [menu]
        """
    assert _found(text) == [("S003", 4, 9)]


# --- fuzzing -------------------------------------------------------------------------

EXAMPLES = sorted((HERE.parents[1] / "flows").glob("*.flow.yaml"))
_VALUES = ("[1, 2]", "null", "{}", "5", '""', "stop", "[stop]", "{goto: x}", "true", "[]")
_PUNCTUATION = ("{", "}", "[", "]", ":", ",", "- ", "? ", ": ", "|", ">", "#", "'", '"', "%", "@")
_CONTROL = ("\x00", "\x01", "\x07", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\ud800", "\r", "\t")
_KEYS = ("{a: 1}", "[a, {b: 1}]", "? {x: y}", "[1, 2]", "{}", "null", "true", "2024-01-02")


#: how often each edit of `_edit` is chosen: mostly edits that keep the YAML readable
_WEIGHTS = (3, 2, 3, 2, 1, 2, 1, 2, 1, 1, 1)


def _edit(lines: list[str], rng: random.Random, operation: int) -> None:
    """One small edit of ``lines`` in place (the kinds that once escaped the loader too)."""
    i = rng.randrange(len(lines))
    line = lines[i]
    key, colon, value = line.partition(":")
    name = key.strip(" -")
    at = rng.randint(0, len(line))
    if operation == 0 and colon:
        lines[i] = f"{key}: {rng.choice(_VALUES)}"
    elif operation == 1 and name:
        lines[i] = key.replace(name, name[:-1] or "x", 1) + colon + value
    elif operation == 2:
        del lines[i]
    elif operation == 3:
        lines.insert(i, line)
    elif operation == 4:
        lines[i], lines[-1] = lines[-1], line
    elif operation == 5:  # stray YAML punctuation
        lines[i] = line[:at] + rng.choice(_PUNCTUATION) + line[at:]
    elif operation == 6:  # control characters, a lone surrogate, CR, tab
        lines[i] = line[:at] + rng.choice(_CONTROL) + line[at:]
    elif operation == 7:  # indentation shifted either way
        shift = rng.choice((-4, -2, -1, 1, 2, 4))
        lines[i] = " " * shift + line if shift > 0 else line[min(-shift, _indent(line)) :]
    elif operation == 8:  # an anchor
        lines[i] = f"{key}: &a{value}" if colon else f"{line} &a"
    elif operation == 9:  # an alias
        lines[i] = f"{key}: *a" if colon else f"{key[: len(key) - len(key.lstrip())]}- *a"
    else:  # a mapping, a list, null, a boolean or a date as a key
        indent = key[: len(key) - len(key.lstrip(" -"))]
        lines[i] = f"{indent}{rng.choice(_KEYS)}: {value.strip() or 'x'}"


def _mutated(text: str, rng: random.Random, *, kinds: int = len(_WEIGHTS)) -> str:
    """``text`` with one to three small line edits, of the first ``kinds`` kinds."""
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        if not lines:
            break
        _edit(lines, rng, rng.choices(range(kinds), _WEIGHTS[:kinds])[0])
    return "\n".join(lines) + rng.choice(("\n", "", "\n\n"))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _excerpt(text: str, rng: random.Random) -> str:
    """A few lines of ``text`` with the lines that hold them in place (the keys above them
    at smaller indentation) and the flow's version, name and start: the rest is deleted.

    Reading YAML is pure Python (about 0.15 ms a line), so mutating whole files would
    take minutes for 10,000 mutations; an excerpt keeps each one near a millisecond and
    still puts the edited lines where they belong in a flow.
    """
    lines = text.splitlines()
    first = rng.randrange(len(lines))
    level = _indent(lines[first])
    piece = [lines[first]]
    for line in lines[first + 1 : first + rng.randint(1, 12)]:
        if line.strip() and _indent(line) < level:
            break  # the end of the block the excerpt started in
        piece.append(line)
    head = [line for line in lines[:first] if line.startswith(("version:", "name:", "start:"))]
    holders: list[str] = []
    for line in reversed(lines[:first]):
        if line.strip() and not line.lstrip().startswith("#") and _indent(line) < level:
            holders.insert(0, line)
            level = _indent(line)
    return "\n".join(head + [line for line in holders if line not in head] + piece)


def _assert_located(text: str, result: LoadResult) -> None:
    last_line = len(text.splitlines()) + 1
    for d in result.diagnostics:
        assert isinstance(d, Diagnostic), d
        assert d.file == "mutant.flow.yaml", (text, d)
        assert 1 <= d.line <= last_line, (text, d)
        assert d.col >= 1, (text, d)
        assert "\n" not in d.message, (text, d)
    if result.flow is None:
        assert result.errors, text


def test_random_mutations_of_every_known_flow_never_crash_the_loader(tmp_path: Path) -> None:
    assert len(CORPUS) >= 45
    rng = random.Random(20261121)
    target = tmp_path / "mutant.flow.yaml"
    with_schema_errors = 0
    for _ in range(400):
        source = rng.choice(CORPUS)
        # values, keys, lines lost, doubled or moved: edits that keep YAML readable
        target.write_text(_mutated(source.read_text("utf-8"), rng, kinds=5), "utf-8")
        try:
            result = load_flow(target)
        except FlowFileError:
            continue
        assert all(isinstance(d, Diagnostic) for d in result.diagnostics)
        with_schema_errors += any(d.code.startswith("S") for d in result.diagnostics)
    assert with_schema_errors > 50  # the mutations do reach the pruning


def test_10000_mutations_of_the_example_flows_all_end_in_located_diagnostics() -> None:
    # issue 10: a NUL byte (ruamel's ReaderError) and a mapping used as a key (unhashable
    # CommentedMap) escaped the loader as exceptions in 105 of 3,000 mutated examples.
    assert len(EXAMPLES) >= 5
    sources = [path.read_text("utf-8") for path in EXAMPLES]
    rng = random.Random(10_000)
    stages: Counter[str] = Counter()
    for _ in range(10_000):
        text = _mutated(_excerpt(rng.choice(sources), rng), rng)
        result = load_flow_text(text, "mutant.flow.yaml")
        _assert_located(text, result)
        stages.update({d.code[0] for d in result.diagnostics})
        stages["loaded"] += result.flow is not None
    # every stage of the loader is reached many times: YAML, schema, semantics, and success
    assert min(stages[stage] for stage in ("Y", "S", "F")) > 1000, stages
    assert stages["loaded"] > 50, stages


def test_one_broken_line_adds_no_f_problem_its_repair_would_not_have() -> None:
    # Break one line of a flow without S errors (a key misspelt, a value of the wrong
    # shape); the repair is the original. Off the broken line, every F problem reported
    # must be one the original reports, word for word.
    rng = random.Random(7)
    sources = [  # flows without Y or S errors (the mixed-* files have some)
        p
        for p in CORPUS
        if not any(d.code[0] in "YS" for d in load_flow_text(p.read_text("utf-8")).diagnostics)
    ]
    compared = 0
    for _ in range(300):
        text = rng.choice(sources).read_text("utf-8")
        original = load_flow_text(text, "f")
        lines = text.splitlines()
        i = rng.randrange(len(lines))
        key, colon, value = lines[i].partition(":")
        name = key.strip(" -")
        if not colon or not name or name.startswith("#"):
            continue
        if rng.random() < 0.5:
            lines[i] = key.replace(name, name + "x", 1) + colon + value
        else:
            lines[i] = f"{key}: {rng.choice(_VALUES)}"
        broken = load_flow_text("\n".join(lines) + "\n", "f")
        if not any(d.code.startswith("S") for d in broken.diagnostics):
            continue
        compared += 1
        repaired = {d for d in original.diagnostics if d.line != i + 1}
        for diagnostic in broken.diagnostics:
            # F130 is reported once per unreadable file, at its first call: breaking that
            # call moves the report to the next one (the same problem)
            moved = diagnostic.code == "F130" and any(
                d.code == "F130" for d in original.diagnostics
            )
            if diagnostic.code.startswith("F") and diagnostic.line != i + 1 and not moved:
                assert diagnostic in repaired, f"{lines[i]!r}: {diagnostic}"
    assert compared > 100
