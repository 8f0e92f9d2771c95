"""F120: patterns that can backtrack catastrophically are reported, ordinary ones are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from ucwa_flow.flow import load_flow, load_flow_text
from ucwa_flow.flow._backtracking import backtracking_risk

ROOT = Path(__file__).resolve().parents[2]

RISKY = [
    r"(a+)+$",
    r"^(a+)+x$",
    r"(a|a)*",
    r"(?:a|a)+",
    r"(\w+\s?)+$",
    r"^(\w+)*@",
    r"(\d+)*$",
    r"(a*)*b",
    r"((ab)+)+$",
    r"(\s|\s+)*$",
    r"(,.*)*$",
    r"(.*,)*$",
    r"(a{1,2})+$",
    r"(a+){1,100}",
    r"([a-z]+[0-9]?)+$",
    r"(a|aa)*$",
    r"^(ha|haha)+!*$",
    r"(?P<x>(?:a|b|ab)+)$",
    r"(x(a|a)y)*$",
    r"(a|\w)+$",
    r"(\w|\d)+",
    r"(a|A)+",  # flow patterns ignore case
]

ORDINARY = [
    r"(?P<id>\d{6})",
    r"^\s*(yes|no)\s*$",
    r"^(1|password)\b",
    r"\b(?P<employee_id>E\d{6})\b",
    r"(?P<description>\w.{4,})",
    r"^\s*(?P<score>[1-5])\s*(/\s*5)?\s*$",
    r"(a|ab)*$",
    r"(yes|y|ye)+!",
    r"(\w+\s)+$",
    r"(a+b)+$",
    r"(aba+)+$",
    r"((ab)+b)+$",
    r"(\d+-)+",
    r"(?:\d{3}-)+\d{4}",
    r"^[a-z0-9._%+-]+@(?:[a-z0-9-]+\.)+[a-z]{2,}$",
    r"^(\d+)(?:,(\d+))*$",
    r"^[A-Z]{2}\d{2}(?: ?\d{4}){4}$",
    r"(foo|bar)+",
    r"(a|b)+",
    r"(\w|-)+",
    r"([a-z]|[0-9])*",
    r"\d+\d+$",  # polynomial, not exponential: not this rule
    r"(?>a+)+",  # atomic: no backtracking into it
    r"(a++)+",  # possessive
    r"\p{L}+(\w+)*",  # syntax only the regex module reads: not analysed
    r"\((a|a)\)",  # escaped parentheses, no repetition
]


@pytest.mark.parametrize("pattern", RISKY)
def test_risky_patterns_are_found(pattern: str) -> None:
    assert backtracking_risk(pattern) is not None


@pytest.mark.parametrize("pattern", ORDINARY)
def test_ordinary_patterns_are_not_reported(pattern: str) -> None:
    assert backtracking_risk(pattern) is None


def test_f120_is_a_located_warning_and_the_flow_still_loads() -> None:
    text = (
        "version: 1\nname: t\nstart: s\nsettings: {idle_timeout: 1m}\nstates:\n  s:\n"
        "    messages:\n      - match: '(a+)+$'\n        say: hi\n"
    )
    result = load_flow_text(text, "t.flow.yaml")
    (warning,) = result.diagnostics
    assert (warning.code, warning.line, warning.col, warning.is_error) == ("F120", 8, 16, False)
    assert warning.message.startswith("regex '(a+)+$' can backtrack catastrophically: ")
    assert result.flow is not None


def test_f120_shows_the_pattern_as_written_like_f105() -> None:
    text = (
        "version: 1\nname: t\nstart: s\nsettings: {idle_timeout: 1m}\nstates:\n  s:\n"
        "    messages:\n      - match: '^(\\w+\\s?)+$'\n        say: hi\n"
    )
    (warning,) = load_flow_text(text, "t.flow.yaml").diagnostics
    assert warning.message.startswith(r"regex '^(\w+\s?)+$' can backtrack catastrophically: ")


def test_the_example_flows_have_no_f120() -> None:
    paths = sorted((ROOT / "flows").glob("*.flow.yaml"))
    assert len(paths) >= 5
    for path in paths:
        assert [str(d) for d in load_flow(path).diagnostics] == []
