"""JSON from outside, its nesting bounded: never a RecursionError, deep JSON a ValueError."""

from __future__ import annotations

import json
import math
import re

import pytest

from ucwa_flow import bounded_json
from ucwa_flow.bounded_json import MAX_DEPTH, TooDeep


def _lists(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("as_bytes", [False, True])
def test_json_as_deep_as_may_be_is_read(as_bytes: bool) -> None:
    text = _lists(MAX_DEPTH)
    assert bounded_json.loads(text.encode() if as_bytes else text) is not None
    objects = '{"a": ' * (MAX_DEPTH - 1) + "{}" + "}" * (MAX_DEPTH - 1)
    assert bounded_json.loads(objects) is not None
    wide = "[" + ",".join(["[1]"] * 1000) + "]"  # many brackets, two levels: walked, fine
    assert len(bounded_json.loads(wide)) == 1000


@pytest.mark.parametrize(
    "text",
    [
        _lists(MAX_DEPTH + 1),
        _lists(900),  # read by json.loads; copy.deepcopy of it was a RecursionError
        _lists(100_000),  # json.loads' own RecursionError
        '{"a": ' * MAX_DEPTH + "[]" + "}" * MAX_DEPTH,
    ],
    ids=["one-more", "900", "100000", "objects"],
)
def test_json_nested_deeper_is_too_deep_a_value_error(text: str) -> None:
    with pytest.raises(TooDeep, match=f"JSON nested deeper than {MAX_DEPTH} levels"):
        bounded_json.loads(text)
    with pytest.raises(ValueError, match="nested deeper"):
        bounded_json.loads(text.encode())


def test_brackets_in_texts_are_no_nesting_and_the_limit_may_be_given() -> None:
    assert bounded_json.loads('["' + "[" * 500 + '"]') == ["[" * 500]
    assert bounded_json.loads(_lists(100), depth=128) is not None
    with pytest.raises(TooDeep, match="deeper than 2 levels"):
        bounded_json.loads("[[[]]]", depth=2)
    with pytest.raises(ValueError, match="Expecting value"):  # not JSON: json.loads
        bounded_json.loads("[1,")


def test_too_deep_walks_values_made_otherwise() -> None:
    from ucwa_flow.bounded_json import too_deep

    value: object = 1
    for level in range(64):  # lists, dicts and tuples in turn: 64 levels
        value = ([value], {"x": value}, (value,))[level % 3]
    assert not too_deep(value)
    assert too_deep([value])
    assert not too_deep("[" * 100)
    assert too_deep([[[1]]], depth=2)
    assert not too_deep([[1]], depth=2)


def test_what_is_no_json_data_is_named_with_how_to_store_it() -> None:
    """A value a flow sets that is no JSON data fails with what it holds and what to write
    instead: ``{{ now }}`` is a datetime (``now.isoformat()``), ``d.items()`` an iterator
    (``| list``)."""
    import datetime

    now = datetime.datetime(2026, 12, 3, 2, 0)
    assert bounded_json.not_data({"when": now}) == (
        "the value is not JSON data (a datetime is in it; store text such as {{ now.isoformat() }})"
    )
    problem = bounded_json.not_data({"a": 1}.items())
    assert problem is not None
    assert problem.endswith("store a list: add | list)")
    assert bounded_json.not_data([{"a": [1, "x", None, 2.5, True]}, ("t",)]) is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"NaN": "NaN", "total": NaN}', "NaN is no JSON number: line 1 column 25"),
        (b"[1,\n Infinity]", "Infinity is no JSON number: line 2 column 2"),
        ("[-Infinity]", "-Infinity is no JSON number: line 1 column 2"),
        ('{"total": 1e400}', "1e400 is too large a number: line 1 column 11"),
        ("[1e3, -1e999]", "-1e999 is too large a number: line 1 column 7"),
    ],
)
def test_numbers_that_are_not_finite_are_no_json(text: str | bytes, words: str) -> None:
    # json.loads read them as nan and inf, which no store writes
    with pytest.raises(json.JSONDecodeError, match=re.escape(words)):
        bounded_json.loads(text)
    assert bounded_json.loads("[1e308, -2.5e-300, 0.1, 12]") == [1e308, -2.5e-300, 0.1, 12]


def test_a_value_holding_nan_or_inf_is_no_json_data() -> None:
    for value in (math.nan, math.inf, [1, {"a": -math.inf}], {"x": [math.nan]}):
        problem = bounded_json.not_data(value)
        assert problem is not None
        assert "store a finite number" in problem
    assert bounded_json.not_data([1.5, {"a": 0.0}, "nan", None, True]) is None


@pytest.mark.parametrize(
    "text",
    [
        '{"a": "x\\ud800y", "\\udc00": ["\\ud83d\\ude00", 1]}',  # escaped: lone and a pair
        b'{"a": "x\xed\xa0\x80y", "\xed\xb0\x80": ["\xf0\x9f\x98\x80", 1]}',  # raw, as bytes
    ],
)
def test_a_lone_surrogate_is_read_as_a_replacement_character(text: str | bytes) -> None:
    # no UTF-8 encodes one: a store's commit failed on it
    read = bounded_json.loads(text)
    assert read == {"a": "x\ufffdy", "\ufffd": ["\U0001f600", 1]}
    json.dumps(read, ensure_ascii=False).encode("utf-8")


def test_a_value_holding_a_lone_surrogate_is_no_json_data() -> None:
    assert bounded_json.not_data(["ok", {"k": "a\ud800"}]) == (
        "the value is not text (U+D800, half of a UTF-16 pair, is in it)"
    )
    assert bounded_json.not_data("\udfff") is not None
    assert bounded_json.not_data(["caf\u00e9", "\U0001f600", {"k": "ascii"}]) is None


def test_an_integer_too_long_to_write_is_no_json_data() -> None:
    # a template's (10 ** 64) ** 64 * ...: json.dumps refused it, the store's commit with it
    assert bounded_json.not_data({"n": [10**4352]}) == (
        "the value is not JSON data (a number of more than 4,000 digits)"
    )
    assert bounded_json.not_data(-(10**4001)) is not None
    assert bounded_json.not_data([10**3999, -(10**3999), True]) is None


def test_a_key_no_store_can_write_is_no_json_data() -> None:
    # only values were looked at: `{'a\ud800': 1}` passed, and the store's commit failed on it
    assert bounded_json.not_data({"ok": {"a\ud800": 1}}) == (
        "the value is not text (U+D800, half of a UTF-16 pair, is in it)"
    )
    assert bounded_json.not_data([{10**4352: 1}]) == (
        "the value is not JSON data (a number of more than 4,000 digits)"
    )
    assert bounded_json.not_data({(1, 2): 1}) is not None  # json.dumps: keys must be str
    assert bounded_json.not_data({float("nan"): 1}) is not None
    fine = {"a": 1, 2: [{"x": None}], None: True, 1.5: False}
    assert bounded_json.not_data(fine) is None
    json.dumps(fine)  # (what a store writes)
