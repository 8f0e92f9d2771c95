"""How often the review loads its flows: an edit is shown on the next page load, and the
live routes, which the page asks on every update of the conversation it shows, load no
flow and look at no file of a flow they know.

``/flows/{name}/events`` and ``/flows/{name}/conversations/{id}`` checked the name with
the page's lookup, which looks at every file of every flow and reloads each one edited
since: an edit of one flow was loaded by the live routes of another, and every update
looked at every file of the review. Counted here, as loads and file looks, on a real
server on loopback.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.guards import WAIT
from tests.review.pages import ROOT
from ucwa_flow.live import LiveBoard
from ucwa_flow.review import FlowShelf, ReviewServer, _shelf, create_app

_ECHO = """\
version: 1
name: {name}
start: echo
settings: {{idle_timeout: 10m}}
{include}states:
  echo:
    messages:
      - any: true
        say: "You said: {{{{ message }}}}"
"""
_DESK = """\
states:
  desk:
    enter: [stop]
"""


class _Counts:
    def __init__(self) -> None:
        self.loads: list[str] = []
        self.looks = 0


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> _Counts:
    """Every flow the review loads (its file's name) and every file it looks at."""
    counts = _Counts()
    load, look = _shelf.review_flow, _shelf._stamp

    def counted_load(path: str | Path) -> _shelf.ReviewedFlow:
        counts.loads.append(Path(path).name)
        return load(path)

    def counted_look(path: Path) -> tuple[int, int] | None:
        counts.looks += 1
        return look(path)

    monkeypatch.setattr(_shelf, "review_flow", counted_load)
    monkeypatch.setattr(_shelf, "_stamp", counted_look)
    return counts


@contextlib.asynccontextmanager
async def _serving(shelf: FlowShelf) -> AsyncIterator[httpx.AsyncClient]:
    server = ReviewServer(create_app(shelf, live=LiveBoard()), "127.0.0.1", 0)
    url = await server.start()
    try:
        async with httpx.AsyncClient(base_url=url, timeout=WAIT) as client:
            yield client
    finally:
        await server.stop()


async def _live_routes(client: httpx.AsyncClient, name: str) -> None:
    """What a flow's page asks while it follows the live feed: the stream, and the
    conversation it shows, again on each update."""
    async with client.stream("GET", f"/flows/{name}/events") as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                break  # the first event: the stream is served
    for _ in range(3):
        found = await client.get(f"/flows/{name}/conversations/c1")
        assert found.json() == {"error": "no such conversation"}, found.text


def _aged(path: Path) -> None:
    """Date ``path`` a minute back: a file new to a flow whose time is close to the load's
    is looked at again on the next lookup (it may have changed while it was read)."""
    past = time.time_ns() - 60 * 10**9
    os.utime(path, ns=(past, past))


def _write(path: Path, name: str, include: str = "") -> None:
    text = _ECHO.format(name=name, include=f"include: [{include}]\n" if include else "")
    before = path.stat().st_size if path.exists() else None
    path.write_text(text, encoding="utf-8")
    assert path.stat().st_size != before  # an edit the size tells, whatever the clock


async def test_live_routes_load_no_flow_and_look_at_no_file(
    tmp_path: Path, counted: _Counts
) -> None:
    one, other = tmp_path / "one.flow.yaml", tmp_path / "other.flow.yaml"
    _write(one, "one")
    _write(other, "other")
    shelf = FlowShelf.load([one, other])
    assert counted.loads == ["one.flow.yaml", "other.flow.yaml"]
    async with _serving(shelf) as client:
        _write(other, "other!")  # an edit of the other flow
        _write(one, "one", "desk.states.yaml")  # and of this one
        (tmp_path / "desk.states.yaml").write_text(_DESK, encoding="utf-8")
        _aged(tmp_path / "desk.states.yaml")
        counted.looks = 0
        await _live_routes(client, "one")
        assert counted.loads[2:] == []  # neither edit loaded by the live routes
        assert counted.looks == 0
        # the next page load shows them: each flow loaded once
        assert 'data-file="desk.states.yaml"' in (await client.get("/flows/one")).text
        assert "other!" in (await client.get("/")).text
        assert sorted(counted.loads[2:]) == ["one.flow.yaml", "other.flow.yaml"]


async def test_an_edit_is_loaded_once(tmp_path: Path, counted: _Counts) -> None:
    # an edit that adds a file to the flow (an include) was loaded again on the next
    # lookup: the files the flow was made of before the edit were the ones noted
    flow = tmp_path / "one.flow.yaml"
    _write(flow, "one")
    async with _serving(FlowShelf.load([flow])) as client:
        _write(flow, "one", "desk.states.yaml")
        (tmp_path / "desk.states.yaml").write_text(_DESK, encoding="utf-8")
        _aged(tmp_path / "desk.states.yaml")
        assert 'data-file="desk.states.yaml"' in (await client.get("/flows/one")).text
        assert counted.loads == ["one.flow.yaml", "one.flow.yaml"]
        await client.get("/flows/one")
        await client.get("/")
        await _live_routes(client, "one")
        assert counted.loads == ["one.flow.yaml", "one.flow.yaml"]
        # an edit of the included file is an edit of the flow
        (tmp_path / "desk.states.yaml").write_text(_DESK + "\n# more\n", encoding="utf-8")
        await client.get("/flows/one")
        await client.get("/flows/one")
        assert counted.loads == ["one.flow.yaml"] * 3


async def test_a_flow_renamed_in_its_file_is_found_by_its_new_name(
    tmp_path: Path, counted: _Counts
) -> None:
    # what the live routes' lookup is for: a name not in the review is a 404, and a flow
    # renamed since the last look is in it under its new name, found by a fresh look
    one = tmp_path / "one.flow.yaml"
    _write(one, "one")
    async with _serving(FlowShelf.load([one])) as client:
        missing = await client.get("/flows/nope/conversations/c1")
        assert missing.status_code == 404
        assert missing.json() == {"error": "no flow called 'nope' in this review"}
        _write(one, "renamed")
        await _live_routes(client, "renamed")
        assert counted.loads == ["one.flow.yaml", "one.flow.yaml"]
        assert "renamed" in (await client.get("/")).text


def test_a_file_named_twice_is_loaded_once(counted: _Counts) -> None:
    helpdesk = ROOT / "flows" / "helpdesk.flow.yaml"
    again = helpdesk.parent / ".." / "flows" / helpdesk.name
    shelf = FlowShelf.load([helpdesk, ROOT / "flows" / "helpdesk.yaml", again])
    assert [flow.name for flow in shelf.all()] == ["helpdesk"]
    assert counted.loads == ["helpdesk.flow.yaml"]


async def test_an_include_written_while_it_is_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a file new to the flow was stamped after the load had read it: written again during
    # the load, its change counted as seen, and the older picture stayed until the next edit
    flow, desk = tmp_path / "one.flow.yaml", tmp_path / "desk.states.yaml"
    _write(flow, "one")
    shelf = FlowShelf.load([flow])
    load = _shelf.review_flow

    def load_then_save(path: str | Path) -> _shelf.ReviewedFlow:
        loaded = load(path)
        if "saved again" not in desk.read_text(encoding="utf-8"):
            desk.write_text(_DESK.replace("desk:", "desk2:") + "# saved again\n", "utf-8")
        return loaded

    monkeypatch.setattr(_shelf, "review_flow", load_then_save)
    desk.write_text(_DESK, encoding="utf-8")
    _write(flow, "one", "desk.states.yaml")
    assert "desk" in shelf.all()[0].flow.states  # type: ignore[union-attr]
    assert "desk2" in shelf.all()[0].flow.states  # type: ignore[union-attr]


async def test_live_routes_do_not_list_a_reviewed_folder(tmp_path: Path, counted: _Counts) -> None:
    # a folder is listed again on a page load (a flow saved there since is shown), not by the
    # live routes of a flow they know
    _write(tmp_path / "one.flow.yaml", "one")
    async with _serving(FlowShelf.load([tmp_path])) as client:
        _write(tmp_path / "two.flow.yaml", "two")
        counted.looks = 0
        await _live_routes(client, "one")
        assert counted.loads == ["one.flow.yaml"]
        assert counted.looks == 0
        assert "two" in (await client.get("/flows/two")).text
        assert counted.loads == ["one.flow.yaml", "two.flow.yaml"]


def test_a_file_named_on_its_own_stays_when_deleted_and_one_of_a_folder_goes(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "flows"
    folder.mkdir()
    _write(folder / "one.flow.yaml", "one")
    _write(tmp_path / "alone.flow.yaml", "alone")
    shelf = FlowShelf.load([folder, tmp_path / "alone.yaml"])  # X.yaml for X.flow.yaml
    assert [flow.name for flow in shelf.all()] == ["one", "alone"]
    _write(folder / "two.flow.yaml", "two")
    (tmp_path / "alone.flow.yaml").unlink()  # its last good picture stays, as for an edit
    assert [flow.name for flow in shelf.all()] == ["one", "two", "alone"]
    (folder / "one.flow.yaml").unlink()
    assert [flow.name for flow in shelf.all()] == ["two", "alone"]
    assert not shelf.knows("one")


def test_a_file_saved_since_with_the_name_of_a_reviewed_flow_is_left_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, counted: _Counts
) -> None:
    # a page is a flow's name: a copy saved in the folder was listed beside the flow (two
    # links to one page), and took the page over when its file sorted first
    _write(tmp_path / "m.flow.yaml", "echo")
    shelf = FlowShelf.load([tmp_path])
    original = shelf.get("echo")
    assert original is not None
    _write(tmp_path / "a-copy.flow.yaml", "echo")  # sorts first
    _write(tmp_path / "b.flow.yaml", "other")
    for _ in range(3):
        flows = shelf.all()
        assert [(flow.name, flow.path.name) for flow in flows] == [
            ("other", "b.flow.yaml"),
            ("echo", "m.flow.yaml"),
        ]
    # the copy is read once, not on each page load while it is unchanged
    assert counted.loads.count("a-copy.flow.yaml") == 1
    said = [r.getMessage() for r in caplog.records if r.name == "ucwa_flow.review._shelf"]
    copy = tmp_path / "a-copy.flow.yaml"
    assert said == [f"{copy}: left out: a flow named 'echo' is already reviewed"]
    # once the first is gone, the copy is the flow of that name
    (tmp_path / "m.flow.yaml").unlink()
    assert [(flow.name, flow.path.name) for flow in shelf.all()] == [
        ("echo", "a-copy.flow.yaml"),
        ("other", "b.flow.yaml"),
    ]


def test_hidden_folders_are_not_entered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the folder was walked whole (.git, .venv, caches) and hidden paths dropped afterwards,
    # on every page load
    _write(tmp_path / "one.flow.yaml", "one")
    (tmp_path / "sub" / ".git" / "deep").mkdir(parents=True)
    _write(tmp_path / "sub" / ".git" / "deep" / "x.flow.yaml", "x")
    listed: list[str] = []
    scandir = os.scandir

    def scanning(path: Any) -> Any:
        listed.append(Path(path).name)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", scanning)
    shelf = FlowShelf.load([tmp_path])
    assert [flow.name for flow in shelf.all()] == ["one"]
    assert "sub" in listed
    assert ".git" not in listed
    assert "deep" not in listed
