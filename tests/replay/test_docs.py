"""docs/replay.md's example recording really replays unchanged against the helpdesk, and
its spread-out copy says the same."""

from __future__ import annotations

import asyncio
import json
import re

from tests.e2e.harness import ROOT
from ucwa_flow.flow import load_flow
from ucwa_flow.replay import read_lines, replay


def test_the_documented_recording_replays_unchanged() -> None:
    text = (ROOT / "docs" / "replay.md").read_text("utf-8")
    section = text.split("## The replay format", 1)[1]
    one_line, spread = re.findall(r"```json\n(.*?)```", section, re.S)[:2]
    assert one_line.count("\n") == 1
    assert json.loads(spread)["events"][0] == json.loads(one_line)["events"][0]
    flow = load_flow(ROOT / "flows" / "helpdesk.flow.yaml").raise_for_errors()
    recordings = list(read_lines("docs/replay.md", [one_line]))
    (result,) = asyncio.run(replay(flow, recordings))
    assert not result.diverged, (result.first, result.stop, result.variables)
