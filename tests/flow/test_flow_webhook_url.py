"""F123: a webhook URL that puts a value into its path or query without ``urlencode``.

``url: "https://crm.example/find?q={{ message }}"`` validated clean, and the text
"a b&c" then made the request ``?q=a b&c``: a wrong query, silently. Checked through
``ucwa-flow validate``, with the line an author reads.
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
variables: {{base_url: "https://crm.example", tenant: contoso, page: 1, found: null}}
states:
  menu:
    enter:
      - webhook:
          url: "{url}"
          result: found
          success: [stop]
          failure: [stop]
"""


def _validate(tmp_path: Path, url: str) -> tuple[Path, str]:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(_FLOW.format(url=url), "utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.exit_code == 0, result.output  # a warning: the flow runs
    return path, result.stdout


@pytest.mark.parametrize(
    ("url", "values"),
    [
        ("https://crm.example/find?q={{ message }}", "{{ message }}"),
        ("https://crm.example/people/{{ caller.name }}/card", "{{ caller.name }}"),
        ("{{ base_url }}/find?q={{ message }}&page={{ page }}", "{{ message }} and {{ page }}"),
        ("https://crm.example/find?q={{ message | trim }}", "{{ message | trim }}"),
    ],
)
def test_a_value_in_the_path_or_query_without_urlencode_is_a_warning(
    tmp_path: Path, url: str, values: str
) -> None:
    path, out = _validate(tmp_path, url)
    assert out == (
        f"{path}:10:16: F123 warning: {values} goes into the URL's path or query as it is: "
        "a value such as 'a b&c' makes a wrong request (and lets a caller write the query); "
        "add '| urlencode'\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "{{ base_url }}/find",  # the whole base URL from a variable
        "{{ base_url }}",
        "https://crm.example/find?q={{ message | urlencode }}",
        "https://crm.example/find?q={{ message | trim | urlencode }}&page={{ page | int }}",
        "https://{{ tenant }}.crm.example/find",  # the host
        "https://crm.example:8443/find?q={{ 'fixed' }}",  # no variable
        "https://crm.example/find",
    ],
)
def test_a_base_url_the_host_or_an_encoded_value_is_not(tmp_path: Path, url: str) -> None:
    _, out = _validate(tmp_path, url)
    assert out == ""
