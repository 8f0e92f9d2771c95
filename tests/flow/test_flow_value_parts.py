"""F106, F107, F112 and F161 in a value holding several templates are located at the
template.

A value (a ``set``, a webhook's ``json``, a call's ``with``) is a tree whose texts are
templates, its parts. F124 and a part that fails when it runs were reported at the part;
F106, F107, F112 and F161 were reported where the value starts, lines away from the template
at fault. Checked through ``ucwa-flow validate``, as an author sees them.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from ucwa_flow.cli import cli

_FLOW = """\
version: 1
name: desk
start: menu
settings: {{idle_timeout: 5m}}
variables: {{items: []}}
states:
  menu:
    messages:
      - match: '(?P<id>\\d+)'
        do:
{actions}
          - goto: menu
"""


def _validate(tmp_path: Path, actions: str) -> tuple[int, list[str]]:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(_FLOW.format(actions=actions), "utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    return result.exit_code, result.stdout.replace(f"{path}:", "").splitlines()


def test_an_unknown_variable_and_capture_are_located_at_their_part(tmp_path: Path) -> None:
    actions = """\
          - set:
              order:
                id: "{{ match.id }}"
                note: "for {{ custmer }} and {{ match.nope }}"
                lines: ["{{ items }}", "{{ match.id }}", "{{ match.other }}"]"""
    assert _validate(tmp_path, actions) == (
        1,
        [
            "14:23: F106 error: variable 'custmer' is used but never set or declared in "
            "`variables`",
            "14:23: F107 error: capture match.nope is not defined: the pattern defines only id",
            "15:58: F107 error: capture match.other is not defined: the pattern defines only id",
        ],
    )


def test_a_part_that_does_not_compile_is_located_at_the_part(tmp_path: Path) -> None:
    actions = """\
          - webhook:
              url: "https://example.com/orders"
              failure: [stop]
              json:
                id: "{{ match.id }}"
                items:
                  - 1
                  - "{{ items | nosuchfilter }}\""""
    assert _validate(tmp_path, actions) == (
        1,
        ["18:21: F112 error: template does not compile: no filter named 'nosuchfilter'"],
    )


def test_a_block_scalar_part_is_located_at_its_indicator(tmp_path: Path) -> None:
    # the part is a block scalar, lines below the value's start: at its `|`, and F112 says
    # which line of it does not compile
    actions = """\
          - set:
              mail:
                to: "{{ match.id }}"
                body: |
                  Dear customer,
                  your order {{ ordr }}
                  {% if %}
          - set:
              note:
                kind: text
                text: >
                  for {{ match.nope }}"""
    assert _validate(tmp_path, actions) == (
        1,
        [
            "14:23: F112 error: template does not compile (line 3 of it): "
            "Expected an expression, got 'end of statement block'",
            "21:23: F107 error: capture match.nope is not defined: the pattern defines only id",
        ],
    )
    # the same part, compiling: F106 at the `|` as well
    fixed = actions.replace("                  {% if %}\n", "")
    assert _validate(tmp_path, fixed)[1][0] == (
        "14:23: F106 error: variable 'ordr' is used but never set or declared in `variables`"
    )


def test_a_template_that_is_the_whole_value_is_located_at_the_value(tmp_path: Path) -> None:
    actions = """\
          - set:
              note: "for {{ custmer }}"
              count: "{{ (1 + }}\""""
    assert _validate(tmp_path, actions) == (
        1,
        [
            "12:21: F106 error: variable 'custmer' is used but never set or declared in "
            "`variables`",
            "13:22: F112 error: template does not compile: unexpected 'end of template'",
        ],
    )


def test_an_undeclared_campaign_name_is_located_at_its_part(tmp_path: Path) -> None:
    path = tmp_path / "survey.flow.yaml"
    path.write_text(
        """\
version: 1
name: survey
start: ask
outbound:
  to: [sip:ann@contoso.com]
  no_answer: [{log: none}]
  declined: [{log: declined}]
  campaign:
    variables: {yes: 0}
states:
  ask:
    enter:
      - set:
          tally:
            yes: "{{ campaign.yes }}"
            maybe: "{{ campaign.yess }}"
      - stop
""",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout.replace(f"{path}:", "").splitlines() == [
        "16:20: F161 error: campaign.yess is read, but it is not a campaign variable "
        "(declare it under outbound.campaign.variables; declared: yes)"
    ]
