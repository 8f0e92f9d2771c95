"""The flow JSON Schema: identical copies, documented properties, stock-validator checks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from ruamel.yaml import YAML

from ucwa_flow.flow._schema import SCHEMA_ID, schema_text

ROOT = Path(__file__).resolve().parents[2]
REPO_SCHEMA = ROOT / "schemas" / "flow.schema.json"
PACKAGED_SCHEMA = ROOT / "ucwa_flow" / "schemas" / "flow.schema.json"
FLOWS = sorted((ROOT / "flows").glob("*.flow.yaml")) + sorted(
    (Path(__file__).parent / "flows").glob("*.flow.yaml")
)


def test_the_two_copies_are_byte_identical() -> None:
    assert REPO_SCHEMA.read_bytes() == PACKAGED_SCHEMA.read_bytes()
    assert schema_text().encode("utf-8") == REPO_SCHEMA.read_bytes()


def test_schema_is_a_valid_versioned_draft_2020_12_schema() -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMA_ID
    jsonschema.Draft202012Validator.check_schema(schema)


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


def test_every_property_has_a_description_and_objects_are_closed() -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    for where, node in _objects(schema):
        for name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"{where}/properties/{name} has no description"
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} is open"


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
