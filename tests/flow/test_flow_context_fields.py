"""F124 reads the fields of the context's names only: not of a name a template binds.

A template that binds ``message``, ``flow``, ``caller`` or ``state`` itself (a loop's
target, ``set``, ``with``, a macro's or a call block's parameter) reads that name's fields,
not the context's; a value's parts are read one by one, and a finding is located at its
part. These flows are valid: F124, an error, refused to load them.
"""

from __future__ import annotations

from pathlib import Path

import pytest
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
    enter:
      - {line}
"""


def _validate(tmp_path: Path, line: str) -> tuple[int, str]:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(_FLOW.format(line=line), "utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    return result.exit_code, result.stdout.replace(f"{path}:", "")


@pytest.mark.parametrize(
    "line",
    [
        'say: "{{ message }} {% for message in items %}{{ message.text }}{% endfor %}"',
        "say: \"{% with flow = {'x': 1} %}{{ flow.x }}{% endwith %}{{ flow }}\"",
        'say: "{{ caller.name }} {% for caller in items %}{{ caller.id }}{% endfor %}"',
        "say: \"{{ state }} {% set state = {'label': 1} %}{{ state.label }}\"",
        'say: "{% macro show(message) %}{{ message.text }}{% endmacro %}{{ show(message) }}"',
        (  # a call block's parameter
            "say: \"{% macro box() %}{{ caller({'id': 1}) }}{% endmacro %}"
            "{% call(conversation) box() %}{{ conversation.id }}{% endcall %}"
            '{{ conversation.subject }}"'
        ),
        (  # in a macro, ``caller`` is the call block that called it
            'say: "{% macro box() %}[{{ caller.label }}]{% endmacro %}{{ caller.name }}"'
        ),
        (  # each part of a value on its own: a webhook's body
            'webhook:\n          url: "https://example.com/x"\n'
            "          failure: [stop]\n          json:\n"
            '            current: "{{ state }}"\n'
            '            list: "{% for state in items %}{{ state.label }}{% endfor %}"'
        ),
        (
            'set:\n          pair:\n            - "{{ caller.name }}"\n'
            '            - "{% for caller in items %}{{ caller.id }}{% endfor %}"'
        ),
    ],
)
def test_a_name_the_template_binds_is_not_the_contexts(tmp_path: Path, line: str) -> None:
    assert _validate(tmp_path, line) == (0, "")


def test_each_part_of_a_value_is_checked_on_its_own_at_its_own_line(tmp_path: Path) -> None:
    # one part binds `caller`, the other reads the context's: a field it has not, at line 14
    line = (
        'webhook:\n          url: "https://example.com/x"\n'
        "          failure: [stop]\n          json:\n"
        '            items: "{% for caller in items %}{{ caller.id }}{% endfor %}"\n'
        '            who: "{{ caller.nmae }}"\n'
        '            said: ["{{ message }}", "{{ message.text }}"]'
    )
    assert _validate(tmp_path, line) == (
        1,
        "14:18: F124 error: caller has no field 'nmae' (it has uri, name); "
        "did you mean 'name'?\n"
        "15:37: F124 error: message is a text, without a field 'text': write {{ message }}\n",
    )


def test_a_template_that_binds_another_name_is_still_checked(tmp_path: Path) -> None:
    line = 'say: "{% for item in items %}{{ item.id }}{% endfor %}{{ caller.nmae }}"'
    assert _validate(tmp_path, line) == (
        1,
        "9:14: F124 error: caller has no field 'nmae' (it has uri, name); did you mean 'name'?\n",
    )
