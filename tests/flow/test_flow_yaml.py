"""YAML edge cases: YAML 1.2 words, numbers as names and texts, hostile documents."""

from __future__ import annotations

import textwrap

from ucwa_flow.flow import Say, load_flow_text
from ucwa_flow.flow._loader import MAX_BYTES


def _flow(body: str) -> str:
    return "version: 1\nname: t\n" + textwrap.dedent(body)


def test_on_yes_no_are_texts_in_state_names_choices_and_messages() -> None:
    result = load_flow_text(
        _flow("""\
        start: on
        states:
          on:
            messages:
              - choice: [yes, no, off]
                goto: no
            timeouts: [{after: 1m, do: [stop]}]
          no:
            enter: [{say: yes}, stop]
        """)
    )
    assert result.diagnostics == []
    flow = result.raise_for_errors()
    assert list(flow.states) == ["on", "no"]
    handler = flow.states["on"].handlers[0]
    assert handler.matcher.values == ("yes", "no", "off")
    assert handler.match("YES") == {}
    say = flow.states["no"].enter[0]
    assert isinstance(say, Say)
    assert say.text is not None
    assert say.text.render({}) == "yes"


def test_numbers_are_state_names_choices_and_texts() -> None:
    flow = load_flow_text(
        _flow("""\
        start: 404
        states:
          404:
            enter: [{say: 1}]
            messages:
              - choice: [1, 2.5]
                goto: 500
            timeouts: [{after: 90, do: [stop]}]
          500:
            enter: [stop]
        """)
    ).raise_for_errors()
    assert flow.start == "404"
    assert list(flow.states) == ["404", "500"]
    handler = flow.states["404"].handlers[0]
    assert handler.match("1") == {}
    assert handler.match("2.5") == {}
    assert handler.match("11") is None
    assert flow.states["404"].timeouts[0].after == 90.0


def test_a_duplicate_key_names_the_line_of_the_first_one() -> None:
    # ruamel's error names where the mapping starts: "first defined at line 4" (menu)
    result = load_flow_text(
        _flow("""\
        start: menu
        states:
          menu: {enter: [stop]}
          other: {enter: [stop]}
          other: {enter: [stop]}
        """),
        "f.yaml",
    )
    assert [str(d) for d in result.diagnostics] == [
        "f.yaml:7:3: Y002 error: duplicate key 'other' (first defined at line 6)"
    ]


def test_a_number_and_its_text_as_keys_are_one_name_twice() -> None:
    # `404:` and `"404":` both name the state "404": the second replaced the first unseen
    result = load_flow_text(
        _flow("""\
        start: menu
        states:
          menu: {enter: [{goto: 404}]}
          404: {enter: [{say: one}, stop]}
          "404": {enter: [{say: two}, stop]}
        """),
        "f.yaml",
    )
    assert [str(d) for d in result.diagnostics] == [
        "f.yaml:7:3: Y002 error: duplicate key '404' (first defined at line 6)"
    ]


def test_null_and_boolean_keys_are_located_errors() -> None:
    result = load_flow_text(
        _flow("""\
        start: menu
        states:
          menu: {enter: [stop]}
          null: {enter: [stop]}
          false: {enter: [stop]}
        """),
        "f.yaml",
    )
    assert [str(d) for d in result.diagnostics] == [
        "f.yaml:6:3: Y006 error: key null is read by YAML as a null, not a text; quote it: 'null'",
        "f.yaml:7:3: Y006 error: key false is read by YAML as a boolean, not a text; quote it: "
        "'false'",
    ]


def test_quoted_null_and_true_are_ordinary_names() -> None:
    flow = load_flow_text(
        _flow("""\
        start: "null"
        states:
          "null": {enter: [{goto: "true"}]}
          "true": {enter: [stop]}
        """)
    ).raise_for_errors()
    assert list(flow.states) == ["null", "true"]


def test_a_date_is_a_text_not_a_date_object() -> None:
    flow = load_flow_text(
        _flow("""\
        start: menu
        variables: {since: 2024-01-02}
        states:
          menu: {enter: [stop]}
        """)
    ).raise_for_errors()
    assert flow.variables["since"] == "2024-01-02"


