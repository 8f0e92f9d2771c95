"""Secret variables: the top-level ``secrets`` list, ``Flow.secrets`` and rule F121.

A secret must name a variable the flow declares or sets, from any of the four places a
flow sets one; a name that is none of them is a located error, reported with the other
problems of the file (also when the file has schema errors), and by ``validate``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
from click.testing import CliRunner

from ucwa_flow.cli import cli
from ucwa_flow.flow import RULES, Severity, load_flow, load_flow_text

HERE = Path(__file__).parent
BROKEN = HERE / "broken" / "f121-unknown-secret.flow.yaml"
SCHEMA = HERE.parents[1] / "schemas" / "flow.schema.json"

_FLOW = """\
    version: 1
    name: payment
    start: menu
    variables:
      pin: null
      card: {{secret: true}}
    secrets: {secrets}
    states:
      menu:
        messages:
          - match: '^(?P<code>\\d{{4}})$'
            set: {{tries: 1}}
            goto: menu
        enter:
          - webhook:
              url: https://example.com/check
              result: answer
              failure: [stop]
    outbound:
      to: sip:alice@contoso.com
      declined: [{{set: {{why: declined}}}}]
      no_answer: [stop]
    """


def _load(secrets: str) -> tuple[frozenset[str] | None, list[tuple[str, int, int, str]]]:
    result = load_flow_text(textwrap.dedent(_FLOW.format(secrets=secrets)), "f.flow.yaml")
    found = [(d.code, d.line, d.col, d.message) for d in result.diagnostics]
    return (result.flow.secrets if result.flow else None), found


def test_a_secret_can_name_every_kind_of_variable_a_flow_sets() -> None:
    secrets, found = _load("[pin, card, code, tries, answer, why]")
    assert found == []
    assert secrets == frozenset({"pin", "card", "code", "tries", "answer", "why"})


def test_a_default_that_looks_like_a_marker_is_only_a_default() -> None:
    # `card: {secret: true}` is a default value (any JSON value is): it marks nothing.
    result = load_flow_text(textwrap.dedent(_FLOW.format(secrets="[]")), "f.flow.yaml")
    flow = result.raise_for_errors()
    assert flow.secrets == frozenset()
    assert flow.variables["card"] == {"secret": True}


def test_the_full_flow_lists_secrets_and_a_flow_without_the_key_has_none() -> None:
    flow = load_flow(HERE / "flows" / "full.flow.yaml").raise_for_errors()
    assert flow.secrets == frozenset({"employee_id", "ticket"})
    text = (HERE.parents[1] / "flows" / "echo.flow.yaml").read_text("utf-8")
    assert "secrets" not in text
    assert load_flow_text(text).raise_for_errors().secrets == frozenset()


def test_a_secret_naming_no_variable_is_f121_at_the_list_item() -> None:
    secrets, found = _load("[pin, pni, message, card]")
    assert secrets is None  # an error: the flow is not usable
    assert found == [
        (
            "F121",
            7,
            16,
            "secret 'pni' is not a variable of this flow: no `variables` entry, `set`, "
            "regex capture or webhook `result` defines it; did you mean 'pin'?",
        ),
        ("F121", 7, 21, "secret 'message' is a name of the template context, not a variable"),
    ]
    assert RULES["F121"].severity is Severity.ERROR


def test_the_broken_example_names_every_source_and_two_mistakes() -> None:
    result = load_flow(BROKEN)
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [
        ("F121", 8, 5),
        ("F121", 9, 5),
    ]
    assert result.flow is None


def test_schema_errors_in_secrets_are_located_and_leave_the_other_names_checked() -> None:
    # A name that is not a variable name is cut alone: the misspelt one is still reported.
    _, found = _load("[pin, 9lives, pni]")
    assert [f[:3] for f in found] == [("S004", 7, 16), ("F121", 7, 24)]
    _, found = _load("pin")
    assert [f[:3] for f in found] == [("S003", 7, 10)]
    assert "expected a list" in found[0][3]
    _, found = _load("[pin, pin]")
    assert [(f[0], f[3]) for f in found] == [("S004", "secrets: has the same entry twice")]


def test_a_secret_set_only_in_a_broken_action_is_not_reported() -> None:
    # The only `set` of `tries` has a misspelt key: the cut removes it, so F121 on `tries`
    # could be an artefact of the cut and is dropped; the repaired file has no F121.
    text = textwrap.dedent(_FLOW.format(secrets="[tries]"))
    assert load_flow_text(text, "f").diagnostics == []
    broken = text.replace("set: {tries: 1}", "sett: {tries: 1}")
    found = [(d.code, d.line, d.col) for d in load_flow_text(broken, "f").diagnostics]
    assert found == [("S001", 12, 9)]


def test_validate_prints_f121_like_other_errors() -> None:
    result = CliRunner().invoke(cli, ["validate", "--format", "json", str(BROKEN)])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert [(d["code"], d["line"], d["col"]) for d in report["diagnostics"]] == [
        ("F121", 8, 5),
        ("F121", 9, 5),
    ]
    text = CliRunner().invoke(cli, ["validate", "-q", str(BROKEN)])
    assert text.stdout.splitlines()[0] == (
        f"{BROKEN}:8:5: F121 error: secret 'pni' is not a variable of this flow: no "
        "`variables` entry, `set`, regex capture or webhook `result` defines it; "
        "did you mean 'pin'?"
    )


def test_the_schema_describes_secrets_for_editors_and_a_stock_validator_checks_them() -> None:
    schema = json.loads(SCHEMA.read_text("utf-8"))
    entry = schema["properties"]["secrets"]
    assert "redacted" in entry["description"]
    validator = jsonschema.Draft202012Validator(schema)
    base = {"version": 1, "name": "x", "start": "a", "states": {"a": {"enter": ["stop"]}}}
    assert validator.is_valid({**base, "secrets": ["pin", "card_number"]})
    for bad in ("pin", ["9lives"], ["pin", "pin"], [{"pin": True}]):
        assert not validator.is_valid({**base, "secrets": bad}), bad
