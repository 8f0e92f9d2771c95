"""The self-contained pages of ``ucwa-flow graph --format html`` and ``ucwa-flow diff --format
html`` in a real Chromium: every state drawn, the added state marked, nothing fetched."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser._pages import HELPDESK, drawn_box, fetched_urls, states_of, ucwa_flow
from tests.browser.conftest import Screenshot
from ucwa_flow.graph._svg import MARK_STYLES

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver


def _rgb(hex_colour: str) -> str:
    red, green, blue = (int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgb({red}, {green}, {blue})"


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["left"] < b["left"] + b["width"]
        and b["left"] < a["left"] + a["width"]
        and a["top"] < b["top"] + b["height"]
        and b["top"] < a["top"] + a["height"]
    )


def _helpdesk_with_a_survey(tmp_path: Path) -> Path:
    text = HELPDESK.read_text(encoding="utf-8").replace(
        "\nstates:\n",
        "\nstates:\n  survey:\n    enter:\n      - say: How did we do?\n      - goto: menu\n",
        1,
    )
    copy = tmp_path / "helpdesk.flow.yaml"
    copy.write_text(text, encoding="utf-8")
    return copy


def test_the_graph_page_shows_every_state(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "helpdesk.html"
    done = ucwa_flow("graph", str(HELPDESK), "--format", "html", "-o", str(page))
    assert done.returncode == 0, done.stderr
    browser.get(page.as_uri())
    assert browser.title.startswith("helpdesk")
    svg = browser.find_element(By.CSS_SELECTOR, ".picture svg")
    picture = drawn_box(browser, svg)
    boxes = {}
    for state in states_of(HELPDESK):
        node = browser.find_element(By.CSS_SELECTOR, f'g.node[data-state="{state}"]')
        assert node.find_element(By.TAG_NAME, "text").text == state
        box = drawn_box(browser, node)
        assert box["width"] > 20, (state, box)
        assert box["height"] > 10, (state, box)
        assert picture["left"] <= box["left"], (state, box)
        assert picture["top"] <= box["top"], (state, box)
        assert box["left"] + box["width"] <= picture["left"] + picture["width"], (state, box)
        assert box["top"] + box["height"] <= picture["top"] + picture["height"], (state, box)
        boxes[state] = box
    for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
        assert not _overlap(box_a, box_b), f"{a} and {b} are drawn over each other"
    assert fetched_urls(browser) == []  # one self-contained file
    screenshot("graph-helpdesk")


def test_the_diff_page_marks_the_added_state(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    page = tmp_path / "diff.html"
    new = _helpdesk_with_a_survey(tmp_path)
    done = ucwa_flow("diff", str(HELPDESK), str(new), "--format", "html", "-o", str(page))
    assert done.returncode == 1, done.stderr  # 1: the versions differ
    browser.get(page.as_uri())
    survey = browser.find_element(By.CSS_SELECTOR, 'g.node[data-state="survey"]')
    assert survey.get_attribute("data-mark") == "added"
    assert "mark-added" in (survey.get_attribute("class") or "").split()
    assert survey.is_displayed()
    fill, stroke, _ = MARK_STYLES["added"]
    rect = survey.find_element(By.TAG_NAME, "rect")
    assert rect.value_of_css_property("fill") == _rgb(fill)
    assert rect.value_of_css_property("stroke") == _rgb(stroke)
    menu_rect = browser.find_element(By.CSS_SELECTOR, 'g.node[data-state="menu"] rect')
    assert menu_rect.value_of_css_property("fill") != _rgb(fill)  # untouched: unmarked
    added_edges = browser.find_elements(By.CSS_SELECTOR, 'g.edge.mark-added[data-source="survey"]')
    assert added_edges, "the survey's goto is drawn as an added edge"
    listed = browser.find_element(By.CSS_SELECTOR, '.changes h2.added[data-state="survey"]')
    assert listed.is_displayed()
    assert listed.text == "state survey: added"
    assert fetched_urls(browser) == []
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", survey)
    screenshot("diff-helpdesk-added-survey")
