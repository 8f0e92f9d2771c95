"""Secrets by value (store.scrub, store.secret_texts): what is blanked out."""

from __future__ import annotations

from ucwa_flow.store import scrub, secret_texts


def texts(**variables: object) -> list[str]:
    return secret_texts((variables,), frozenset(variables))


def test_the_strings_and_numbers_inside_a_secret_mapping_or_list_are_looked_for() -> None:
    # a secret mapping's parts were never blanked out of a copy: `ref = "A-5550001"` stayed
    found = texts(account={"number": "5550001", "codes": [4711, True, None, "ab"]})
    assert found == ["5550001", "4711"]
    assert scrub("A-5550001 and 4711", found) == "A-[redacted] and [redacted]"


def test_a_secret_is_blanked_out_wherever_it_shows_inside_a_longer_number_too() -> None:
    # a number cannot be told from a copy of a secret glued to digits: +1, a leading 0, a
    # bank code and the account number rendered side by side
    account = texts(account="5550001")
    assert scrub("call +15550001", account) == "call +1[redacted]"
    assert scrub("DE89370400045550001", account) == "DE8937040004[redacted]"
    pin = texts(pin=123)
    assert scrub("pin 0123", pin) == "pin 0[redacted]"
    assert scrub("12341234", texts(pin="1234")) == "[redacted][redacted]"
    two = texts(a="1234", b="5678")
    assert scrub("12345678", two) == "[redacted][redacted]"


def test_a_number_that_holds_a_secret_is_blanked_out_whole() -> None:
    pin = texts(pin="5550001")
    assert scrub(5550001, pin) == "[redacted]"
    assert scrub(15550001, pin) == "[redacted]"  # it was kept: its text was not the secret
    assert scrub(555000, pin) == 555000
    assert scrub(True, pin) is True


def test_secrets_that_overlap_are_blanked_out_whole() -> None:
    # replaced one after the other, the second was no longer found: "[redacted]xyz"
    both = texts(a="abc1", b="1xyz")
    assert scrub("abc1xyz", both) == "[redacted]"
    assert scrub("x abc1 y 1xyz", both) == "x [redacted] y [redacted]"


def test_a_secret_inside_the_redaction_mark_is_left_alone() -> None:
    # a secret "red" made a line already redacted read "[[redacted]acted]"
    red = texts(colour="red")
    assert scrub("[redacted] was red", red) == "[redacted] was [redacted]"
    assert scrub({"pin": "[redacted]"}, red) == {"pin": "[redacted]"}


def test_a_secret_is_looked_for_in_the_forms_a_url_encodes_it_in() -> None:
    # urlencode keeps "/", urlsegment nothing, a mapping's urlencode writes "+" for " "
    key = texts(key="ab+c/d== e")
    assert scrub("?a=ab%2Bc/d%3D%3D%20e", key) == "?a=[redacted]"
    assert scrub("/ab%2Bc%2Fd%3D%3D%20e/", key) == "/[redacted]/"
    assert scrub("?c=ab%2Bc%2Fd%3D%3D+e", key) == "?c=[redacted]"
    assert texts(pin="5550001") == ["5550001"]  # a text a URL carries as it is: once
