"""A flow made of several files in the review (``include:``, sub-flows): the graph names the
file of each line that is not the flow's own, the app serves every file of the flow and
nothing else, and problems in an included file are pinned on the state they are in."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.review.pages import ROOT, Page
from tests.review.test_pages import _client
from ucwa_flow.flow import load_flow

RESET = ROOT / "flows" / "password-reset.flow.yaml"
LIB = ROOT / "flows" / "lib"
PARTS = ("lib/desk.states.yaml", "lib/employee-id.subflow.yaml", "lib/confirm.subflow.yaml")


def test_nodes_and_edges_of_other_files_name_their_file() -> None:
    page = Page(_client(RESET).get("/flows/password-reset").text)
    nodes = page.nodes
    assert nodes["handoff"].get("data-line") == "12"
    assert nodes["handoff"].get("data-file") == "lib/desk.states.yaml"
    assert nodes["goodbye"].get("data-file") == "lib/desk.states.yaml"
    assert nodes["confirm/ask"].get("data-line") == "16"
    assert nodes["confirm/ask"].get("data-file") == "lib/confirm.subflow.yaml"
    assert nodes["employee-id/ask"].get("data-file") == "lib/employee-id.subflow.yaml"
    for own in ("menu", "identify", "confirm", "resetting"):
        assert nodes[own].get("data-file") is None, own  # the flow's own file: data-line alone
    desk = (LIB / "desk.states.yaml").read_text(encoding="utf-8").splitlines()
    assert desk[12 - 1] == "  handoff:"
    # every edge's line is in its file: the file it names, or the flow's own
    texts = {name: (ROOT / "flows" / name).read_text(encoding="utf-8") for name in PARTS}
    own = RESET.read_text(encoding="utf-8").splitlines()
    named = set()
    for edge in page.edges:
        line, file = int(edge.attrs["data-line"]), edge.get("data-file")
        lines = texts[file].splitlines() if file is not None else own
        assert 1 <= line <= len(lines), (file, line)
        named.add(file)
    assert named == {None, *PARTS}
    agent = [
        e for e in page.edges if e.get("data-from") == "any state" and e.get("data-to") == "handoff"
    ]
    assert [(e.get("data-file"), e.get("data-line")) for e in agent] == [
        ("lib/desk.states.yaml", "7")
    ]


def test_the_page_has_a_tab_per_file_and_the_flow_file_shown() -> None:
    page = Page(_client(RESET).get("/flows/password-reset").text)
    tabs = page.select("button", "source-file")
    assert [tab.get("data-file") for tab in tabs] == ["password-reset.flow.yaml", *PARTS]
    assert [tab.get("data-file") for tab in tabs if "current" in tab.classes] == [
        "password-reset.flow.yaml"
    ]
    main = page.select("main")[0]
    assert main.get("data-files") == "/flows/password-reset/files/"
    own = RESET.read_text(encoding="utf-8").splitlines()
    assert page.by_id(f"L{len(own)}") is not None
    assert page.by_id(f"L{len(own) + 1}") is None
    # a flow of one file has no tabs
    helpdesk = Page(_client(ROOT / "flows" / "helpdesk.flow.yaml").get("/flows/helpdesk").text)
    assert helpdesk.by_id("source-files") is None


@pytest.mark.parametrize("name", ["password-reset.flow.yaml", *PARTS])
def test_every_file_of_the_flow_is_served(name: str) -> None:
    response = _client(RESET).get(f"/flows/password-reset/files/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["file"] == name
    assert body["lines"] == (ROOT / "flows" / name).read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize(
    "path",
    [
        "helpdesk.flow.yaml",  # in the same folder, but no part of this flow
        "lib/../helpdesk.flow.yaml",
        "../pyproject.toml",
        "lib/../../pyproject.toml",
        "%2E%2E/pyproject.toml",
        "/etc/passwd",
        "%2Fetc%2Fpasswd",
        "lib",
        "lib/",
        "",
    ],
)
def test_any_other_path_is_refused(path: str) -> None:
    response = _client(RESET).get(f"/flows/password-reset/files/{path}")
    assert response.status_code == 404
    assert "root:" not in response.text
    assert "[project]" not in response.text


def test_a_file_of_another_flow_is_refused(tmp_path: Path) -> None:
    flow, _ = _with_include(tmp_path)
    (tmp_path / "lib" / "secret.txt").write_text("not a part\n", encoding="utf-8")
    client = _client(RESET, flow)
    assert client.get("/flows/split/files/lib/more.states.yaml").status_code == 200
    assert client.get("/flows/split/files/lib/secret.txt").status_code == 404
    assert client.get("/flows/password-reset/files/lib/more.states.yaml").status_code == 404
    assert client.get("/flows/nope/files/lib/more.states.yaml").status_code == 404


SPLIT = """\
version: 1
name: split
start: ask
include: [lib/more.states.yaml]
states:
  ask:
    enter:
      - say: Hello
    messages:
      - any: true
        goto: done
