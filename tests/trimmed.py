"""A trimmed copy of an example test script, for tests that need untaken transitions.

The example scripts in ``flows/`` take every transition of their flows (issue 16); tests
of how coverage shows what was missed use this copy instead.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"

# Scenarios of flows/helpdesk.test.yaml a trimmed copy leaves out, and the transitions only
# they take: the example scripts take every transition, coverage tests need some untaken.
LEFT_OUT = {
    "a chat opened without a message ends after the idle timeout": ("any state", "end"),
    "someone outside Contoso is declined": ("start", "end"),
}


def trimmed_helpdesk_script(folder: Path) -> Path:
    """A copy of the helpdesk's test script in ``folder`` without the ``LEFT_OUT``
    scenarios, so that the idle timeout and the declined invitation stay untaken."""
    text = (ROOT / "flows" / "helpdesk.test.yaml").read_text(encoding="utf-8")
    head, *scenarios = text.split("\n  - name: ")
    kept = [s for s in scenarios if s.split("\n", 1)[0] not in LEFT_OUT]
    assert len(kept) == len(scenarios) - len(LEFT_OUT), "a left-out scenario was renamed"
    head = head.replace("flow: helpdesk.flow.yaml", f"flow: {HELPDESK.as_posix()}")
    path = folder / "helpdesk-trimmed.test.yaml"
    path.write_text("\n  - name: ".join([head, *kept]), encoding="utf-8")
    return path
