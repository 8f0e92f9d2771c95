"""The README's two quick-start commands and .ci/run stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_has_exactly_two_commands() -> None:
    commands = _quick_start_commands()
    assert len(commands) == 2
    assert all("\n" not in c for c in commands)
    assert "ucwa-flow run flows/helpdesk.flow.yaml" in commands[0]
    assert commands[1].endswith("pytest")


def test_the_readme_example_flow_is_clean_and_says_the_callers_text() -> None:
    # issue 10: the README used `{{ message.text }}`, which renders nothing: `message` is
    # the text itself, as the tutorial and the reference say
    from ucwa_flow.flow import Say, load_flow_text, template_context

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.+?)\n```", readme, re.DOTALL)
    assert example is not None
    result = load_flow_text(example.group(1), "README.md")
    assert [str(d) for d in result.diagnostics] == []
    flow = result.raise_for_errors()
    (handler,) = flow.states[flow.start].handlers
    (say,) = [action for action in handler.actions if isinstance(action, Say)]
    assert say.text is not None
    context = template_context(variables=flow.variables, message="hello")
    assert say.text.render(context) == "You said: hello"


def test_ci_runs_the_readme_test_command_verbatim() -> None:
    ci_lines = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _quick_start_commands()[1] in ci_lines
