"""docs/testing.md shows a script that really passes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from tests.testing.conftest import FLOWS, ROOT
from ucwa_flow.testing import run_tests


async def test_the_documented_example_script_passes(write: Callable[..., Path]) -> None:
    text = (ROOT / "docs" / "testing.md").read_text("utf-8")
    match = re.search(r"```yaml\n(.*?)```", text, re.S)
    assert match is not None
    example = match.group(1).replace(
        "flow: helpdesk.flow.yaml", f"flow: {FLOWS}/helpdesk.flow.yaml"
    )
    run = await run_tests([write("example.test.yaml", example)])
    assert [r.failure for r in run.results] == [None]
