"""The review pages (``ucwa_flow.review``), rendered by the app through starlette's test
client: every state of the helpdesk flow with the DOM the browser tests rely on and the
right source lines, the source pane, problems pinned on a broken flow, the lifecycle
pages, a flow that is not YAML, and the static files."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.review.pages import HELPDESK, Page, state_line
from ucwa_flow.flow import load_flow
from ucwa_flow.review import FlowShelf, create_app


class _Client:
    """The app through httpx's ASGI transport (no socket), as a small sync facade."""

    def __init__(self, app: object) -> None:
        self.app = app

    def get(self, path: str) -> httpx.Response:
        import asyncio

        async def fetch() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
            async with httpx.AsyncClient(transport=transport, base_url="http://review") as c:
                return await c.get(path)

        return asyncio.run(fetch())


def _client(*paths: Path) -> _Client:
    return _Client(create_app(FlowShelf.load(list(paths))))


def test_the_index_links_every_flow() -> None:
    page = Page(_client(HELPDESK).get("/").text)
    links = page.select("a", "flow-link")
    assert [link.get("href") for link in links] == ["/flows/helpdesk"]


def test_every_state_of_helpdesk_with_its_line() -> None:
    response = _client(HELPDESK).get("/flows/helpdesk")
    assert response.status_code == 200
    page = Page(response.text)
    flow = load_flow(HELPDESK).flow
    assert flow is not None
    lines = HELPDESK.read_text(encoding="utf-8").splitlines()
    svg = page.by_id("graph")
    assert svg is not None
    assert svg.tag == "svg"
    nodes = page.nodes
    assert set(nodes) == set(flow.states)
    for state in flow.states:
        node = nodes[state]
        assert node.get("id") == f"node-{state}"
        assert node.get("data-line") == str(state_line(lines, state))
    live_counts = [e.get("data-state") for e in page.select("text", "live-count")]
    assert live_counts == []  # no live source: no counters


def test_every_edge_names_its_ends_and_a_line_inside_its_state() -> None:
    page = Page(_client(HELPDESK).get("/flows/helpdesk").text)
    lines = HELPDESK.read_text(encoding="utf-8").splitlines()
    edges = page.edges
    assert len(edges) > 20
    for edge in edges:
        source, line = edge.get("data-from"), edge.get("data-line")
        assert source is not None
        assert edge.get("data-to") is not None
        assert line is not None
        assert 1 <= int(line) <= len(lines)
        if source in page.nodes:
            assert int(line) >= int(page.nodes[source].attrs["data-line"])
    to_password = [
        e for e in edges if e.get("data-from") == "menu" and e.get("data-to") == "ask_employee_id"
    ]
    assert len(to_password) == 1
    assert "choice: [1, password" in lines[int(to_password[0].attrs["data-line"]) - 1]
    assert "untaken" not in {cls for e in edges for cls in e.classes}  # no coverage given


def test_the_source_pane_has_one_item_per_line() -> None:
    page = Page(_client(HELPDESK).get("/flows/helpdesk").text)
    lines = HELPDESK.read_text(encoding="utf-8").splitlines()
    items = [e for e in page.elements if e.tag == "li" and (e.get("id") or "").startswith("L")]
    assert [e.get("id") for e in items] == [f"L{n}" for n in range(1, len(lines) + 1)]
    source = page.by_id("source")
    assert source is not None
    assert source.tag == "ol"
    location = page.by_id("location")
    assert location is not None
    for element in ("transcript", "step-prev", "step-next", "step-play", "conversations"):
        assert page.by_id(element) is not None, element
    main = page.select("main")[0]
    assert main.get("data-file") == "helpdesk.flow.yaml"


BROKEN = """\
version: 1
name: broken
start: ask
settings:
  idle_timeout: 10m
states:
  ask:
    enter:
      - say: Hello
    messages:
      - keywords: [bye]
        goto: done
      - any: true
        goto: nowhere
  done:
    enter:
      - say: Bye
"""


def test_a_broken_flow_shows_its_problems_pinned_on_the_state(tmp_path: Path) -> None:
    path = tmp_path / "broken.flow.yaml"
    path.write_text(BROKEN, encoding="utf-8")
    result = load_flow(path)
    assert result.flow is None
    assert result.errors
    response = _client(path).get("/flows/broken")
    assert response.status_code == 200
    page = Page(response.text)
    problems = page.by_id("problems")
    assert problems is not None
    assert "hidden" not in problems.attrs
    items = [
        e for e in page.elements if e.tag == "li" and e.get("data-line") and "error" in e.classes
    ]
    assert [item.text for item in items] == [str(d) for d in result.errors]
    assert [item.get("data-state") for item in items] == ["ask"]
    nodes = page.nodes
    assert set(nodes) == {"ask", "done"}  # what can be drawn of it
    assert "has-problem" in nodes["ask"].classes
    assert "has-problem" not in nodes["done"].classes
    assert nodes["ask"].get("data-line") == "7"


def test_a_file_that_is_not_yaml_shows_its_problem_and_no_graph(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow.yaml"
    path.write_text("version: 1\nname: [oops\n", encoding="utf-8")
    page = Page(_client(path).get("/flows/bad").text)
    assert page.by_id("graph") is None
    assert page.select("li", "error")
    assert page.by_id("L2") is not None


def test_an_edited_file_is_shown_as_it_now_is(tmp_path: Path) -> None:
    path = tmp_path / "edit.flow.yaml"
    path.write_text(BROKEN.replace("name: broken", "name: edit"), encoding="utf-8")
    client = _client(path)
    assert "has-problem" in Page(client.get("/flows/edit").text).nodes["ask"].classes
    fixed = BROKEN.replace("name: broken", "name: edit").replace("goto: nowhere", "goto: done")
    path.write_text(fixed + "\n", encoding="utf-8")  # another size: seen even on a coarse clock
    assert "has-problem" not in Page(client.get("/flows/edit").text).nodes["ask"].classes


@pytest.mark.parametrize(
    ("kind", "states"),
    [
        ("conversation", {"Connecting", "Connected", "Disconnected"}),
        ("messaging", {"Connecting", "Connected", "Disconnected"}),
    ],
)
def test_lifecycle_pages_draw_the_machine(kind: str, states: set[str]) -> None:
    response = _client(HELPDESK).get(f"/lifecycle/{kind}")
    assert response.status_code == 200
    page = Page(response.text)
    assert states <= set(page.nodes)
    assert page.by_id("node-Connected") is not None
    counters = {e.get("data-state") for e in page.select("text", "live-count")}
    assert counters == set(page.nodes)


def test_unknown_pages_are_404() -> None:
    client = _client(HELPDESK)
    assert client.get("/flows/nope").status_code == 404
    assert client.get("/lifecycle/nope").status_code == 404
    assert client.get("/live").status_code == 404
    assert client.get("/flows/helpdesk/events").status_code == 404
    assert client.get("/transcripts/x").status_code == 404


def test_the_script_and_style_are_served_from_the_package() -> None:
    client = _client(HELPDESK)
    script = client.get("/static/review.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
    assert "ucwaShowLine" in client.get("/static/source.js").text
    style = client.get("/static/review.css")
    assert style.status_code == 200
    page = Page(client.get("/flows/helpdesk").text)
    fetched = [
        e.get("src") or e.get("href") or "" for e in page.select("script") + page.select("link")
    ]
    assert fetched
    assert all(not url.startswith(("http:", "https:", "//")) for url in fetched)
