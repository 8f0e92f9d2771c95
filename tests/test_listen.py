"""The one HOST:PORT parser behind serve --admin, admin.listen, review --listen, run --review."""

from __future__ import annotations

import pytest

from ucwa_flow._listen import parse_listen


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:8470", ("127.0.0.1", 8470)),
        ("0.0.0.0:0", ("0.0.0.0", 0)),
        ("localhost:8300", ("localhost", 8300)),
        ("[::1]:8300", ("::1", 8300)),
        (" :8300 ", ("127.0.0.1", 8300)),
    ],
)
def test_good_addresses(text: str, expected: tuple[str, int]) -> None:
    assert parse_listen(text) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("8470", "is not HOST:PORT"),
        ("localhost", "is not HOST:PORT"),
        ("::1:8300", "is not HOST:PORT"),
        ("[::1:8300", "is not HOST:PORT"),
        ("host:http", "is not HOST:PORT"),
        ("127.0.0.1:65536", "the port must be a number from 0 to 65535"),
    ],
)
def test_bad_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_listen(text)
