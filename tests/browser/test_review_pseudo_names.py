"""States named like the graph's pseudo-nodes (``start``, ``end``, ``any state``): a stored
conversation through them, and a live one, are replayed on the edges they took, in a real
Chromium.

The page's script once found an edge by the names at its ends alone, so the start dot and
a state named ``start`` were one to it: entering ``end`` first lit the state ``start``'s
edge to the end dot too, and a global command into ``end`` was never lit where it was
taken. Edges are named here by their kind and source line, which both pictures share.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tests.browser._apps import app_process
from tests.browser._pages import poll
from tests.browser._review import classes, css, live_count, open_page, wait_live
from tests.browser.conftest import Screenshot

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

FLOW = """\
version: 1
name: names
description: States named like the graph's pseudo-nodes.
start: end

commands:
  menu:
    choice: [menu]
    goto: end

states:
  end:
    messages:
      - choice: [go]
        goto: start
  start:
    messages:
      - choice: [on]
        goto: any state
      - choice: [quit]
        do: [stop]
  any state:
    messages:
      - choice: [bye]
        do: [stop]
"""
# each edge as (kind, line): the start arrow into `end` has the line of the state `end`
START_TO_END = ("event", "12")
MENU = ("command", "7")  # any state (the pseudo-node) -> end
GO = ("message", "14")  # end -> start
ON = ("message", "18")  # start -> any state
QUIT = ("message", "20")  # start -> the end dot: never taken
BYE = ("message", "24")  # any state -> the end dot
CHAT = ["go", "menu", "go", "on", "bye"]


def _visited(browser: WebDriver) -> set[tuple[str, str]]:
    found = set()
    for edge in css(browser, "g.edge.visited"):
        kind = [c for c in classes(edge) if c not in ("edge", "loop", "visited")]
        found.add((" ".join(sorted(kind)), edge.get_attribute("data-line") or ""))
    return found


def _entered(browser: WebDriver) -> list[str]:
    return [
        step.get_attribute("data-state") or ""
        for step in css(browser, "#transcript li.step")
        if step.get_attribute("data-kind") == "enter"
    ]


def _current(browser: WebDriver) -> list[str]:
    return [e.get_attribute("data-state") or "" for e in css(browser, "g.node.current-step")]


def test_states_named_start_end_and_any_state_replay_on_their_own_edges(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    flow = tmp_path / "names.flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    assert flow.read_text(encoding="utf-8").splitlines()[11] == "  end:"
    store = tmp_path / "bot.sqlite3"
    with app_process(tmp_path / "run", "run", str(flow), "--state", str(store)) as run:
        for line in CHAT:
            run.type_line(line)
        assert run.finish() == 0, run.output()
    args = ("review", str(flow), "--store", str(store), "--listen", "127.0.0.1:0")
    with app_process(tmp_path / "review", *args) as app:
        browser.get(app.url() + "/")
        [link] = poll(lambda: css(browser, "li.stored a") or None, "the stored conversation")
        link.click()
        steps = poll(lambda: css(browser, "#transcript li.step") or None, "the replayed steps")
        enters = [
            step
            for step in steps
            if step.get_attribute("data-kind") == "enter"
            or step.get_attribute("data-kind") == "ended"
        ]
        states = [step.get_attribute("data-state") for step in enters]
        assert states == ["end", "start", "end", "start", "any state", "any state"], states

        # the first step: into `end` from the start dot, and nothing else
        enters[0].click()
        poll(lambda: _current(browser) == ["end"], "end current at the first step")
        assert _visited(browser) == {START_TO_END}
        # back into `end` by the global command, from the state `start`
        enters[2].click()
        poll(lambda: _current(browser) == ["end"], "end current again")
        assert _visited(browser) == {START_TO_END, GO, MENU}
        # the last step: the conversation ended in `any state`, by its own "bye"
        steps[-1].click()
        poll(lambda: _current(browser) == ["any state"], "any state current at the end")
        assert _visited(browser) == {START_TO_END, GO, MENU, ON, BYE}
        assert QUIT not in _visited(browser)
        visited_nodes = [
            (e.get_attribute("class") or "", e.get_attribute("data-state"))
            for e in css(browser, "g.node.visited")
        ]
        assert sorted(state or "" for _, state in visited_nodes) == ["any state", "end", "start"]
        assert all("state" in cls.split() for cls, _ in visited_nodes), visited_nodes
        screenshot("review-pseudo-names-replay")


def test_a_live_conversation_through_them_is_lit_on_its_own_edges(
    browser: WebDriver, screenshot: Screenshot, tmp_path: Path
) -> None:
    flow = tmp_path / "names.flow.yaml"
    flow.write_text(FLOW, encoding="utf-8")
    with app_process(tmp_path / "run", "run", str(flow), "--review", "127.0.0.1:0") as bot:
        open_page(browser, bot.url() + "/flows/names")
        wait_live(browser)
        bot.type_line("go")
        poll(lambda: live_count(browser, "start") == "1", "one conversation in the state start")
        bot.type_line("menu")
        poll(lambda: live_count(browser, "end") == "1", "the conversation back in the state end")
        poll(lambda: css(browser, "li.conversation") or None, "the conversation listed")[0].click()
        poll(lambda: _entered(browser) == ["end", "start", "end"], "the three states entered")
        poll(lambda: _current(browser) == ["end"], "the last step current")
        assert _visited(browser) == {START_TO_END, GO, MENU}
        screenshot("review-pseudo-names-live")
