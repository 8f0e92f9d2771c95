"""``ucwa-flow diff`` as a user runs it: a real subprocess, files and git repos in tmp_path."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

from tests.diff._flows import BASE
from tests.guards import WAIT

ROOT = Path(__file__).resolve().parents[2]
HELPDESK = ROOT / "flows" / "helpdesk.flow.yaml"
SVG = "{http://www.w3.org/2000/svg}"


def _run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "diff", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def _helpdesk_with_a_survey(tmp_path: Path) -> Path:
    text = HELPDESK.read_text(encoding="utf-8")
    text = text.replace(
        "\nstates:\n",
        "\nstates:\n  survey:\n    enter:\n      - say: How did we do?\n      - goto: menu\n",
        1,
    )
    copy = tmp_path / "helpdesk.flow.yaml"
    copy.write_text(text, encoding="utf-8")
    return copy


def test_a_state_name_with_quotes_stays_one_attribute_value(tmp_path: Path) -> None:
    """A state called ``x" onmouseover="...`` (valid YAML, a valid name) adds no event
    handler to the HTML page a reviewer opens."""
    from html.parser import HTMLParser

    name = 'x" onmouseover="document.title=1" title="'
    quoted = name.replace('"', '\\"')
    text = (
        "version: 1\nname: demo\nstart: menu\nstates:\n  menu:\n    messages:\n"
        f'      - any: true\n        goto: "{quoted}"\n  "{quoted}":\n'
        "    enter:\n      - say: bye\n      - stop\n"
    )
    old, new = tmp_path / "old.flow.yaml", tmp_path / "new.flow.yaml"
    old.write_text(text, encoding="utf-8")
    new.write_text(text.replace("say: bye", "say: goodbye"), encoding="utf-8")
    page = tmp_path / "diff.html"
    done = _run(str(old), str(new), "-o", str(page), "--format", "html")
    assert done.returncode == 1, done.stderr
    found: list[dict[str, str | None]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append(dict(attrs))

    Tags().feed(page.read_text(encoding="utf-8"))
    assert not [a for a in found if any(key.startswith("on") for key in a)]
    assert name in [a.get("data-state") for a in found]


def test_no_difference_exits_0() -> None:
    done = _run(str(HELPDESK), str(HELPDESK))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "helpdesk: no differences\n"


def test_differences_exit_1_with_the_text_list(tmp_path: Path) -> None:
    done = _run(str(HELPDESK), str(_helpdesk_with_a_survey(tmp_path)))
    assert done.returncode == 1, done.stderr
    assert "state survey: added\n" in done.stdout


def test_json_format(tmp_path: Path) -> None:
    done = _run(str(HELPDESK), str(_helpdesk_with_a_survey(tmp_path)), "--format", "json")
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert {"name": "survey", "status": "added"}.items() <= data["states"][0].items()


def test_the_html_page_marks_the_added_state(tmp_path: Path) -> None:
    page = tmp_path / "diff.html"
    done = _run(
        str(HELPDESK), str(_helpdesk_with_a_survey(tmp_path)), "-o", str(page), "--format", "html"
    )
    assert done.returncode == 1, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html
    assert "http" not in html.split("<svg", 1)[0]
    start = html.index("<svg", html.index('<div class="picture">'))
    svg = ElementTree.fromstring(html[start : html.index("</svg>", start) + 6])
    marked = {
        g.get("data-state"): g.get("data-mark")
        for g in svg.iter(f"{SVG}g")
        if g.get("data-state") is not None
    }
    assert marked["survey"] == "added"
    assert marked["menu"] is None  # untouched states carry no mark
    added_edges = [
        g
        for g in svg.iter(f"{SVG}g")
        if g.get("data-mark") == "added" and g.get("data-source") == "survey"
    ]
    assert added_edges, "the survey's goto is drawn as an added edge"
    assert 'class="added" data-state="survey"' in html  # the text list under the graph


@pytest.mark.parametrize(
    ("name", "starts"),
    [("diff.html", "<!DOCTYPE html>"), ("diff.JSON", "{"), ("diff.txt", "state ")],
)
def test_the_output_file_names_the_format(tmp_path: Path, name: str, starts: str) -> None:
    # as `graph -o x.html` does: `diff -o review.html` wrote the text list into the .html
    out = tmp_path / name
    done = _run(str(HELPDESK), str(_helpdesk_with_a_survey(tmp_path)), "-o", str(out))
    assert done.returncode == 1, done.stderr
    assert out.read_text(encoding="utf-8").startswith(starts)
    given = _run(
        str(HELPDESK), str(_helpdesk_with_a_survey(tmp_path)), "-o", str(out), "--format", "text"
    )
    assert given.returncode == 1, given.stderr
    assert out.read_text(encoding="utf-8").startswith("state ")  # --format wins


def test_a_flow_with_errors_is_status_2_with_its_diagnostics(tmp_path: Path) -> None:
    broken = tmp_path / "broken.flow.yaml"
    broken.write_text(BASE.replace("goto: track", "goto: nowhere"), encoding="utf-8")
    done = _run(str(HELPDESK), str(broken))
    assert done.returncode == 2
    assert f"{broken}:" in done.stderr
    assert " error: " in done.stderr
    assert "not compared" in done.stderr.splitlines()[-1]


def test_a_missing_file_is_one_line() -> None:
    done = _run(str(HELPDESK), "nowhere.flow.yaml")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ucwa-flow: error: nowhere.flow.yaml: no such flow file"
    ]


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    (repo / "flows").mkdir(parents=True)
    _git(repo, "init", "-q")
    flow = repo / "flows" / "shop.flow.yaml"
    flow.write_text(BASE, encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "one")
    flow.write_text(BASE.replace("Tracking is not online yet.", "Tracking soon."), encoding="utf-8")
    _git(repo, "commit", "-qam", "two")
    return repo


def test_rev_compares_a_revision_with_the_working_copy(repo: Path, tmp_path: Path) -> None:
    flow = repo / "flows" / "shop.flow.yaml"
    assert _run(str(flow), "--rev", "HEAD", cwd=tmp_path).returncode == 0
    done = _run(str(flow), "--rev", "HEAD~1", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[:2] == [
        "state track: changed",
        "  enter actions: texts changed",
    ]


def test_two_revisions(repo: Path) -> None:
    done = _run("flows/shop.yaml", "--rev", "HEAD", "--rev", "HEAD~1", cwd=repo)
    assert done.returncode == 1, done.stderr
    assert '  - say "Tracking soon."' in done.stdout
    assert '  + say "Tracking is not online yet."' in done.stdout


def test_a_missing_revision_is_one_line(repo: Path) -> None:
    done = _run("flows/shop.flow.yaml", "--rev", "no-such-branch", cwd=repo)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "ucwa-flow: error: flows/shop.flow.yaml: cannot read revision no-such-branch"
    )


@pytest.mark.parametrize("revision", ["", " "])
def test_an_empty_revision_is_one_line(repo: Path, revision: str) -> None:
    # `--rev ""` (an unset CI variable) ran `git show :./FILE`, which reads the staged
    # copy, and compared that with the working copy as if it were a revision
    flow = repo / "flows" / "shop.flow.yaml"
    flow.write_text(BASE.replace("Tracking soon.", "Tracking later."), encoding="utf-8")
    _git(repo, "add", ".")
    done = _run("flows/shop.flow.yaml", "--rev", revision, cwd=repo)
    assert done.returncode == 2, done.stdout
    assert done.stderr.strip().splitlines() == [
        f"ucwa-flow: error: flows/shop.flow.yaml: {revision!r} is not a git revision"
    ]


def test_a_file_outside_git_is_one_line(tmp_path: Path) -> None:
    flow = tmp_path / "shop.flow.yaml"
    flow.write_text(BASE, encoding="utf-8")
    done = _run(str(flow), "--rev", "HEAD", cwd=tmp_path)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "cannot read revision HEAD" in done.stderr


def test_usage_errors() -> None:
    assert _run(str(HELPDESK)).returncode == 2
    assert _run(str(HELPDESK), str(HELPDESK), "--rev", "HEAD").returncode == 2


def test_rev_refuses_a_flow_of_several_files(repo: Path) -> None:
    # its includes would be read from the working copy, not the revision: a change made only
    # in an included file went unseen ("no differences")
    flows = repo / "flows"
    (flows / "more.states.yaml").write_text(
        "states:\n  extra:\n    enter: [stop]\n", encoding="utf-8"
    )
    flow = flows / "shop.flow.yaml"
    flow.write_text("include: [more.states.yaml]\n" + flow.read_text("utf-8"), encoding="utf-8")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "three")
    done = _run("flows/shop.flow.yaml", "--rev", "HEAD", cwd=repo)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "ucwa-flow: error: flows/shop.flow.yaml@HEAD: includes or calls other files; --rev "
        "compares flows of one file only (check the revision out into a folder and compare "
        "the two flow files)"
    ]


def test_a_sub_flow_is_one_line_that_says_so() -> None:
    # it said "not compared, the flow has 0 error(s)"
    part = "flows/lib/confirm.subflow.yaml"
    done = _run(part, part)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"ucwa-flow: error: {part} is a sub-flow, not a flow: compare a flow that calls it"
    ]


def test_output_over_a_compared_flow_is_refused(tmp_path: Path) -> None:
    # `diff old.flow.yaml new.flow.yaml -o new.flow.yaml` replaced the new flow by the report
    new = _helpdesk_with_a_survey(tmp_path)
    text = new.read_text(encoding="utf-8")
    done = _run(str(HELPDESK), str(new), "-o", str(new))
    assert done.returncode == 2
    assert f"-o {new} is a flow being compared" in done.stderr
    assert new.read_text(encoding="utf-8") == text


def test_output_over_a_yaml_file_is_refused(tmp_path: Path) -> None:
    # `diff old new -o lib/confirm.subflow.yaml` replaced a sub-flow the flows call
    part = tmp_path / "confirm.subflow.yaml"
    text = (ROOT / "flows" / "lib" / "confirm.subflow.yaml").read_text(encoding="utf-8")
    part.write_text(text, encoding="utf-8")
    new = _helpdesk_with_a_survey(tmp_path)
    done = _run(str(HELPDESK), str(new), "-o", str(part))
    assert done.returncode == 2
    assert f"-o {part} is a YAML file" in done.stderr
    assert part.read_text(encoding="utf-8") == text
