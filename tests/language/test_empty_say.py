"""A ``say`` whose text comes out empty sends nothing: the server refuses an empty
message, which the bot took for a lost one (an HTTP 400 with the message's URL, and the
state's ``delivery_failed``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.runtime import trace as t
from ucwa_flow.testing import ScenarioResult, load_script, run_scenario

FLOW = """\
version: 1
name: quiet
start: ask
settings: {idle_timeout: 10m}
variables: {order: ""}
states:
  ask:
    enter:
      - say: "{% if order %}Your order: {{ order }}{% endif %}"
      - say: What would you like?
    delivery_failed:
      - say: A message was lost.
"""


async def _passed(path: Path) -> ScenarioResult:
    """The one scenario of the script at ``path``, which passes."""
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    (scenario,) = loaded.script.scenarios
    result = await run_scenario(loaded.script, scenario)
    assert result.failure is None, str(result.failure)
    return result


async def test_an_empty_say_is_one_located_error_and_no_lost_message(
    write: Callable[..., Path],
) -> None:
    write("quiet.flow.yaml", FLOW)
    path = write(
        "quiet.test.yaml",
        """
        flow: quiet.flow.yaml
        scenarios:
          - name: no order yet
            steps:
              - invite
              - expect: {say: What would you like?}
              - expect: silence
        """,
    )
    result = await _passed(path)
    errors = [r for r in result.traces if isinstance(r, t.FlowError)]
    assert [(e.message, str(e.location)) for e in errors] == [
        ("nothing said: the message is empty", f"{path.parent / 'quiet.flow.yaml'}:9:14")
    ]


HTML_FLOW = """\
version: 1
name: quiet
start: ask
settings: {idle_timeout: 10m, format: html}
variables: {order: ""}
states:
  ask:
    enter:
      - say:
          text: "Your order: {{ order or 'none yet' }}"
          html: "{% if order %}<b>{{ order }}</b>{% endif %}"
      - say:
          text: "Your order, again: {{ order or 'none yet' }}"
          html: |
            {% if order %}
            <b>{{ order }}</b>
            {% endif %}
      - say: What would you like?
    delivery_failed:
      - say: A message was lost.
"""


async def test_an_html_part_that_comes_out_empty_sends_the_plain_text(
    write: Callable[..., Path],
) -> None:
    # the empty html was sent beside the plain text: the server refused the empty message
    # (400), the caller heard nothing and the state's delivery_failed ran
    write("quiet.flow.yaml", HTML_FLOW)
    path = write(
        "quiet.test.yaml",
        """
        flow: quiet.flow.yaml
        scenarios:
          - name: no order yet
            steps:
              - invite
              - expect: {say: "Your order: none yet"}
              - expect: {say: "Your order, again: none yet"}
              - expect: {say: What would you like?}
              - expect: silence
        """,
    )
    result = await _passed(path)
    assert not [r for r in result.traces if isinstance(r, t.FlowError)]
    said = [r for r in result.traces if isinstance(r, t.MessageOut)]
    assert [(r.text, r.html) for r in said][:2] == [
        ("Your order: none yet", None),
        ("Your order, again: none yet", None),  # a block scalar's html came out "\n"
    ]
