"""Small flow pairs for the diff tests, as YAML text."""

from __future__ import annotations

from ucwa_flow.flow import Flow, load_flow_text

BASE = """\
version: 1
name: shop
start: menu
settings:
  idle_timeout: 30m
variables:
  order: null
commands:
  help:
    keywords: [help]
    say: Type 1 or 2.
invitation:
  default: accept
states:
  menu:
    enter:
      - say: "1. Order  2. Track"
    messages:
      - choice: ["1", order]
        goto: order
      - keywords: [track, where]
        goto: track
    no_match:
      - say: Please type 1 or 2.
      - say: Still not sure? Type help.
    timeouts:
      - after: 5m
        do:
          - say: Still there?
      - after: 10m
        do: [stop]
  order:
    enter:
      - say: What would you like to order?
    messages:
      - match: '(?P<item>\\w+)'
        set: {order: "{{ match.item }}"}
        say: Ordered {{ match.item }}.
        goto: menu
  track:
    enter:
      - say: Tracking is not online yet.
      - goto: menu
"""


def flow(text: str) -> Flow:
    """The compiled flow of ``text`` (the test fails on errors)."""
    return load_flow_text(text, "test.flow.yaml").raise_for_errors()


def edit(*replacements: tuple[str, str], text: str = BASE) -> str:
    """``text`` with each ``(old, new)`` replaced once; each ``old`` must be there."""
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new, 1)
    return text
