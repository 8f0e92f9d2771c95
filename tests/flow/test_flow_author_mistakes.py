"""A new author's first flow: the slips they make, and text in their own language.

Each slip is one line in an otherwise valid flow, checked through the command an author
runs (``ucwa-flow validate``): the line must be ``file:line:col: CODE severity: message``
at the character the author has to change, and the message must say what to do.
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
variables: {{name: null}}
states:
  menu:
    enter:
      - {line}
"""


def _validate(tmp_path: Path, line: str) -> str:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(_FLOW.format(line=line), "utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.exit_code == 1, result.output
    return result.stdout.removeprefix(f"{path}:")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "say: {{ name }}, welcome",  # the template is read as a mapping in a mapping
            "9:14: Y006 error: a text that starts with '{{' must be quoted: unquoted, YAML "
            "reads {{ ... }} as a mapping; put the whole text in double quotes\n",
        ),
        (
            "say: hello\t",  # an invisible tab at the end of the line
            "9:19: Y001 error: a tab character: YAML indents and separates with spaces only; "
            "use spaces (found character '\\t' that cannot start any token)\n",
        ),
        (
            "say: @all the desk is open",
            "9:14: Y001 error: a text cannot start with '@' in YAML: quote it "
            "(found character '@' that cannot start any token)\n",
        ),
        (
            "say: `menu` lists the options",
            "9:14: Y001 error: a text cannot start with '`' in YAML: quote it "
            "(found character '`' that cannot start any token)\n",
        ),
        (
            "say: *Important* read this",
            "9:14: Y003 error: alias *Important* is not allowed in flows "
            "(a text that starts with '*' must be quoted)\n",
        ),
        (
            "say: * one\n      - stop",
            "9:14: Y001 error: '*' starts a YAML alias: quote a text that starts with '*' "
            "(expected alphabetic or numeric character, but found ' ')\n",
        ),
        (
            'say: "Hello" and welcome',  # the quote closes the text; the rest is left over
            "9:22: Y001 error: text after a closing quote: a quoted text ends at its closing "
            "quote; quote the whole text (expected <block end>, but found '<scalar>')\n",
        ),
        (
            "do: [{say: Note: read this}]",
            "9:24: Y001 error: unexpected ':' (quote texts that contain ': ') "
            "(expected ',' or '}', but got ':')\n",
        ),
        (  # it was located at the end of the file, without a word of what to do
            'say: "Hello, welcome',
            "9:14: Y001 error: a quoted text is never closed: add its closing quote "
            "(found unexpected end of stream)\n",
        ),
        (
            "do: [{say: hello}, stop",
            "9:13: Y001 error: a '[' is never closed: add its ']' "
            "(expected ',' or ']', but got '<stream end>')\n",
        ),
        (  # it was located at the end of the next line, where the scanner gave up
            "stop\n    messages\n      - any: true",
            "10:5: Y001 error: a line is missing its ':' or is indented wrongly "
            "(could not find expected ':')\n",
        ),
        (  # the key of the item's mapping is not indented under it ('?' was the token)
            "say: hi\n      goto: menu",
            "10:7: Y001 error: bad indentation: this line does not line up with the ones "
            "above (expected <block end>, but found a key)\n",
        ),
        (  # no space after the colon: one text, not a key and its value
            "say:hi",
            "9:9: S004 error: states.menu.enter[0]: 'say:hi' is not one of: stop, typing, "
            "return; to write a key, put a space after its ':' (say: hi)\n",
        ),
    ],
    ids=[
        "template",
        "tab",
        "at",
        "backtick",
        "alias",
        "star",
        "after-quote",
        "colon-in-flow",
        "unclosed-quote",
        "unclosed-bracket",
        "missing-colon",
        "item-key-outdented",
        "glued-colon",
    ],
)
def test_a_yaml_slip_is_named_with_its_fix_at_its_place(
    tmp_path: Path, line: str, expected: str
) -> None:
    assert _validate(tmp_path, line) == expected


