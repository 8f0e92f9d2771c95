"""``ucwa-flow run --var NAME=VALUE`` sets a flow variable's starting value."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.guards import WAIT
from tests.runtime.conftest import load
from ucwa_flow.cli._flow_loading import with_variables

ROOT = Path(__file__).resolve().parents[2]


def test_values_are_json_when_they_parse_and_text_otherwise() -> None:
    flow = load("helpdesk")
    changed = with_variables(
        flow, ("agent_uri=sip:adrianag@contoso.com", "ticket=null", "category=3")
    )
    assert changed.variables["agent_uri"] == "sip:adrianag@contoso.com"
    assert changed.variables["ticket"] is None
    assert changed.variables["category"] == 3
    assert changed.variables["ticket_url"] == flow.variables["ticket_url"]
    assert flow.variables["agent_uri"] == "sip:helpdesk-agents@contoso.com"  # a copy


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("nosuch=1", "helpdesk has no variable 'nosuch'"),
        ("oops", "'oops' is not NAME=VALUE"),
        # json.loads' RecursionError was a traceback
        ("ticket=" + "[" * 5000 + "]" * 5000, "ticket: JSON nested deeper than 64 levels"),
    ],
    ids=["unknown", "no-equals", "too-deep"],
)
def test_a_bad_option_is_one_usage_error(option: str, message: str) -> None:
    with pytest.raises(click.BadParameter, match=message):
        with_variables(load("helpdesk"), (option,))
    proc = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "run", "flows/helpdesk.flow.yaml", "--var", option],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=WAIT,
    )
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr


def test_run_of_an_included_file_is_one_line_that_says_so() -> None:
    # it said "has errors; nothing was run" and showed none
    part = "flows/lib/desk.states.yaml"
    proc = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "run", part],
        cwd=ROOT,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=WAIT,
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr.splitlines() == [
        f"ucwa-flow: error: {part} is an included file, not a flow: run a flow that includes it"
    ]
