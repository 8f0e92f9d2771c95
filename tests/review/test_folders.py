"""``ucwa-flow review`` takes a folder, as ``validate`` and ``test`` do, and a file once.

A folder stands for every ``*.flow.yaml`` below it (the parts of flows, test scripts and
other YAML are no pages); a folder without any is one line and exit status 2. A file named
twice (``review flows/ flows/helpdesk.flow.yaml``, ``x.yaml`` and ``x.flow.yaml``) is
reviewed once: it ended the review, status 1, as "two flows of one name".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.guards import WAIT
from tests.review.pages import HELPDESK, ROOT, Page
from tests.review.processes import Command

_FLOW = """\
version: 1
name: {name}
start: echo
settings: {{idle_timeout: 10m}}
states:
  echo:
    messages:
      - any: true
        say: "You said: {{{{ message }}}}"
"""


async def _served(args: list[str], log: Path) -> tuple[str, list[str]]:
    """What ``review ARGS`` says once it serves, and the flows its index lists."""
    review = Command(["review", *args, "--listen", "127.0.0.1:0"], log)
    try:
        url = await review.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            index = Page((await client.get("/")).text)
        said = review.output().splitlines()[0]
        return said, [link.text for link in index.select("a", "flow-link")]
    finally:
        await review.close()


async def test_a_folder_is_every_flow_file_below_it(tmp_path: Path) -> None:
    flows = tmp_path / "flows"
    (flows / "team" / "lib").mkdir(parents=True)
    (flows / "desk.flow.yaml").write_text(_FLOW.format(name="desk"), encoding="utf-8")
    (flows / "team" / "echo.flow.yaml").write_text(_FLOW.format(name="echo"), encoding="utf-8")
    # none of these is a flow's page: a test script, a part of a flow, other YAML
    (flows / "desk.test.yaml").write_text("flow: desk.flow.yaml\nscenarios: []\n", "utf-8")
    (flows / "team" / "lib" / "x.states.yaml").write_text("states: {}\n", encoding="utf-8")
    (flows / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    said, listed = await _served([str(flows)], tmp_path / "review.log")
    assert said.startswith("Reviewing desk, echo at http://127.0.0.1:"), said
    assert listed == ["desk", "echo"]


async def test_a_file_named_twice_is_reviewed_once(tmp_path: Path) -> None:
    said, listed = await _served([str(HELPDESK), str(HELPDESK)], tmp_path / "one.log")
    assert said.startswith("Reviewing helpdesk at http://127.0.0.1:"), said
    assert listed == ["helpdesk"]
    # in a folder given too, and as X.yaml for X.flow.yaml
    also = str(HELPDESK.with_name("helpdesk.yaml"))
    args = [str(HELPDESK.parent), str(HELPDESK), also]
    said, listed = await _served(args, tmp_path / "all.log")
    assert "Reviewing after-hours, echo, helpdesk, " in said
    assert listed.count("helpdesk") == 1
    assert len(listed) == len(set(listed)) == len(list(HELPDESK.parent.glob("*.flow.yaml")))


def test_a_folder_without_flows_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "desk.flow.yml").write_text(_FLOW.format(name="desk"), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "review", str(tmp_path), "--listen", "127.0.0.1:0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        f"ucwa-flow: error: {tmp_path}: no flows (*.flow.yaml) in it "
        "(desk.flow.yml: end its name in .yaml, not .yml)\n"
    )


async def test_an_editors_lock_file_and_hidden_files_are_no_flows(tmp_path: Path) -> None:
    # Emacs keeps `.#x.flow.yaml`, a link to nowhere, while x.flow.yaml is open: the review
    # of the folder refused to start ("no such flow file"), and a hidden `.flow.yaml` was
    # a page with an empty name
    flows = tmp_path / "flows"
    (flows / ".old").mkdir(parents=True)
    (flows / "echo.flow.yaml").write_text(_FLOW.format(name="echo"), encoding="utf-8")
    (flows / ".#echo.flow.yaml").symlink_to("someone@host.4242:1733200000")
    (flows / ".flow.yaml").write_text(_FLOW.format(name="hidden"), encoding="utf-8")
    (flows / ".old" / "x.flow.yaml").write_text(_FLOW.format(name="old"), encoding="utf-8")
    said, listed = await _served([str(flows)], tmp_path / "review.log")
    assert said.startswith("Reviewing echo at http://127.0.0.1:"), said
    assert listed == ["echo"]


def test_a_loop_of_links_is_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "a.flow.yaml"
    loop.symlink_to(loop.name)
    done = subprocess.run(
        [sys.executable, "-m", "ucwa_flow", "review", str(loop), "--listen", "127.0.0.1:0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "a.flow.yaml" in done.stderr


_SPLIT = """\
version: 1
name: split
start: ask
include: [lib/more.states.yaml]
states:
  ask:
    messages:
      - any: true
        goto: done