def test_text_after_the_document_has_no_parser_tuple_in_its_message(tmp_path: Path) -> None:
    path = tmp_path / "desk.flow.yaml"
    path.write_text("[desk]\nname = desk\n", "utf-8")  # an INI file saved as a flow
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:2:1: Y001 error: text after the end of the YAML document "
        "(expected '<document start>', but found '<scalar>')\n"
    )


def test_a_json_line_saved_as_a_flow_has_no_parser_tuple_in_its_message(tmp_path: Path) -> None:
    path = tmp_path / "desk.flow.yaml"
    path.write_text('{"version": 1}\n{"name": "desk"}\n', "utf-8")  # JSON lines
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:2:1: Y001 error: text after the end of the YAML document "
        "(expected '<document start>', but found '{')\n"
    )


def test_a_regex_that_does_not_compile_is_shown_as_written(tmp_path: Path) -> None:
    # A repr showed '^(?P<code>\\d{6}$': an author would look for a double backslash.
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop")
        + "    messages:\n      - match: '^(?P<code>\\d{6}$'\n        say: ok\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:11:16: F105 error: regex '^(?P<code>\\d{{6}}$' does not compile at position 16: "
        "missing )\n"
    )


@pytest.mark.parametrize(
    ("template", "name", "meant"),
    [
        ("Bye {{ callr.name }}", "callr", "caller"),
        ("You wrote {{ mesage }}", "mesage", "message"),
        ("Hello {{ nmae }}", "nmae", "name"),  # a declared variable is suggested as before
    ],
)
def test_a_misspelt_name_of_the_template_context_gets_a_did_you_mean(
    tmp_path: Path, template: str, name: str, meant: str
) -> None:
    assert _validate(tmp_path, f'say: "{template}"') == (
        f"9:14: F106 error: variable {name!r} is used but never set or declared in "
        f"`variables`; did you mean {meant!r}?\n"
    )


@pytest.mark.parametrize(("keyword", "shown"), [('""', "''"), ("' '", "' '")])
def test_an_empty_keyword_is_refused_not_a_silent_catch_all(
    tmp_path: Path, keyword: str, shown: str
) -> None:
    # `keywords: [""]` loaded, and took every message before the handlers after it
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop")
        + f"    messages:\n      - keywords: [help, {keyword}]\n        say: ok\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:11:26: S004 error: states.menu.messages[0].keywords[1]: {shown} is not a "
        "keyword (a word or phrase: not empty, not only spaces)\n"
    )


@pytest.mark.parametrize(("answer", "shown"), [('""', "''"), ("' '", "' '")])
def test_an_empty_choice_is_refused_as_an_empty_keyword_is(
    tmp_path: Path, answer: str, shown: str
) -> None:
    # `choice: [""]` loaded, and matched only a blank message, which never comes
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop")
        + f"    messages:\n      - choice: [yes, {answer}]\n        say: ok\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:11:23: S004 error: states.menu.messages[0].choice[1]: {shown} is not a "
        "choice (an answer: not empty, not only spaces)\n"
    )


_CHOICE = "a choice (an answer: not empty, not only spaces)"
_QUOTE = "(a YAML boolean): put the word in quotes to mean it as text"
_NULL_ITEM = (
    "the item is null (~, null or nothing): remove it, or write the text you meant in quotes"
)


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("true", f"expected {_CHOICE}, got true {_QUOTE}"),
        ("false", f"expected {_CHOICE}, got false {_QUOTE}"),
        ("~", _NULL_ITEM),
        ("null", _NULL_ITEM),
    ],
)
def test_a_boolean_or_null_choice_says_what_to_write(
    tmp_path: Path, answer: str, message: str
) -> None:
    # it said "expected a choice (an answer: not empty, not only spaces), got true"
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop")
        + f"    messages:\n      - choice: [yes, {answer}]\n        say: ok\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert (
        result.stdout == f"{path}:11:23: S003 error: states.menu.messages[0].choice[1]: {message}\n"
    )


