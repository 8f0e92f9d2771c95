"""Loading test scripts: the schema, located readable errors, and checks against the flow."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import jsonschema
import pytest

from tests.testing.conftest import FLOWS, ROOT
from ucwa_flow.testing import ScriptFileError, load_script, schema_text
from ucwa_flow.testing import _script as s

ECHO = FLOWS / "echo.flow.yaml"


def _codes(result: object) -> list[str]:
    return [f"{d.line}:{d.col} {d.code} {d.message}" for d in result.diagnostics]  # type: ignore[attr-defined]


def test_packaged_schema_is_byte_identical_to_the_repository_copy() -> None:
    assert schema_text().encode("utf-8") == (ROOT / "schemas" / "test.schema.json").read_bytes()


def test_schema_is_valid_and_accepts_every_example_script() -> None:
    schema = json.loads(schema_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == "https://ucwa-flow.dev/schemas/test-1.json"
    for script in FLOWS.glob("*.test.yaml"):
        result = load_script(script)
        assert result.script is not None, _codes(result)
        assert result.diagnostics == []


def test_a_script_becomes_located_steps(write: Callable[..., Path]) -> None:
    flow = write("vars.flow.yaml", ECHO.read_text(encoding="utf-8") + "variables: {a: 0}\n")
    path = write(
        "echo.test.yaml",
        f"""
        flow: {flow}
        scenarios:
          - name: one
            caller: sip:adrianag@contoso.com
            at: "2026-01-05T20:00:00+01:00"
            webhooks:
              - {{url: http://x.test/a, status: 201, json: {{id: 1}}, delay: 2s}}
            steps:
              - invite: hi
              - say: there
              - wait: 1m30s
              - expect: {{say: {{regex: "^You"}}, to: sip:adrianag@contoso.com}}
              - expect: {{state: echo}}
              - expect: {{variable: {{a: 1}}}}
              - expect: silence
              - hang_up
              - accept
              - decline: sip:lenea@contoso.com
              - expect: ended
        """,
    )
    result = load_script(path)
    assert result.script is not None, _codes(result)
    (scenario,) = result.script.scenarios
    assert scenario.caller == "sip:adrianag@contoso.com"
    assert scenario.at is not None
    assert scenario.at.utcoffset() is not None
    (hook,) = scenario.webhooks
    assert (hook.status, hook.json, hook.has_json, hook.delay) == (201, {"id": 1}, True, 2.0)
    kinds = [type(step).__name__ for step in scenario.steps]
    assert kinds == [
        "Invite", "Say", "Wait", "ExpectSay", "ExpectState", "ExpectVariables",
        "ExpectSilence", "HangUp", "Accept", "Decline", "ExpectEnded",
    ]  # fmt: skip
    wait = scenario.steps[2]
    assert isinstance(wait, s.Wait)
    assert wait.seconds == 90.0
    said = scenario.steps[3]
    assert isinstance(said, s.ExpectSay)
    assert (said.mode, said.text) == ("regex", "^You")
    assert [step.location.line for step in scenario.steps] == list(range(9, 20))
    assert scenario.people() == ["sip:adrianag@contoso.com", "sip:lenea@contoso.com"]


def test_schema_errors_are_located_and_readable(write: Callable[..., Path]) -> None:
    path = write(
        "bad.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: typos
            caller: lenea@contoso.com
            steps:
              - sya: hello
              - say: hi
                expect: ended
              - wait: soon
              - hangup
              - expect: {{say: {{startswith: x}}}}
              - expect: {{state: a, say: b}}
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert _codes(result) == [
        "4:13 S004 scenarios[0].caller: 'lenea@contoso.com' is not a SIP address like "
        "sip:lenea@contoso.com",
        "6:9 S001 scenarios[0].steps[0]: unknown key 'sya'; did you mean 'say'? "
        "(expected one of: accept, decline, expect, hang_up, invite, say, wait)",
        "8:9 S005 scenarios[0].steps[1]: 'say' and 'expect' in one step: "
        "write each step as its own list item",
        "9:15 S004 scenarios[0].steps[2].wait: 'soon' is not a duration like 90s, 2m, 1h30m",
        "10:9 S004 scenarios[0].steps[3]: 'hangup' is not one of: invite, hang_up, accept, "
        "decline; did you mean 'hang_up'?",
        "11:24 S001 scenarios[0].steps[4].expect.say: unknown key 'startswith' "
        "(expected one of: contains, exact, regex)",
        "12:18 S005 scenarios[0].steps[5].expect: 'say' and 'state' in one expectation: write two",
    ]


def test_checks_against_the_flow(write: Callable[..., Path]) -> None:
    path = write(
        "bad.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: wrong state and regex
            at: "2026-02-30T10:00:00+01:00"
            steps:
              - expect: {{state: ecko}}
              - expect: {{say: {{regex: "(unclosed"}}}}
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [d.code for d in result.diagnostics] == ["T003", "T004", "T002"]
    assert "did you mean 'echo'?" in result.diagnostics[1].message
    assert str(result.diagnostics[1]).startswith(f"{path}:6:25: T004 error: flow 'echo' has no")


def test_an_unquoted_date_that_is_no_date_is_an_error_not_a_traceback(
    write: Callable[..., Path],
) -> None:
    # YAML's timestamp pattern took `2026-13-05T10:00:00` and the loader raised ValueError
    path = write(
        "at.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: month 13
            at: 2026-13-05T10:00:00
            steps: [invite]
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [(d.line, d.col, d.code) for d in result.diagnostics] == [(4, 9, "S004")]
    assert "'2026-13-05T10:00:00' is not a date and time" in result.diagnostics[0].message


def test_a_time_past_the_year_9999_in_utc_is_an_error_not_a_traceback(
    write: Callable[..., Path],
) -> None:
    # a real date, but the virtual clock (UTC) could not start: OverflowError ended the run
    path = write(
        "late.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: late
            at: "9999-12-31T22:00:00-05:00"
            steps: [invite]
          - name: early
            at: "0001-01-01T00:30:00+01:00"
            steps: [invite]
          - name: last hour
            at: "9999-12-31T23:00:00+00:00"
            steps: [invite]
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert _codes(result) == [
        "4:9 T003 at: '9999-12-31T22:00:00-05:00' is outside the years 1-9999 in UTC",
        "7:9 T003 at: '0001-01-01T00:30:00+01:00' is outside the years 1-9999 in UTC",
    ]


def test_a_webhook_expectation_with_only_a_url_says_what_to_add(
    write: Callable[..., Path],
) -> None:
    # it said "expect.webhook: must not be empty" of a mapping that holds a url
    path = write(
        "hook.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: a url alone
            steps:
              - expect: {{webhook: {{url: http://x.test/a}}}}
        """,
    )
    assert _codes(load_script(path)) == [
        "5:27 S004 scenarios[0].steps[0].expect.webhook: has only url: add json or times"
    ]


def test_a_missing_or_broken_flow_is_reported_at_the_flow_key(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    scenarios = "scenarios: [{name: x, steps: [invite]}]\n"
    missing = write("a.test.yaml", "flow: nowhere.flow.yaml\n" + scenarios)
    result = load_script(missing)
    assert [(d.line, d.col, d.code) for d in result.diagnostics] == [(1, 7, "T001")]
    assert "does not exist" in result.diagnostics[0].message
    write("broken.flow.yaml", "version: 1\nname: broken\nstart: nowhere\nstates: {a: {}}\n")
    broken = write("b.test.yaml", "flow: broken.yaml\n" + scenarios)
    (diagnostic,) = load_script(broken).diagnostics
    assert diagnostic.code == "T001"
    assert "has errors" in diagnostic.message


def test_a_part_of_a_flow_or_a_folder_is_named_for_what_it_is(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    # a sub-flow was "has errors (first: errors)", which validate did not find; a folder
    # "does not exist"
    write(
        "ask.subflow.yaml", "version: 1\nsubflow: ask\nstart: a\nstates: {a: {enter: [return]}}\n"
    )
    write("desk.states.yaml", "states: {b: {enter: [stop]}}\n")
    (tmp_path / "lib").mkdir()
    messages = []
    for flow in ("ask.subflow.yaml", "desk.states.yaml", "lib"):
        script = write("a.test.yaml", f"flow: {flow}\nscenarios: [{{name: x, steps: [invite]}}]\n")
        messages += _codes(load_script(script))
    assert messages == [
        f"1:7 T001 {tmp_path / 'ask.subflow.yaml'} is a sub-flow, not a flow: test a flow that "
        "calls it",
        f"1:7 T001 {tmp_path / 'desk.states.yaml'} is an included file, not a flow: test a flow "
        "that includes it",
        f"1:7 T001 {tmp_path / 'lib'}: is a directory, not a flow file",
    ]


def test_yaml_errors_and_unreadable_files(write: Callable[..., Path], tmp_path: Path) -> None:
    dup = write("dup.test.yaml", f"flow: {ECHO}\nflow: {ECHO}\nscenarios: []\n")
    assert [d.code for d in load_script(dup).diagnostics] == ["Y002"]
    with pytest.raises(ScriptFileError, match="no such test script"):
        load_script(tmp_path / "none.test.yaml")


def test_a_script_that_is_not_utf8_is_a_located_error(tmp_path: Path) -> None:
    # it raised "cannot read: 'utf-8' codec can't decode byte 0xe9 in position 40: ..."
    path = tmp_path / "latin1.test.yaml"
    path.write_bytes(f"flow: {ECHO}\nscenarios:\n  - name: caf".encode() + b"\xe9\n")
    assert _codes(load_script(path)) == [
        "3:14 Y001 the file is not UTF-8 text (byte 0xe9); save it as UTF-8"
    ]


def test_an_agent_can_speak_and_leave(write: Callable[..., Path]) -> None:
    path = write(
        "echo.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: agent
            steps:
              - say: {{as: sip:ann@contoso.com, text: /done}}
              - hang_up: sip:ann@contoso.com
              - say: {{as: sip:ann@contoso.com}}
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [d.code for d in result.diagnostics] == ["S002"]  # no text
    lines = path.read_text("utf-8").splitlines(keepends=True)
    fixed = "".join(line for line in lines if not line.rstrip().endswith("contoso.com}"))
    path.write_text(fixed, "utf-8")
    result = load_script(path)
    assert result.script is not None, _codes(result)
    said, left = result.script.scenarios[0].steps
    assert isinstance(said, s.Say)
    assert isinstance(left, s.HangUp)
    assert (said.who, said.text, left.who) == (
        "sip:ann@contoso.com",
        "/done",
        "sip:ann@contoso.com",
    )
    assert result.script.scenarios[0].people() == ["sip:lenea@contoso.com", "sip:ann@contoso.com"]


def test_a_caller_with_a_final_line_break_is_no_sip_address(write: Callable[..., Path]) -> None:
    """``$`` alone let it through; the scenario then failed on its first step ("no
    conversation with the bot is connected"), not on the script's mistake."""
    path = write(
        "nl.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: nl
            caller: "sip:lenea@contoso.com\\n"
            steps:
              - say: hello
              - wait: "2s\\n"  # white space around a duration is fine
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert _codes(result) == [
        "4:13 S004 scenarios[0].caller: 'sip:lenea@contoso.com\\n' is not a SIP address like "
        "sip:lenea@contoso.com",
    ]


def test_a_regex_nested_too_deeply_is_t002(write: Callable[..., Path]) -> None:
    """re's parser recursed past Python's stack: ``ucwa-flow test`` ended in a traceback."""
    deep = "(" * 1000 + "a" + ")" * 1000
    path = write(
        "deep.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: deep
            steps:
              - say: a
              - expect: {{say: {{regex: "{deep}"}}}}
        """,
    )
    result = load_script(path)
    assert result.script is None
    (found,) = result.diagnostics
    assert (found.code, found.line) == ("T002", 6)
    assert found.message.endswith(")))': nested too deeply")


def test_two_scenarios_of_one_name_are_t005_naming_the_first(
    write: Callable[..., Path],
) -> None:
    # both ran, and the report showed "PASS ...: greets" and "FAIL ...: greets"
    path = write(
        "twice.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: greets
            steps: [invite]
          - name: other
            steps: [invite]
          - name: greets
            steps: [invite]
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [str(d) for d in result.diagnostics] == [
        f"{path}:7:11: T005 error: another scenario is named 'greets' (line 3): "
        "give each scenario its own name"
    ]


def test_a_variable_the_flow_never_has_is_t006_at_its_name(write: Callable[..., Path]) -> None:
    # it was found only when the step ran: "the conversation has no such variable"
    path = write(
        "vars.test.yaml",
        f"""
        flow: {FLOWS / "helpdesk.flow.yaml"}
        scenarios:
          - name: typo
            steps:
              - invite: hi
              - expect: {{variable: {{category: password, employe_id: E123456}}}}
        """,
    )
    result = load_script(path)
    assert result.script is None
    (problem,) = result.diagnostics
    assert (problem.line, problem.col, problem.code) == (6, 49, "T006")
    assert problem.message.startswith("flow 'helpdesk' never declares or sets a variable")
    assert problem.message.endswith("did you mean 'employee_id'?")


def test_every_way_a_flow_gets_a_variable_is_known_to_the_loader(
    write: Callable[..., Path],
) -> None:
    # declared, set, a named capture, a webhook's result, a sub-flow's variables and
    # parameters, a call's returned value: none may refuse a script
    write(
        "ask.subflow.yaml",
        """
        version: 1
        subflow: ask
        params: {prompt: {default: Sure?}}
        returns: [answer]
        variables: {answer: null}
        start: ask
        states:
          ask:
            enter: [{say: "{{ prompt }}"}]
            messages:
              - any: true
                set: {answer: "{{ message }}"}
                do: [{return: {answer: "{{ answer }}"}}]
        """,
    )
    write(
        "many.flow.yaml",
        """
        version: 1
        name: many
        start: a
        variables: {declared: 1}
        states:
          a:
            enter:
              - set: {was_set: 2}
              - webhook: {url: "http://x.test/a", result: fetched}
              - call: {flow: ask.subflow.yaml, returns: {answer: returned}}
            messages:
              - match: '(?P<captured>\\w+)'
                goto: a
        """,
    )
    names = "declared: 1, was_set: 2, fetched: 3, captured: 4, answer: 5, prompt: 6, returned: 7"
    path = write(
        "many.test.yaml",
        f"""
        flow: many.flow.yaml
        scenarios:
          - name: all
            steps:
              - expect: {{variable: {{{names}}}}}
        """,
    )
    result = load_script(path)
    assert result.diagnostics == []


def test_a_wait_the_virtual_clock_cannot_take_is_t007_saying_the_most(
    write: Callable[..., Path],
) -> None:
    # the step failed when it ran: "cannot wait 1e+13 days", and `.nan` was a traceback
    path = write(
        "long.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: too long at once
            steps:
              - wait: 9999999999999d
          - name: too long in all
            at: "9999-12-01T00:00:00Z"
            steps:
              - wait: 20d
              - wait: 20d
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [str(d).removeprefix(f"{path}:") for d in result.diagnostics] == [
        "5:9: T007 error: wait: 9999999999999d is too long: the virtual clock starts at "
        "2026-01-05 09:00 UTC and stops at the end of the year 9999, so the scenario can wait "
        "at most 2912438d (about 7974 years)",
        "10:9: T007 error: wait: 20d is too long: the virtual clock starts at 9999-12-01 "
        "00:00 UTC and stops at the end of the year 9999, so the scenario can wait at most "
        "10d more, after the waits before it",
    ]


def test_a_wait_or_delay_that_is_not_a_number_is_refused_at_load(
    write: Callable[..., Path],
) -> None:
    # `wait: .nan` was a traceback when the step ran; YAML's not-a-number is Y008 now
    path = write(
        "nan.test.yaml",
        f"""
        flow: {ECHO}
        scenarios:
          - name: no number
            webhooks: [{{url: "http://x.test/a", delay: .nan}}]
            steps:
              - wait: 1s
          - name: no number either
            steps:
              - wait: .nan
        """,
    )
    result = load_script(path)
    assert result.script is None
    assert [(d.code, d.line) for d in result.diagnostics] == [("Y008", 4), ("Y008", 9)]
