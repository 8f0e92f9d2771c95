"""Every published JSON Schema (the flow's, the deployment file's): two byte-identical
copies (``schemas/`` and the package's), a valid versioned draft 2020-12 schema, every
property documented and every object closed."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from ucwa_flow.deploy._schema import SCHEMA_ID as DEPLOY_ID
from ucwa_flow.deploy._schema import deploy_schema_text
from ucwa_flow.flow._schema import SCHEMA_ID as FLOW_ID
from ucwa_flow.flow._schema import schema_text

ROOT = Path(__file__).resolve().parents[1]
#: name -> (its $id, the text the package serves)
SCHEMAS: dict[str, tuple[str, Callable[[], str]]] = {
    "flow": (FLOW_ID, schema_text),
    "deploy": (DEPLOY_ID, deploy_schema_text),
}
pytestmark = pytest.mark.parametrize("name", sorted(SCHEMAS))


def _published(name: str) -> Path:
    return ROOT / "schemas" / f"{name}.schema.json"


def test_the_two_copies_are_byte_identical(name: str) -> None:
    packaged = ROOT / "ucwa_flow" / "schemas" / f"{name}.schema.json"
    assert _published(name).read_bytes() == packaged.read_bytes()
    assert SCHEMAS[name][1]().encode("utf-8") == _published(name).read_bytes()


def test_schema_is_a_valid_versioned_draft_2020_12_schema(name: str) -> None:
    schema = json.loads(_published(name).read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == SCHEMAS[name][0]
    jsonschema.Draft202012Validator.check_schema(schema)


def _objects(node: Any, where: str = "#") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        yield where, node
        for key, value in node.items():
            yield from _objects(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _objects(value, f"{where}/{i}")


def test_every_property_has_a_description_and_objects_are_closed(name: str) -> None:
    schema = json.loads(_published(name).read_text("utf-8"))
    for where, node in _objects(schema):
        for prop_name, prop in node.get("properties", {}).items():
            assert prop.get("description"), f"{where}/properties/{prop_name} has no description"
        if node.get("type") == "object" and "properties" in node:
            assert node.get("additionalProperties") is False, f"{where} is open"


def test_every_pattern_refuses_a_final_line_break(name: str) -> None:
    """jsonschema uses ``re.search``, where ``$`` also matches before a final ``\\n``:
    every anchored pattern ends ``(?!\\n)$`` (ECMA-262 reads it as ``$``)."""
    schema = json.loads(_published(name).read_text("utf-8"))
    patterns = [node["pattern"] for _where, node in _objects(schema) if "pattern" in node]
    assert patterns
    for pattern in patterns:
        assert pattern.startswith("^"), pattern
        assert pattern.endswith("(?!\\n)$"), pattern
        assert re.compile(pattern).search("\n") is None, pattern
