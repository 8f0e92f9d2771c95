"""The deployment schema (printed by ``ucwa-flow schema deploy``, its duration pattern the
parser's) and ``deploy.example.yaml``; tests/test_schemas.py checks it as every schema."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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

ROOT = Path(__file__).resolve().parents[2]
REPO_SCHEMA = ROOT / "schemas" / "deploy.schema.json"
EXAMPLE = ROOT / "deploy.example.yaml"
#: what the example needs from the environment
EXAMPLE_ENV = {"TICKET_URL": "https://tickets.contoso.com/api"}


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


@pytest.mark.timeout(60)
def test_loading_a_valid_deployment_imports_no_jsonschema() -> None:
    # the quick check answers for a deployment without errors, and for its ${...} values
    # (none a number): jsonschema, 60-100 ms of CPU to import, is only to word errors
    script = (
        "import sys\n"
        "from ucwa_flow.deploy import load_deployment\n"
        f"load_deployment({str(EXAMPLE)!r}, environ={EXAMPLE_ENV!r})\n"
        "sys.stdout.write('imported: ' + ' '.join(m for m in ['jsonschema'] if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "imported: "


def test_the_example_needs_its_variables() -> None:
    with pytest.raises(Exception, match="D101 error: environment variable TICKET_URL"):
        load_deployment(EXAMPLE, environ={})


def test_the_reference_lists_every_code() -> None:
    reference = (ROOT / "docs" / "deploy.md").read_text("utf-8")
    for code, summary in DEPLOY_RULES.items():
        assert f"| `{code}` |" in reference, code
        assert summary in reference, summary