def test_a_boolean_keyword_or_say_says_what_to_write(tmp_path: Path) -> None:
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="say: true")
        + "    messages:\n      - keywords: [false]\n        say: ok\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout.splitlines() == [
        f"{path}:9:14: S003 error: states.menu.enter[0].say: expected a text or a number, "
        f"got true {_QUOTE}",
        f"{path}:11:20: S003 error: states.menu.messages[0].keywords[0]: expected a keyword "
        f"(a word or phrase: not empty, not only spaces), got false {_QUOTE}",
    ]


def test_an_empty_language_keyword_is_refused(tmp_path: Path) -> None:
    # it marked every first message as German
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop").replace(
            "settings: {idle_timeout: 5m}",
            'settings: {idle_timeout: 5m, default_language: en, detect_language: {de: [""]}}',
        ),
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.stdout == (
        f"{path}:4:75: S004 error: settings.detect_language.de[0]: '' is not a keyword "
        "(a word or phrase: not empty, not only spaces)\n"
    )


@pytest.mark.parametrize(
    ("line", "where"),
    [
        ('say: ""', "9:14: S004 error: states.menu.enter[0].say"),
        ('say: {text: "", html: "<b>Hi</b>"}', "9:21: S004 error: states.menu.enter[0].say.text"),
    ],
)
def test_an_empty_say_is_refused_before_the_server_refuses_it(
    tmp_path: Path, line: str, where: str
) -> None:
    # it loaded, and each time it ran the server answered 400 "The message is empty."
    assert _validate(tmp_path, line) == f"{where}: must not be empty\n"