"""

MORE = """\
# states of the split flow
states:
  done:
    enter:
      - say: Bye
      - stop
  lost:
    enter:
      - say: nobody comes here
      - stop
"""


def _with_include(folder: Path) -> tuple[Path, Path]:
    (folder / "lib").mkdir()
    flow = folder / "split.flow.yaml"
    flow.write_text(SPLIT, encoding="utf-8")
    part = folder / "lib" / "more.states.yaml"
    part.write_text(MORE, encoding="utf-8")
    return flow, part


def test_a_problem_in_an_included_file_is_pinned_on_its_state(tmp_path: Path) -> None:
    flow, part = _with_include(tmp_path)
    result = load_flow(flow)
    [problem] = [d for d in result.diagnostics if d.code == "F103"]
    assert (Path(problem.file), problem.line) == (part, 7)
    page = Page(_client(flow).get("/flows/split").text)
    [item] = [e for e in page.elements if e.tag == "li" and e.text == str(problem)]
    assert item.get("data-line") == "7"
    assert item.get("data-file") == "lib/more.states.yaml"
    assert item.get("data-state") == "lost"
    nodes = page.nodes
    assert "has-problem" in nodes["lost"].classes
    # line 7 of the flow's own file is in ask: not where the problem is
    assert "has-problem" not in nodes["ask"].classes
    assert "has-problem" not in nodes["done"].classes
    assert (nodes["lost"].get("data-file"), nodes["lost"].get("data-line")) == (
        "lib/more.states.yaml",
        "7",
    )


def test_a_flow_that_does_not_load_still_draws_its_included_states(tmp_path: Path) -> None:
    flow, _ = _with_include(tmp_path)
    flow.write_text(SPLIT.replace("goto: done", "goto: nowhere"), encoding="utf-8")
    assert load_flow(flow).flow is None
    page = Page(_client(flow).get("/flows/split").text)
    nodes = page.nodes
    assert set(nodes) == {"ask", "done", "lost"}
    assert nodes["ask"].get("data-file") is None
    assert (nodes["done"].get("data-file"), nodes["done"].get("data-line")) == (
        "lib/more.states.yaml",
        "3",
    )
    assert "has-problem" in nodes["ask"].classes


def test_an_edited_included_file_is_shown_as_it_now_is(tmp_path: Path) -> None:
    flow, part = _with_include(tmp_path)
    client = _client(flow)
    assert "has-problem" in Page(client.get("/flows/split").text).nodes["lost"].classes
    part.write_text(MORE.replace("  lost:", "  found:"), encoding="utf-8")
    page = Page(client.get("/flows/split").text)
    assert "found" in page.nodes
    assert "lost" not in page.nodes
    served = client.get("/flows/split/files/lib/more.states.yaml").json()
    assert "  found:" in served["lines"]


def test_a_problem_in_a_sub_flow_is_pinned_on_its_state(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    flow = tmp_path / "caller.flow.yaml"
    flow.write_text(
        "version: 1\nname: caller\nstart: a\nstates:\n  a:\n    enter:\n"
        "      - call: {flow: lib/ask.subflow.yaml}\n      - stop\n",
        encoding="utf-8",
    )
    (tmp_path / "lib" / "ask.subflow.yaml").write_text(
        "version: 1\nsubflow: ask\nstart: q\nstates:\n  q:\n    enter:\n      - return: {}\n"
        "  orphan:\n    enter:\n      - return: {}\n",
        encoding="utf-8",
    )
    page = Page(_client(flow).get("/flows/caller").text)
    [item] = [e for e in page.elements if e.tag == "li" and "F103" in e.text]
    assert (item.get("data-file"), item.get("data-line")) == ("lib/ask.subflow.yaml", "8")
    assert item.get("data-state") == "ask/orphan"
    assert "has-problem" in page.nodes["ask/orphan"].classes
    assert "has-problem" not in page.nodes["a"].classes
