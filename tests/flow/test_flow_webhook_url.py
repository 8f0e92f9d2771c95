"""F123: a webhook URL that puts a value where it can change the request.

``url: "https://crm.example/find?q={{ message }}"`` validated clean, and the text
"a b&c" then made the request ``?q=a b&c``: a wrong query, silently. Checked through
``ucwa-flow validate``, with the line an author reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from ucwa_flow.cli import cli
from ucwa_flow.flow._url_parts import Unencoded, unencoded

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


_SAYS = {
    "query": "goes into the URL's query as it is: a value such as 'a b&c' makes a wrong "
    "request (and lets a caller write the query); add '| urlencode'",
    "path": "goes into the URL's path as it is: a value such as 'a/b' or '..' changes the "
    "path the request goes to; add '| urlsegment'",
    "host": "goes into the URL's host: a value such as 'evil.example/' sends the request "
    "and its headers to another server; keep the host fixed, or start the URL with the "
    "whole base URL ('{{ base_url }}/...')",
}


@pytest.mark.parametrize(
    ("url", "where", "values"),
    [
        ("https://crm.example/find?q={{ message }}", "query", "{{ message }}"),
        ("https://crm.example/people/{{ caller.name }}/card", "path", "{{ caller.name }}"),
        (
            "{{ base_url }}/find?q={{ message }}&page={{ page }}",
            "query",
            "{{ message }} and {{ page }}",
        ),
        ("https://crm.example/find?q={{ message | trim }}", "query", "{{ message | trim }}"),
        # urlencode leaves "/" and ".": "../../admin" walks the API's path
        (
            "https://crm.example/people/{{ message | urlencode }}/card",
            "path",
            "{{ message | urlencode }}",
        ),
        # the operands of ~ one by one, after the leading base URL
        ("{{ base_url ~ '/find?q=' ~ message }}", "query", "{{ message }}"),
        (
            "https://crm.example/find?q={{ message | urlencode ~ '&x=' ~ tenant }}",
            "query",
            "{{ tenant }}",
        ),
        ("{{ base_url + '/people/' + message }}", "path", "{{ message }}"),
        # a value in the host (or right after the base URL) sends the request elsewhere
        ("{{ base_url }}{{ message }}", "host", "{{ message }}"),
        ("https://crm.example{{ message }}", "host", "{{ message }}"),
        ("https://{{ tenant }}.crm.example/find", "host", "{{ tenant }}"),
        ("https://{{ tenant | urlsegment }}.crm.example/find", "host", "{{ tenant | urlsegment }}"),
        ("https://{{ tenant }}@crm.example/find", "host", "{{ tenant }}"),
        # a name set to a value stands for it
        ("{% set q = message %}https://crm.example/find?q={{ q }}", "query", "{{ message }}"),
        (
            "{% set q = message | urlencode %}{% with q = message %}"
            "https://crm.example/find?q={{ q }}{% endwith %}",
            "query",
            "{{ q }}",
        ),
        (
            "{% for q in [message] %}https://crm.example/find?q={{ q }}{% endfor %}",
            "query",
            "{{ q }}",
        ),
        # one branch of an {% if %} runs: what follows is read after the least safe one
        (
            "https://crm.example{% if page %}/find?q={% endif %}{{ message | urlencode }}",
            "host",
            "{{ message | urlencode }}",
        ),
        (
            "{% set p = message %}{% if page %}{% set p = tenant | urlsegment %}{% endif %}"
            "https://crm.example/x/{{ p }}",
            "path",
            "{{ message }}",
        ),
        # what a loop sets stays in the loop
        (
            "{% set p = message %}{% for x in [page] %}{% set p = tenant | urlsegment %}"
            "{% endfor %}"
            "https://crm.example/x/{{ p }}",
            "path",
            "{{ message }}",
        ),
    ],
)
def test_a_value_that_can_change_the_request_is_a_warning(
    tmp_path: Path, url: str, where: str, values: str
) -> None:
    path, out = _validate(tmp_path, url)
    assert out == f"{path}:10:16: F123 warning: {values} {_SAYS[where]}\n"


def test_each_part_of_the_url_is_one_warning(tmp_path: Path) -> None:
    url = "https://{{ tenant }}.crm.example/people/{{ message }}/card?q={{ message }}"
    path, out = _validate(tmp_path, url)
    assert sorted(out.splitlines()) == sorted(
        f"{path}:10:16: F123 warning: {{{{ {value} }}}} {_SAYS[where]}"
        for where, value in (("host", "tenant"), ("path", "message"), ("query", "message"))
    )


@pytest.mark.parametrize(
    "url",
    [
        "{{ base_url }}/find",  # the whole base URL from a variable
        "{{ base_url }}",
        "{{ base_url ~ '/find?q=' ~ (message | urlencode) }}",
        "https://crm.example/find?q={{ message | urlencode }}",
        "https://crm.example/find?q={{ message | trim | urlencode }}&page={{ page | int }}",
        "https://crm.example/people/{{ message | urlsegment }}/card?q={{ message | urlsegment }}",
        "https://crm.example/people/{{ message | urlsegment | upper }}/card",
        "https://crm.example/find?q={{ message | urlencode ~ '&page=' ~ (page | int) }}",
        "{% set q = message | urlencode %}https://crm.example/find?q={{ q }}",
        "https://crm.example/find/{{ 'abc' | upper }}",  # a filter is no variable
        "https://crm.example/find/{{ page | float }}",
        "https://crm.example:8443/find?q={{ 'fixed' }}",  # no variable
        "{{ base_url }}/redirect?to=https://{{ tenant | urlencode }}",  # a "://" in the query
        "https://crm.example/find",
        "https://crm.example/find{% if page %}?q={{ message | urlencode }}"
        "{% else %}?id={{ tenant | urlencode }}{% endif %}",
        "{% if page %}{{ base_url }}{% else %}{{ base_url ~ '/v2' }}{% endif %}"
        "/find?q={{ message | urlencode }}",
        "https://crm.example/find?q={% if page %}{{ message | urlencode }}{% else %}-{% endif %}"
        "&page={{ page | int }}",
    ],
)
def test_a_base_url_or_an_encoded_value_is_not(tmp_path: Path, url: str) -> None:
    _, out = _validate(tmp_path, url)
    assert out == ""


@pytest.mark.timeout(60)
def test_names_set_to_names_stay_one_pass() -> None:
    """A name set to itself twice, 300 times over, would stand for 2**300 values if each
    were copied out: one that stands for many values is one value (as unsafe as its
    worst), and the warning is still there."""
    sets = "".join(f"{{% set v{i + 1} = v{i} ~ '-' ~ v{i} %}}" for i in range(300))
    source = "{% set v0 = message %}" + sets + "https://crm.example/find?q={{ v300 }}"
    assert unencoded(source) == [Unencoded("query", "{{ message }}")]


def test_a_url_too_deep_to_parse_is_left_to_its_compile_error() -> None:
    """F112 reports it; the F123 scan, which parses the URL again, does not raise."""
    deep = "(" * 1000 + "a" + ")" * 1000
    assert unencoded("https://crm.example/{{ " + deep + " }}") == []