def test_a_chinese_keyword_answers_a_chinese_sentence(tmp_path: Path) -> None:
    # Chinese has no spaces between words: `茶` was never "a whole word" of 我要茶 (I want tea)
    (tmp_path / "tea.flow.yaml").write_text(
        "version: 1\nname: tea\nstart: menu\nsettings: {idle_timeout: 5m}\nstates:\n"
        "  menu:\n    messages:\n      - keywords: [茶]\n        say: 好的，一杯茶\n"
        "    no_match: [{say: 请再说一遍}]\n",
        "utf-8",
    )
    (tmp_path / "tea.test.yaml").write_text(
        "flow: tea.flow.yaml\nscenarios:\n  - name: tea\n    steps:\n      - invite\n"
        "      - say: 我要茶\n      - expect: {say: 好的，一杯茶}\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["test", str(tmp_path / "tea.test.yaml")])
    assert result.exit_code == 0, result.output
    assert "1 scenario: 1 passed, 0 failed" in result.output


def test_a_word_edge_in_double_quotes_is_a_backspace_and_validate_says_so(
    tmp_path: Path,
) -> None:
    # "\bvpn\b" loaded without a word and never matched "my vpn": YAML read \b as U+0008.
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        _FLOW.format(line="stop") + '    messages:\n      - match: "\\bvpn\\b"\n        say: ok\n',
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.exit_code == 0  # a warning: the flow runs
    assert result.stdout == (
        f"{path}:11:16: F122 warning: the regex holds a backspace character, which no message "
        "has: in double quotes YAML reads \\b as a backspace, not as a word edge; write the "
        "regex in single quotes\n"
    )


def test_a_regex_escape_in_double_quotes_says_to_use_single_quotes(tmp_path: Path) -> None:
    # the tutorial's example (section 6.4): line 7 holds the pattern in double quotes
    (tmp_path / "flows").mkdir()
    path = tmp_path / "flows" / "bad.flow.yaml"
    path.write_text(
        "version: 1\nname: bad\nstart: a\nstates:\n  a:\n    messages:\n"
        '      - match: "\\b(?P<employee_id>E\\d{6})\\b"\n        goto: a\n',
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    tutorial = (Path(__file__).parents[2] / "docs" / "tutorial.md").read_text("utf-8")
    shown = next(line for line in tutorial.splitlines() if line.startswith("flows/bad.flow"))
    assert result.stdout == f"{tmp_path}/{shown}\n"


def test_a_misspelt_outbound_key_is_the_only_problem_reported(tmp_path: Path) -> None:
    # F164 ("no outbound.campaign") came with the S001: fixing the key made it go away.
    path = tmp_path / "survey.flow.yaml"
    path.write_text(
        "version: 1\nname: survey\nstart: ask\n"
        "outbond:\n  to: [sip:ann@contoso.com]\n  campaign: {variables: {yes: 0}}\n"
        "states:\n  ask:\n    messages:\n      - choice: [yes]\n"
        '        set: {campaign.yes: "{{ campaign.yes + 1 }}"}\n        do: [stop]\n'
        "    timeouts: [{after: 1m, do: [stop]}]\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert [line.split(": ")[1] for line in result.stdout.splitlines()] == ["S001 error"]
    assert "did you mean 'outbound'?" in result.stdout


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            'say: "Hi {{ caller.nmae }}"',
            "9:14: F124 error: caller has no field 'nmae' (it has uri, name); "
            "did you mean 'name'?\n",
        ),
        (  # README issue 10: `message` is the text itself
            'say: "You said: {{ message.text }}"',
            "9:14: F124 error: message is a text, without a field 'text': write {{ message }}\n",
        ),
        (  # parsed by Jinja2, not read by the plain-template fast path
            "say: \"{{ caller['nmae'] | upper }}\"",
            "9:14: F124 error: caller has no field 'nmae' (it has uri, name); "
            "did you mean 'name'?\n",
        ),
        (
            'if: "now.huor > 17"\n        then: [stop]',
            "9:13: F124 error: now is a date and time, without 'huor'; did you mean 'hour'?\n",
        ),
    ],
)
def test_a_field_the_context_does_not_have_is_an_error(
    tmp_path: Path, line: str, expected: str
) -> None:
    # these rendered as nothing, without a word from validate
    assert _validate(tmp_path, line) == expected


def test_fields_and_methods_the_context_has_are_fine(tmp_path: Path) -> None:
    path = tmp_path / "desk.flow.yaml"
    lines = [
        "say: \"{{ caller.name }} {{ caller.get('uri') }} {{ message.lower() }}\"",
        "say: \"{{ conversation.messages.total }} {{ now.strftime('%H') }} {{ state.upper() }}\"",
        'say: "{{ webhook.json.id }} {{ delivery.code }} {{ flow }}"',
        "say: \"{% set caller = {'nmae': 1} %}{{ caller.nmae }}\"",
    ]
    path.write_text(_FLOW.format(line="\n      - ".join(lines)), "utf-8")
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    assert result.exit_code == 0, result.output


def test_switching_off_a_command_that_does_not_exist_is_a_warning(tmp_path: Path) -> None:
    # `hlep: false` left `help` on, and validate said nothing
    path = tmp_path / "desk.flow.yaml"
    path.write_text(
        "version: 1\nname: desk\nstart: menu\nsettings: {idle_timeout: 5m}\n"
        "commands:\n  help: {keywords: [help], say: '1 or 2'}\n"
        "  agent: {keywords: [agent], sya: x}\n"
        "states:\n  menu:\n    commands:\n"
        "      hlep: false\n      agent: false\n      help: false\n",
        "utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", "-q", str(path)])
    # `agent` was cut for its schema error: switching it off is no false alarm
    assert result.stdout.replace(f"{path}:", "").splitlines()[1:] == [
        "11:7: F125 warning: `false` switches off a global command, and none is named 'hlep'; "
        "did you mean 'help'?"
    ]
