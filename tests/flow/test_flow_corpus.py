"""The broken-flow corpus: each file declares the diagnostics it must produce, exactly.

A file's first line is ``# expect: CODE@LINE:COL, ...``; the test loads the file and
compares the set of (code, line, col) of every diagnostic with that declaration. A problem
in a file the flow includes or calls (under ``broken/parts/``) is written
``CODE@parts/NAME.yaml:LINE:COL``: it must be reported in that file, at that place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ucwa_flow.flow import RULES, load_flow

BROKEN = Path(__file__).parent / "broken"
FILES = sorted(BROKEN.glob("*.flow.yaml"))
_EXPECT = re.compile(r"([YSF]\d{3})@(?:([\w./-]+):)?(\d+):(\d+)")


def _expected(path: Path) -> set[tuple[str, str, int, int]]:
    header = path.read_text("utf-8").splitlines()[0]
    assert header.startswith("# expect:"), f"{path.name} must start with '# expect:'"
    return {
        (code, str(path.parent / file) if file else str(path), int(line), int(col))
        for code, file, line, col in _EXPECT.findall(header)
    }


def test_corpus_is_large_enough() -> None:
    assert len(FILES) >= 30


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_broken_flow_reports_exactly_its_codes(path: Path) -> None:
    result = load_flow(path)
    found = {(d.code, d.file, d.line, d.col) for d in result.diagnostics}
    assert found == _expected(path)
    if any(d.is_error for d in result.diagnostics):
        assert result.flow is None


def test_every_rule_code_has_a_broken_example() -> None:
    covered = {code for path in FILES for code, *_ in _expected(path)}
    # Y005 (file too large) needs a megabyte of text: tests/flow/test_flow_yaml.py covers it.
    assert set(RULES) - covered == {"Y005"}


def test_the_rules_table_of_the_reference_is_one_table_of_every_rule() -> None:
    # the table had blank lines before F140, F150 and F160: Markdown ends a table at a
    # blank line, so those rules showed as lines of text with pipes, not as rows
    text = (Path(__file__).parents[2] / "docs" / "flow-language.md").read_text("utf-8")
    lines = text.split("\n## Rules\n", 1)[1].splitlines()
    start = lines.index("| code | severity | rule | broken example |")
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(line.split("|")[1:3])
    documented = {code.strip(): severity.strip() for code, severity in rows}
    assert documented == {code: rule.severity.value for code, rule in RULES.items()}