"""


async def test_a_flow_saved_in_the_folder_since_the_start_is_shown(tmp_path: Path) -> None:
    # the folder was listed once, at the start: a flow saved there later had no page until
    # the review was started again, and one deleted stayed listed
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "desk.flow.yaml").write_text(_FLOW.format(name="desk"), encoding="utf-8")
    review = Command(["review", str(flows), "--listen", "127.0.0.1:0"], tmp_path / "review.log")
    try:
        url = await review.serving()
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:

            async def listed() -> list[str]:
                index = Page((await client.get("/")).text)
                return [link.text for link in index.select("a", "flow-link")]

            assert await listed() == ["desk"]
            (flows / "team").mkdir()
            (flows / "team" / "echo.flow.yaml").write_text(_FLOW.format(name="echo"), "utf-8")
            (flows / ".#desk.flow.yaml").symlink_to("someone@host.4242:1733200000")
            (flows / ".draft.flow.yaml").write_text(_FLOW.format(name="draft"), "utf-8")
            # the live routes know the new flow (this review has no live source: the name
            # passed), a page shows it, and the index lists it, hidden files still left out
            found = await client.get("/flows/echo/conversations/c1")
            assert found.json() == {"error": "this review has no live source"}, found.text
            assert (await client.get("/flows/echo")).status_code == 200
            assert await listed() == ["desk", "echo"]
            assert (await client.get("/flows/draft")).status_code == 404
            # deleted: gone from the index, its page a 404
            (flows / "team" / "echo.flow.yaml").unlink()
            assert await listed() == ["desk"]
            assert (await client.get("/flows/echo")).status_code == 404
            # a new flow that includes a file not written yet: shown with its problem,
            # and with the file once it is written and the flow saved again
            split = flows / "split.flow.yaml"
            split.write_text(_SPLIT, encoding="utf-8")
            page = (await client.get("/flows/split")).text
            assert "F130" in page
            (flows / "lib").mkdir()
            (flows / "lib" / "more.states.yaml").write_text(
                "states:\n  done:\n    enter: [stop]\n", encoding="utf-8"
            )
            split.write_text(_SPLIT + "# saved again\n", encoding="utf-8")
            page = (await client.get("/flows/split")).text
            assert "F130" not in page
            assert 'data-file="lib/more.states.yaml"' in page
            assert await listed() == ["desk", "split"]  # a part of a flow is no page
    finally:
        await review.close()


async def test_a_flows_name_is_printed_with_its_control_characters_escaped(
    tmp_path: Path,
) -> None:
    # a flow from a pull request named "\e]0;...\a\e[2J" set the reviewer's terminal title
    # and cleared its screen
    flow = tmp_path / "desk.flow.yaml"
    flow.write_text(_FLOW.format(name='"desk\\e]0;owned\\a\\e[2J"'), encoding="utf-8")
    said, listed = await _served([str(flow)], tmp_path / "review.log")
    assert said.startswith("Reviewing desk\\u001b]0;owned\\u0007\\u001b[2J at http://"), said
    assert listed == ["desk\x1b]0;owned\x07\x1b[2J"]  # the page shows it as it is, escaped
