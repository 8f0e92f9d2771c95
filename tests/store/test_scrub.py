"""Secrets by value (store.scrub, store.secret_texts): what is blanked out and what is not."""

from __future__ import annotations

from ucwa_flow.store import scrub, secret_texts


def texts(**variables: object) -> list[str]:
    return secret_texts((variables,), frozenset(variables))


def test_the_strings_and_numbers_inside_a_secret_mapping_or_list_are_looked_for() -> None:
    # a secret mapping's parts were never blanked out of a copy: `ref = "A-5550001"` stayed
    found = texts(account={"number": "5550001", "codes": [4711, True, None, "ab"]})
    assert found == ["5550001", "4711"]
    assert scrub("A-5550001 and 4711", found) == "A-[redacted] and [redacted]"


def test_a_number_is_not_blanked_out_of_a_longer_number() -> None:
    # a PIN 1234 blanked out part of an order number, "order 9[redacted]5"
    pin = texts(pin="1234")
    assert scrub("order 912345", pin) == "order 912345"
    assert scrub("12341234", pin) == "12341234"
    assert scrub(12345, pin) == 12345
    assert scrub("order 912345, pin 1234.", pin) == "order 912345, pin [redacted]."


def test_a_secret_glued_to_letters_or_signs_is_still_blanked_out() -> None:
    pin = texts(pin="1234")
    assert scrub("pin1234", pin) == "pin[redacted]"
    assert scrub("a1234b", pin) == "a[redacted]b"
    assert scrub("R-1234", pin) == "R-[redacted]"
    assert scrub(1234, pin) == "[redacted]"
    word = texts(password="hunter2")
    assert scrub("myhunter2", word) == "my[redacted]"
    assert scrub("hunter22", word) == "[redacted]2"  # not a number: blanked out anywhere
    assert scrub("0hunter2", word) == "0[redacted]"
    assert scrub("hunter2s", word) == "[redacted]s"


def test_a_secret_beside_an_occurrence_inside_a_number_is_found() -> None:
    pin = texts(pin="1234")
    assert scrub("91234 1234", pin) == "91234 [redacted]"
    assert scrub({"a": ["x 1234", "51234"]}, pin) == {"a": ["x [redacted]", "51234"]}
