"""A file that holds only null (``~``) is told as such, with what was expected.

It was reported as "the file has no YAML document", which sent the author looking for a
missing file or an encoding problem; ``~`` is a document, one that is null.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ucwa_flow.deploy import DeploymentError, load_deployment
from ucwa_flow.flow import load_flow
from ucwa_flow.testing._loader import load_script

FLOW = "a flow, a mapping with version, name, start, states"


@pytest.mark.parametrize(
    ("text", "where", "written"),
    [
        ("~\n", "1:1", "null (~)"),
        ("null\n", "1:1", "null (null)"),
        ("# a comment\n---\n~\n...\n", "3:1", "null (~)"),
        ("---\n", "2:1", "an empty document"),
    ],
)
def test_a_flow_of_only_null_says_so(tmp_path: Path, text: str, where: str, written: str) -> None:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(text, "utf-8")
    found = [str(d) for d in load_flow(path).errors]
    assert found == [f"{path}:{where}: Y007 error: the file holds only {written}: expected {FLOW}"]


def test_a_flow_of_only_comments_has_no_document(tmp_path: Path) -> None:
    path = tmp_path / "desk.flow.yaml"
    path.write_text("# nothing yet\n", "utf-8")
    found = [str(d) for d in load_flow(path).errors]
    assert found == [f"{path}:1:1: Y007 error: the file has no YAML document"]


def test_a_deployment_file_of_only_null_says_so(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text("~\n", "utf-8")
    with pytest.raises(DeploymentError) as caught:
        load_deployment(path, environ={})
    assert str(caught.value) == (
        f"{path}:1:1: Y007 error: the file holds only null (~): expected a deployment, a "
        "mapping with accounts"
    )


def test_a_test_script_of_only_null_says_so(tmp_path: Path) -> None:
    path = tmp_path / "desk.test.yaml"
    path.write_text("~\n", "utf-8")
    found = [str(d) for d in load_script(path).diagnostics]
    assert found == [
        f"{path}:1:1: Y007 error: the file holds only null (~): expected a test script, a "
        "mapping with flow and scenarios"
    ]


def test_a_sub_flow_of_only_null_names_what_a_sub_flow_holds(tmp_path: Path) -> None:
    # it said "a flow, a mapping with version, name, ...": an author who wrote name: then
    # got F133 (a sub-flow has no name, but subflow:)
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "ask.subflow.yaml").write_text("~\n", "utf-8")
    main = tmp_path / "desk.flow.yaml"
    main.write_text(
        "version: 1\nname: desk\nstart: a\nstates:\n  a:\n"
        "    enter: [{call: {flow: lib/ask.subflow.yaml}}]\n",
        "utf-8",
    )
    found = " ".join(str(d) for d in load_flow(main).errors)
    assert "expected a sub-flow, a mapping with version, subflow, start, states" in found
