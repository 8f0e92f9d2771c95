"""The deployment schema (two identical copies, a valid, documented, closed draft 2020-12
schema, printed by ``ucwa-flow schema deploy``) and ``deploy.example.yaml``."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner
from ruamel.yaml import YAML

from ucwa_flow.cli import cli
from ucwa_flow.deploy import (
    DEPLOY_RULES,
    deployment_flow_diagnostics,
    load_deployment,
)
from ucwa_flow.deploy._schema import SCHEMA_ID, deploy_schema_text

ROOT = Path(__file__).resolve().parents[2]
REPO_SCHEMA = ROOT / "schemas" / "deploy.schema.json"
PACKAGED_SCHEMA = ROOT / "ucwa_flow" / "schemas" / "deploy.schema.json"
EXAMPLE = ROOT / "deploy.example.yaml"
#: what the example needs from the environment
EXAMPLE_ENV = {"TICKET_URL": "https://tickets.contoso.com/api"}


def test_the_two_copies_are_byte_identical() -> None:
    assert REPO_SCHEMA.read_bytes() == PACKAGED_SCHEMA.read_bytes()
    assert deploy_schema_text().encode("utf-8") == REPO_SCHEMA.read_bytes()


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


@pytest.mark.parametrize(
    "text", ["10s", "30d", "1w", "1d12h", "1.5m", " 2 h ", "1D", "10", "s", "3 days", "1y", ""]
)
def test_the_duration_pattern_is_the_parsers(text: str) -> None:
    from ucwa_flow.deploy._schema import _DEPLOY
    from ucwa_flow.durations import parse_duration

    pattern = _DEPLOY.prepare(_DEPLOY.schema())["$defs"]["duration"]["pattern"]
    try:
        parse_duration(text)
        parsed = True
    except ValueError:
        parsed = False
    assert bool(re.search(pattern, text)) == parsed
    # the published schema lets an editor accept a substitution
    published = _DEPLOY.schema()["$defs"]["duration"]["pattern"]
    assert re.search(published, "${STOP_TIMEOUT:-10s}")


def test_schema_command_prints_it() -> None:
    result = CliRunner().invoke(cli, ["schema", "deploy"])
    assert result.exit_code == 0
    assert result.stdout == REPO_SCHEMA.read_text("utf-8")
    flow = CliRunner().invoke(cli, ["schema"])
    assert flow.stdout == (ROOT / "schemas" / "flow.schema.json").read_text("utf-8")


def test_the_example_validates_with_a_stock_validator() -> None:
    schema = json.loads(REPO_SCHEMA.read_text("utf-8"))
    data = YAML(typ="safe").load(EXAMPLE.read_text("utf-8"))
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert errors == [], [e.message for e in errors]


def test_the_example_loads_with_its_flows() -> None:
    deployment = load_deployment(EXAMPLE, environ=EXAMPLE_ENV)
    assert [a.id for a in deployment.accounts] == ["helpdesk", "hr", "after-hours"]
    helpdesk = deployment.accounts[0]
    assert len(helpdesk.flows) >= 2
    assert helpdesk.routes
    assert all(a.password.env or a.password.file for a in deployment.accounts)
    assert deployment.admin.token is not None
    assert deployment.admin.token.env is not None
    assert deployment.logging.format == "json"
    assert helpdesk.variables["ticket_url"] == EXAMPLE_ENV["TICKET_URL"]
    assert [str(d) for d in deployment_flow_diagnostics(deployment)] == []


def test_the_example_needs_its_variables() -> None:
    with pytest.raises(Exception, match="D101 error: environment variable TICKET_URL"):
        load_deployment(EXAMPLE, environ={})


def test_the_reference_lists_every_code() -> None:
    reference = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    for code, summary in DEPLOY_RULES.items():
        assert f"| `{code}` |" in reference, code
        assert summary in reference, summary
