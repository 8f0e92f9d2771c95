"""``ucwa-flow review FLOW...`` in a real Chromium: the flow list, every state of the helpdesk
drawn, a click on a state or an edge opens the YAML at its line, validate's problems pinned
on their nodes, and with ``--coverage`` the edges the tests never took drawn apart.

The app runs as a user starts it, an OS process on a free port (see ``_apps.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser._apps import app_process
from tests.browser._pages import HELPDESK, drawn_box, poll, states_of, ucwa_flow
from tests.browser._review import classes, css, in_view, one, open_page, state_lines
from tests.browser.conftest import Screenshot
from tests.trimmed import LEFT_OUT, trimmed_helpdesk_script

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


ORPHANS = """\
version: 1
name: orphans
start: hello
states:
  hello:
    enter:
      - say: Hi
    messages:
      - any: true
        goto: hello
  orphan:
    enter:
      - say: nobody comes here
"""


@pytest.fixture(scope="module")
def review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``ucwa-flow review`` of the helpdesk and of a flow with two warnings; its base URL."""
    folder = tmp_path_factory.mktemp("review")
    orphans = folder / "orphans.flow.yaml"
    orphans.write_text(ORPHANS, encoding="utf-8")
    # run where the file is, so its problems name it as a user who typed its name sees them
    args = ("review", str(HELPDESK), orphans.name, "--listen", "127.0.0.1:0")
    with app_process(folder / "app", *args, cwd=folder) as app:
        yield app.url()


def test_the_index_lists_every_flow(
    browser: WebDriver, screenshot: Screenshot, review: str
) -> None:
    browser.get(review + "/")
    links = poll(lambda: css(browser, "a.flow-link") or None, "the flow links")
    assert sorted(link.get_attribute("href") or "" for link in links) == [
        review + "/flows/helpdesk",
        review + "/flows/orphans",
    ]
    screenshot("review-index")
    [helpdesk] = [
        link for link in links if link.get_attribute("href") == review + "/flows/helpdesk"
    ]
    helpdesk.click()
    one(browser, "svg#graph")
    assert browser.current_url == review + "/flows/helpdesk"


def test_the_flow_page_shows_every_state_of_the_helpdesk(
    browser: WebDriver, screenshot: Screenshot, review: str
) -> None:
    open_page(browser, review + "/flows/helpdesk")
    lines = state_lines(HELPDESK)
    assert sorted(lines) == sorted(states_of(HELPDESK))
    for state, line in lines.items():
        node = one(browser, f"#node-{state}")
        assert node.tag_name == "g"
        assert "node" in classes(node)
        assert node.get_attribute("data-state") == state
        assert node.get_attribute("data-line") == str(line)
        assert state in node.text
        box = drawn_box(browser, node)
        assert box["width"] > 20, (state, box)
        assert box["height"] > 10, (state, box)
    assert not css(browser, "g.node.has-problem")  # the helpdesk is clean
    screenshot("review-helpdesk")


@pytest.mark.parametrize("state", ["menu", "open_ticket"])
def test_clicking_a_state_shows_its_source_line(
    browser: WebDriver, screenshot: Screenshot, review: str, state: str
) -> None:
    open_page(browser, review + "/flows/helpdesk")
    line = state_lines(HELPDESK)[state]
    node = one(browser, f"#node-{state}")
    node.click()
    poll(lambda: "selected" in classes(node), f"{state} selected")
    source = one(browser, f"#L{line}")
    poll(lambda: "current" in classes(source), f"#L{line} current")
    assert source.text.strip() == f"{state}:"
    assert [e.get_attribute("id") for e in css(browser, "#source li.current")] == [f"L{line}"]
    assert one(browser, "#location").text == f"helpdesk.flow.yaml:{line}"
    poll(lambda: in_view(browser, source), f"#L{line} scrolled into view")
    screenshot(f"review-helpdesk-source-{state}")


