"""Coverage in the review: ``ucwa-flow test --coverage --json PATH`` on the example tests
writes the document, and the review draws what it says (``untaken``, ``data-count``).

The example scripts take every transition; a trimmed copy of the helpdesk's script leaves
two out (the idle timeout, the declined invitation) so that the untaken are drawn too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.review.pages import HELPDESK, ROOT, Page
from tests.trimmed import trimmed_helpdesk_script
from ucwa_flow.cli import cli
from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.review import FlowShelf, create_app, load_coverage


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("coverage")
    path = folder / "results.json"
    script = trimmed_helpdesk_script(folder)
    outcome = CliRunner().invoke(cli, ["test", str(script), "--coverage", "--json", str(path)])
    assert outcome.exit_code == 0, outcome.output
    return path


def test_the_document_counts_every_edge_of_the_flow(results: Path) -> None:
    document = json.loads(results.read_text(encoding="utf-8"))
    assert document["format"] == "ucwa-flow-coverage"
    assert document["version"] == 1
    assert document["passed"] is True
    assert document["failed"] == 0
    (flow,) = document["flows"]
    assert flow["name"] == "helpdesk"
    assert Path(flow["file"]) == HELPDESK
    edges = flow["edges"]
    assert len(edges["list"]) == edges["total"]
    assert sum(1 for e in edges["list"] if e["count"] > 0) == edges["covered"]
    assert edges["covered"] == edges["total"] - 2  # the idle timeout, the decline
    assert flow["states"]["counts"]["welcome"] == document["scenarios"]  # none is declined
    assert all(isinstance(e["line"], int) for e in edges["list"])


def _document(results: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(results.read_text(encoding="utf-8"))
    return loaded


async def test_the_page_draws_untaken_edges_apart_with_counts(results: Path) -> None:
    document = _document(results)
    listed = document["flows"][0]["edges"]["list"]
    expected = {
        (e["from"], e["to"], e["line"]): e["count"] for e in listed
    }  # (from, to, line) names an edge of helpdesk uniquely but for a few twins
    app = create_app(FlowShelf.load([HELPDESK]), coverage=load_coverage(results))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://review") as client:
        page = Page((await client.get("/flows/helpdesk")).text)
    edges = page.edges
    assert len(edges) == len(listed)
    for edge in edges:
        count = int(edge.attrs["data-count"])
        assert ("untaken" in edge.classes) == (count == 0)
        key = (edge.get("data-from"), edge.get("data-to"), int(edge.attrs["data-line"]))
        assert key in expected
    idle = [e for e in edges if e.get("data-from") == "any state" and "timeout" in e.classes]
    assert [e.get("data-count") for e in idle] == ["0"]
    assert "untaken" in idle[0].classes
    entry = [e for e in edges if e.get("data-from") == "start" and e.get("data-to") == "welcome"]
    assert int(entry[0].attrs["data-count"]) == document["flows"][0]["states"]["counts"]["welcome"]
    assert sum(int(e.attrs["data-count"]) for e in edges) == sum(e["count"] for e in listed)


def test_a_file_that_is_no_coverage_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text('{"something": 1}', encoding="utf-8")
    with pytest.raises(UnreadableFileError, match="not a coverage file"):
        load_coverage(path)
    outcome = CliRunner().invoke(cli, ["review", str(HELPDESK), "--coverage", str(path)])
    assert outcome.exit_code != 0
    with pytest.raises(UnreadableFileError, match="cannot read"):
        load_coverage(tmp_path / "missing.json")
    path.write_text("[" * 5000 + "]" * 5000, encoding="utf-8")  # was a RecursionError
    # not "not JSON (JSON nested deeper ...)", which said it was not JSON and was
    with pytest.raises(UnreadableFileError, match=r": JSON nested too deeply \(more than 64 l"):
        load_coverage(path)


def test_a_coverage_file_of_another_version_says_which_is_read(
    tmp_path: Path, results: Path
) -> None:
    # version 2 was read as 1 and the review started; a document without `flows` said
    # "a coverage file with a bad entry ('flows')"
    document = _document(results)
    path = tmp_path / "next.json"
    for version, shown in ((2, "2"), ("1", '"1"'), (True, "true"), (None, "(none)")):
        path.write_text(json.dumps({**document, "version": version}), encoding="utf-8")
        with pytest.raises(UnreadableFileError) as raised:
            load_coverage(path)
        assert str(raised.value) == (
            f"{path}: coverage file version {shown} is not understood (this ucwa-flow reads "
            f"version 1): write it again with `ucwa-flow test --json {path}`"
        )
    path.write_text(json.dumps({**document, "version": 2}), encoding="utf-8")
    outcome = CliRunner().invoke(cli, ["review", str(HELPDESK), "--coverage", str(path)])
    assert isinstance(outcome.exception, UnreadableFileError)  # main(): one line, status 2
    del document["flows"]
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UnreadableFileError, match=r"^\S+: a coverage file without 'flows'$"):
        load_coverage(path)


def test_json_refuses_to_write_over_a_test_path() -> None:
    script = ROOT / "flows" / "helpdesk.test.yaml"
    before = script.read_bytes()
    outcome = CliRunner().invoke(cli, ["test", "--json", str(script)])
    assert outcome.exit_code == 2
    assert "is a test path" in outcome.output
    assert script.read_bytes() == before
    outcome = CliRunner().invoke(cli, ["test", "--json", str(ROOT / "flows")])
    assert outcome.exit_code == 2


def test_an_edge_from_another_file_names_it(tmp_path: Path) -> None:
    """password-reset includes lib/desk.states.yaml and calls sub-flows in lib/: their
    edges carry the file of their line (``null``: the flow file itself)."""
    path = tmp_path / "results.json"
    script = ROOT / "flows" / "password-reset.test.yaml"
    outcome = CliRunner().invoke(cli, ["test", str(script), "--json", str(path)])
    assert outcome.exit_code == 0, outcome.output
    (flow,) = _document(path)["flows"]
    files = {e["file"] for e in flow["edges"]["list"]}
    assert None in files
    assert "lib/desk.states.yaml" in files
    assert any(f is not None and f.endswith(".subflow.yaml") for f in files), files
