"""The regex inverter: generated texts match as a handler matches, captures filled."""

from __future__ import annotations

import pytest
import regex

from ucwa_flow.flow import Matcher
from ucwa_flow.testing.explore import Uninvertible, invert

PATTERNS = [
    r"^\s*(?P<score>[1-5])\s*(/\s*5)?\s*$",
    r"(?P<description>\w.{4,})",
    r"\b(?P<employee_id>E\d{6})\b",
    r"\b(?P<claim>C-\d{5})\b",
    r"^(?:yes|y|yeah)$",
    r"[^abc]+@(?:foo|bar)\.com",
    r"(?P<email>[\w.]+@[\w.]+\.\w+)",
    r"order\s+#?(?P<number>\d{3,6})",
    r"(?P<word>[A-Z][a-z]+)\s(?P=word)",
    r"(ab|cd)\1",
    r"\W\S\D",
    r"x{2,3}?y*+z",
    r"(?>abc)d",
    r"(?-i:Exact)",
    r"\bvpn\b.*\b(?P<os>windows|mac|linux)\b",  # word edges with nothing between: a space
    r"\b(?P<first>\w+)\b.*\b(?P<last>\w+)\b",
]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("variant", [0, 1, 2])
def test_the_text_matches_and_the_captures_are_what_the_handler_captures(
    pattern: str, variant: int
) -> None:
    inversion = invert(pattern, variant=variant)
    matcher = Matcher("regex", [pattern])
    captures = matcher.match(inversion.text)
    assert captures is not None, (pattern, inversion.text)
    assert regex.search(pattern, inversion.text, regex.IGNORECASE) is not None
    for name, value in inversion.groups.items():
        assert captures[name] == value


def test_variants_give_other_values_of_a_capture() -> None:
    scores = {invert(r"(?P<score>[1-5])", variant=v).groups["score"] for v in range(3)}
    assert scores == {"1", "3", "5"}


def test_a_plausible_value_is_used_for_a_named_group() -> None:
    inversion = invert(r"(?P<note>\w.{2,})", named={"note": "call me back"})
    assert inversion.text == "call me back"
    assert Matcher("regex", [r"(?P<note>\w.{2,})"]).match(inversion.text) == {
        "note": "call me back"
    }


def test_a_conditional_group_cannot_be_inverted() -> None:
    with pytest.raises(Uninvertible, match="conditional group"):
        invert(r"(a)?(?(1)b|c)")


def test_syntax_only_the_regex_module_knows_is_uninvertible_with_the_reason() -> None:
    with pytest.raises(Uninvertible, match="cannot read it"):
        invert(r"\p{L}+")


def test_lookarounds_are_named_as_hazards_when_the_text_does_not_satisfy_them() -> None:
    inversion = invert(r"(?<=@)corp")
    assert inversion.hazards == ("a lookbehind",)
    assert Matcher("regex", [r"(?<=@)corp"]).match(inversion.text) is None


def test_the_documented_example() -> None:
    # docs/testing.md, "Exploring a flow"
    assert invert(r"\b(?P<employee_id>E\d{6})\b").text == "E111111"


def test_a_pattern_whose_matches_are_all_huge_is_uninvertible() -> None:
    # nested repeats: the shortest match has 13 million characters; building it took a
    # minute and three times the memory, and one more level exhausted it
    with pytest.raises(Uninvertible, match="longer than 10,000 characters"):
        invert("^(?:(?:(?:x{60}){60}){60}){60}$")
    assert len(invert("a{5000}b").text) == 5001
