"""The flow JSON Schema: the example flows pass a stock validator, a broken one fails (the
checks every published schema gets are in tests/test_schemas.py)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
REPO_SCHEMA = ROOT / "schemas" / "flow.schema.json"
FLOWS = sorted((ROOT / "flows").glob("*.flow.yaml")) + sorted(
    (Path(__file__).parent / "flows").glob("*.flow.yaml")
)


@pytest.mark.parametrize("path", FLOWS, ids=[p.name for p in FLOWS])
def test_each_flow_validates_with_a_stock_validator(path: Path) -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text("utf-8")), default=str))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert errors == [], [e.message for e in errors]


def test_there_are_flows_to_validate() -> None:
    assert FLOWS


def test_the_stock_validator_rejects_a_broken_flow() -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    data = {"version": 1, "name": "x", "start": "a", "states": {"a": {"enter": [{"sey": 1}]}}}
    assert not jsonschema.Draft202012Validator(schema).is_valid(data)


PARTS = sorted((ROOT / "flows").rglob("*.subflow.yaml")) + sorted(
    (ROOT / "flows").rglob("*.states.yaml")
)


@pytest.mark.parametrize("path", PARTS, ids=[p.name for p in PARTS])
def test_each_part_of_a_flow_validates_with_its_definition(path: Path) -> None:
    # a sub-flow against $defs/subflowFile, an included file against $defs/statesFile
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    root = "subflowFile" if path.name.endswith(".subflow.yaml") else "statesFile"
    rooted = {**schema["$defs"][root], "$defs": schema["$defs"]}
    data = json.loads(json.dumps(YAML(typ="safe").load(path.read_text("utf-8")), default=str))
    assert list(jsonschema.Draft202012Validator(rooted).iter_errors(data)) == []
    flow_errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert flow_errors, "a part is not a flow"


@pytest.mark.parametrize("path", PARTS, ids=[p.name for p in PARTS])
def test_each_part_names_its_definition_for_editors(path: Path) -> None:
    # the parts named the whole flow schema, so an editor reported every sub-flow's
    # `name` missing and its `subflow`, `params` and `returns` not allowed
    first = path.read_text("utf-8").splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix), first
    target, _, pointer = first.removeprefix(prefix).partition("#")
    assert (path.parent / target).resolve() == REPO_SCHEMA
    root = "subflowFile" if path.name.endswith(".subflow.yaml") else "statesFile"
    assert pointer == f"/$defs/{root}"


def test_the_schema_knows_include_call_and_return() -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    call = {"call": {"flow": "lib/x.subflow.yaml", "with": {"q": 1}, "returns": {"a": "b"}}}
    flow = {"version": 1, "name": "x", "start": "a", "include": ["lib/a.states.yaml"]}
    assert validator.is_valid({**flow, "states": {"a": {"enter": [call, "return"]}}})
    assert validator.is_valid({**flow, "states": {"a": {"enter": [{"return": {"a": 1}}]}}})
    bad_call = {"call": {"flow": "x", "returns": {"a": 1}}}
    assert not validator.is_valid({**flow, "states": {"a": {"enter": [bad_call]}}})
