"""Helpers for the campaign tests: a small campaign flow and its scripts in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from ucwa_flow.testing import ScenarioResult, load_script, run_scenario

ANN, BOB, CY = "sip:ann@contoso.com", "sip:bob@contoso.com", "sip:cy@contoso.com"
REPORT = "http://hooks.test/report"

#: three people; yes/no answers counted in the campaign; a 2 m silence ends a conversation
FLOW = """\
version: 1
name: poll
start: ask
variables: {mine: 0}
outbound:
  to: [sip:ann@contoso.com, sip:bob@contoso.com, sip:cy@contoso.com]
  message: "Hello! One question?"
  timeout: 2m
  campaign:
    at_once: AT_ONCE
    variables: {yes: 0, no: 0, answers: [], skipped: []}
    report:
      url: http://hooks.test/report
      json:
        run: "{{ campaign.id }}"
        yes: "{{ campaign.yes }}"
        no: "{{ campaign.no }}"
        answers: "{{ campaign.answers }}"
        skipped: "{{ campaign.skipped }}"
        people: "{{ campaign.people }}"
        done: "{{ campaign.done }}/{{ campaign.size }}"
      failure: [{log: "report failed {{ webhook.status }}"}]
  declined: [{set: {campaign.skipped: "{{ campaign.skipped + [caller.uri + ' declined'] }}"}}]
  no_answer: [{set: {campaign.skipped: "{{ campaign.skipped + [caller.uri + ' no answer'] }}"}}]
states:
  ask:
    enter:
      - set: {mine: "{{ mine + 1 }}"}
      - say: "Yes or no? ({{ campaign.done }} of {{ campaign.size }} done, mine={{ mine }})"
    messages:
      - choice: ["yes"]
        do:
          - set:
              campaign.yes: "{{ campaign.yes + 1 }}"
              campaign.answers: "{{ campaign.answers + [caller.uri] }}"
          - say: "Thanks! {{ campaign.yes }} yes so far."
          - stop
      - choice: ["no"]
        do: [{set: {campaign.no: "{{ campaign.no + 1 }}"}}, stop]
    timeouts:
      - after: 2m
        do: [stop]
"""


@pytest.fixture
def campaign(tmp_path: Path) -> Callable[..., list[ScenarioResult]]:
    """``await campaign(steps, at_once=1, caller=ANN, webhooks=...)``: run one scenario
    of the poll flow (steps and webhooks as YAML text); its results."""

    async def run(
        steps: str, *, at_once: int = 1, caller: str = ANN, webhooks: str | None = None
    ) -> list[ScenarioResult]:
        (tmp_path / "poll.flow.yaml").write_text(
            FLOW.replace("AT_ONCE", str(at_once)), encoding="utf-8"
        )
        hooks = webhooks if webhooks is not None else f"      - url: {REPORT}\n"
        script = (
            "flow: poll.flow.yaml\nscenarios:\n  - name: it\n"
            f"    caller: {caller}\n    webhooks:\n{hooks}    steps:\n"
            + textwrap.indent(textwrap.dedent(steps).strip("\n"), "      ")
            + "\n"
        )
        path = tmp_path / "poll.test.yaml"
        path.write_text(script, encoding="utf-8")
        loaded = load_script(path)
        assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
        return [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]

    return run  # type: ignore[return-value]
