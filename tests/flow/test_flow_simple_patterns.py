"""Plain patterns are checked without compiling them (issue 17, ``_simple_patterns``).

What the plain reader passes, ``regex`` must compile, with the same named groups: else a
flow with a broken pattern would validate and fail at its first message. Random patterns
made of the syntax's pieces (most of them broken) pin that; the patterns of the example
flows and of the bench's flows must be read as plain, or the fast path would not be
taken at all.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import regex

from bench.validate_time import generate, generate_compact
from ucwa_flow.flow import Matcher, load_flow_text
from ucwa_flow.flow._loader import read_document
from ucwa_flow.flow._simple_patterns import simple_groups

ROOT = Path(__file__).parents[2]
_FLAGS = regex.IGNORECASE | regex.V0
PIECES = (
    *("a", "Z", "0", "9", "_", " ", "-", ".", "^", "$", "*", "+", "?", "??", "*?", "+?"),
    *("{", "}", "{2}", "{1,3}", "{3,1}", "{2,}", "{,2}", "{99999}", "{0}", "{1,1}"),
    *("[", "]", "[a-z]", "[^0-9]", "[z-a]", "[.-]", "[a-]", "[-a]", "[\\d_]", "[\\b]", "[]"),
    *("(", ")", "(?:", "(?P<n>", "(?P<m>", "(?P<1x>", "(?P<>", "(?=", "(?i)", "(?-i)", "|"),
    *("\\", "\\d", "\\b", "\\B", "\\w", "\\S", "\\.", "\\(", "\\1", "\\p", "\\n", "\\Z"),
    *("é", "#", ",", "=", "<", ">", "!", "&&", "~~", "@"),
)


def _patterns_of(text: str) -> list[str]:
    document, _ = read_document(text, "f.flow.yaml")
    assert document is not None
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "match" and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(document.data)
    return found


def test_what_the_plain_reader_passes_compiles_with_the_same_groups() -> None:
    rng = random.Random(17)
    passed = 0
    for _ in range(60_000):
        pattern = "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 8)))
        groups = simple_groups(pattern)
        if groups is None:
            continue
        passed += 1
        compiled = regex.compile(pattern, _FLAGS)  # raises for an unsound answer
        assert set(compiled.groupindex) == groups, pattern
    assert passed > 5_000  # the generator reaches the subset


@pytest.mark.parametrize(
    "pattern",
    [
        "(?-i)abc",  # flags: compiled
        "a**",
        "a*+",  # possessive
        "[z-a]",
        "a{3,2}",
        "(a",
        "a)",
        "(?P<x>a)(?P<x>b)",  # the same name twice
        "\\p{L}",
        "(?=a)",
        "\\1",
        "[[:alpha:]]",
    ],
)
def test_other_patterns_are_compiled(pattern: str) -> None:
    assert simple_groups(pattern) is None


def test_the_example_and_bench_patterns_are_plain() -> None:
    texts = [p.read_text("utf-8") for p in sorted((ROOT / "flows").glob("*.flow.yaml"))]
    texts += [generate(), generate_compact(20)]
    patterns = [pattern for text in texts for pattern in _patterns_of(text)]
    assert len(patterns) > 40
    assert [p for p in patterns if simple_groups(p) is None] == []


def test_a_plain_pattern_matches_as_a_compiled_one() -> None:
    matcher = Matcher("regex", [r"\b(?P<employee_id>E\d{6})\b"])
    assert matcher.groups == {"employee_id"}
    assert matcher.match("I am e123456, hi") == {"employee_id": "e123456"}
    assert matcher.match("E12345") is None
    keywords = Matcher("keywords", ["help", "?"])
    assert keywords.match("Help me") == {}
    assert keywords.match("what?") == {}
    assert keywords.match("helpless") is None


def test_a_broken_pattern_is_still_reported_at_load() -> None:
    text = (
        "version: 1\nname: x\nstart: a\nsettings: {idle_timeout: 1m}\n"
        "states:\n  a:\n    messages:\n      - {match: 'a{3,2}', goto: a}\n"
    )
    result = load_flow_text(text, "x.flow.yaml")
    assert [(d.code, d.line) for d in result.diagnostics] == [("F105", 8)]
