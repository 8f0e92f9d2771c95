"""The README stays true: its two quick-start commands and .ci/run stay in step, its example
flow is clean, and every relative link in it and in docs/ names a file and heading that exist."""

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


def _anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a page's headings (lower case, punctuation dropped, spaces
    to hyphens; a repeated heading gets -1, -2...)."""
    seen: dict[str, int] = {}
    anchors = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip().lower()
        slug = re.sub(r"[^\w\- ]", "", title).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        anchors.add(slug if count == 0 else f"{slug}-{count}")
    return anchors


def test_every_relative_link_in_the_readme_and_docs_names_a_file_and_heading_that_exist() -> None:
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    broken = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        prose = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
        for target in re.findall(r"\]\(([^)\s]+)\)", prose):
            if re.match(r"[a-z]+:", target):
                continue  # http:, https:, mailto:
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists():
                broken.append(f"{page.name}: {target} (no such file)")
                continue
            headings = _anchors(linked.read_text("utf-8")) if linked.suffix == ".md" else set()
            if anchor and linked.suffix == ".md" and anchor not in headings:
                broken.append(f"{page.name}: {target} (no such heading)")
    assert broken == []