def test_clicking_an_edge_shows_its_source_line(
    browser: WebDriver, screenshot: Screenshot, review: str
) -> None:
    open_page(browser, review + "/flows/helpdesk")
    edges = css(browser, 'g.edge[data-from="ask_employee_id"][data-to="open_ticket"]')
    assert edges, "the employee ID's edge to open_ticket"
    edge = edges[0]
    line = int(edge.get_attribute("data-line") or "0")
    text = HELPDESK.read_text(encoding="utf-8").splitlines()
    assert line > state_lines(HELPDESK)["ask_employee_id"]
    assert line < state_lines(HELPDESK)["open_ticket"]
    # an edge is a thin line: the click goes to the element itself, wherever it is drawn
    browser.execute_script(
        "arguments[0].dispatchEvent(new MouseEvent('click', {bubbles: true}))", edge
    )
    poll(lambda: "selected" in classes(edge), "the edge selected")
    source = one(browser, f"#L{line}")
    poll(lambda: "current" in classes(source), f"#L{line} current")
    assert source.text.strip() == text[line - 1].strip()
    assert one(browser, "#location").text == f"helpdesk.flow.yaml:{line}"
    poll(lambda: in_view(browser, source), f"#L{line} scrolled into view")
    screenshot("review-helpdesk-source-edge")


def test_validate_problems_are_pinned_on_their_nodes(
    browser: WebDriver, screenshot: Screenshot, review: str
) -> None:
    open_page(browser, review + "/flows/orphans")
    problems = [li.text for li in poll(lambda: css(browser, "#problems li") or None, "problems")]
    assert any(
        p.startswith("orphans.flow.yaml:11:3: F103 warning: state 'orphan' cannot be reached")
        for p in problems
    ), problems
    assert any(p.startswith("orphans.flow.yaml:5:3: F104 warning: ") for p in problems), problems
    assert "has-problem" in classes(one(browser, "#node-orphan"))
    assert "has-problem" in classes(one(browser, "#node-hello"))
    screenshot("review-problems")


def _untaken_transitions(script: Path) -> list[str]:
    """The helpdesk's transitions ``script`` never takes, as ``ucwa-flow test --coverage``
    prints them."""
    done = ucwa_flow("test", str(script), "--coverage")
    assert done.returncode == 0, done.stdout + done.stderr
    listed = done.stdout.split("transitions never taken:\n", 1)[1]
    return [line.strip() for line in listed.splitlines() if line.startswith("  ")]


@pytest.fixture(scope="module")
def coverage_review(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``ucwa-flow review`` of the helpdesk with the coverage of a trimmed copy of its test
    script (the example scripts take every transition: the copy leaves two out)."""
    folder = tmp_path_factory.mktemp("coverage")
    script = trimmed_helpdesk_script(folder)
    results = folder / "results.json"
    done = ucwa_flow("test", str(script), "--coverage", "--json", str(results))
    assert done.returncode == 0, done.stdout + done.stderr
    args = ("review", str(HELPDESK), "--coverage", str(results), "--listen", "127.0.0.1:0")
    with app_process(folder / "app", *args) as app:
        yield app.url(), script


def test_coverage_draws_the_untaken_edges_apart(
    browser: WebDriver, screenshot: Screenshot, coverage_review: tuple[str, Path]
) -> None:
    url, script = coverage_review
    untaken = _untaken_transitions(script)
    assert len(untaken) == len(LEFT_OUT), untaken
    open_page(browser, url + "/flows/helpdesk")
    edges = poll(lambda: css(browser, "g.edge[data-count]") or None, "edges with counts")
    apart = [e for e in edges if "untaken" in classes(e)]
    assert len(apart) == len(untaken), untaken
    for edge in apart:
        assert edge.get_attribute("data-count") == "0"
    taken = [e for e in edges if "untaken" not in classes(e)]
    assert taken
    assert all(int(e.get_attribute("data-count") or "0") > 0 for e in taken)
    assert {(e.get_attribute("data-from"), e.get_attribute("data-to")) for e in apart} == set(
        LEFT_OUT.values()
    ), untaken
    welcome = [e for e in taken if e.get_attribute("data-from") == "welcome"]
    assert welcome, "the welcome's edges are all taken by the scripts"
    # drawn apart: an untaken edge's line is not styled as a taken one's
    look = (
        "const g = arguments[0], s = getComputedStyle(g.querySelector('path'));"
        "return [s.stroke, s.strokeDasharray, s.strokeOpacity, s.opacity,"
        " getComputedStyle(g).opacity];"
    )
    taken_looks = {tuple(browser.execute_script(look, e)) for e in taken}
    for edge in apart:
        assert tuple(browser.execute_script(look, edge)) not in taken_looks
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", apart[0])
    screenshot("review-coverage")


def test_the_review_app_is_self_contained(browser: WebDriver, review: str) -> None:
    """No CDN: everything the page loads comes from the app itself."""
    open_page(browser, review + "/flows/helpdesk")
    urls = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name);"
    )
    assert [u for u in urls if not u.startswith(review + "/")] == []