def test_what_only_looks_like_a_date_or_number_is_a_text_not_a_traceback() -> None:
    # `2024-13-01` matches YAML's timestamp pattern but is no date: the loader raised a
    # ValueError out of `validate` (and `test`, for `at: 2026-13-05T10:00:00`)
    flow = load_flow_text(
        _flow("""\
        start: menu
        variables: {a: 2024-13-01, b: 2024-02-30, c: 2026-13-05T10:00:00, d: 0x_}
        states:
          menu: {enter: [stop]}
        """)
    ).raise_for_errors()
    assert flow.variables == {
        "a": "2024-13-01",
        "b": "2024-02-30",
        "c": "2026-13-05T10:00:00",
        "d": "0x_",
    }


def test_an_explicit_tag_that_does_not_fit_its_value_is_a_located_error() -> None:
    result = load_flow_text(
        _flow("""\
        start: menu
        variables: {a: !!int abc}
        states:
          menu: {enter: [stop]}
        """)
    )
    assert [str(d) for d in result.diagnostics] == [
        "<flow>:4:16: Y001 error: 'abc' cannot be read as !!int: fix the value or drop the tag"
    ]


def test_null_where_a_text_is_needed_is_a_type_error() -> None:
    result = load_flow_text(_flow("start: menu\nstates:\n  menu:\n    enter: [{say: null}]\n"))
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("S003", 6, 19)]


def test_billion_laughs_is_rejected_at_the_first_anchor_quickly() -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [{','.join([f'*a{i - 1}'] * 9)}]" for i in range(1, 9)]
    result = load_flow_text("\n".join(lines) + "\n", "lol.yaml")
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("Y003", 1, 5)]


def test_file_larger_than_the_cap_is_rejected() -> None:
    text = "# " + "x" * MAX_BYTES + "\n"
    result = load_flow_text(text, "big.yaml")
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [("Y005", 1, 1)]


def test_yaml_error_stops_before_schema_errors() -> None:
    result = load_flow_text("version: 2\nname: [\n", "f.yaml")
    assert [d.code for d in result.diagnostics] == ["Y001"]


def test_all_schema_errors_are_reported_in_one_run_sorted() -> None:
    result = load_flow_text(
        _flow("""\
        start: menu
        colour: red
        settings: {format: rich}
        states:
          menu:
            enter: [{sey: hi}, {goto: [x]}]
        """),
        "f.yaml",
    )
    assert [(d.code, d.line, d.col) for d in result.diagnostics] == [
        ("S001", 4, 1),
        ("S004", 5, 20),
        ("S001", 8, 14),
        ("S003", 8, 31),
    ]
    assert "did you mean 'set'?" in result.diagnostics[2].message


def test_a_name_with_a_final_line_break_is_no_name() -> None:
    """``$`` alone (jsonschema's ``re.search``) let ``"count\\n"`` through as a variable
    name, which a template's ``count`` then missed (F106, "did you mean 'count\\n'?")."""
    result = load_flow_text(
        _flow("""\
        start: a
        variables: {"count\\n": 1}
        commands:
          "help\\n": {any: true, do: [{say: help}]}
        settings: {default_language: "en\\n"}
        states:
          a:
            messages:
              - any: true
                do: [{set: {"count\\n": 2}}, {say: "{{ count }}"}, stop]
        """),
        "f.yaml",
    )
    assert [(d.code, d.line, d.col, d.message) for d in result.diagnostics] == [
        (
            "S004",
            4,
            13,
            "'count\\n' is not a variable name (letters, digits and _, not starting with a digit)",
        ),
        ("S004", 6, 3, "'help\\n' is not a command name (letters, digits, _ and -)"),
        (
            "S004",
            7,
            30,
            "settings.default_language: 'en\\n' is not a language code such as en, de or pt-BR",
        ),
        ("S004", 12, 21, "'count\\n' is not a variable name, or campaign.NAME"),
    ]


def test_a_state_name_with_a_line_break_keeps_the_diagnostic_one_line() -> None:
    """A state name is any text; where a message names its path, one with a line break
    is quoted, so that ``file:line:col: CODE message`` stays one line."""
    result = load_flow_text(
        _flow("""\
        start: "a\\n"
        states:
          "a\\n":
            enter: [{sey: x}, stop]
        """),
        "f.yaml",
    )
    (found,) = result.diagnostics
    assert (found.code, found.line, found.col) == ("S001", 6, 14)
    assert found.message.startswith("states['a\\n'].enter[0]: unknown key 'sey'")
    assert "\n" not in str(found)
