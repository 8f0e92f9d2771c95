"""Includes and sub-flows in the loader: what they compile to, what `validate` says about
them (at the file:line:col of the file the problem is in), and how the digest covers them.
The broken examples of each rule are in tests/flow/broken (F130-F138)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from ucwa_flow.cli import cli
from ucwa_flow.flow import Call, Goto, Return, load_flow

HERE = Path(__file__).parent
BROKEN = HERE / "broken"
ROOT = HERE.parents[1]
RESET = ROOT / "flows" / "password-reset.flow.yaml"


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(textwrap.dedent(text).lstrip("\n"), "utf-8")


def test_the_example_compiles_sub_flow_states_as_qualified_states() -> None:
    flow = load_flow(RESET).raise_for_errors()
    assert list(flow.states) == [
        "menu",
        "identify",
        "confirm",
        "resetting",
        "handoff",  # from lib/desk.states.yaml
        "goodbye",
        "employee-id/ask",
        "confirm/ask",
    ]
    sub = flow.subflows["confirm"]
    assert (sub.start, sub.required, sub.returns) == ("confirm/ask", {"question"}, ("confirmed",))
    assert dict(flow.subflows["employee-id"].params)["attempts"] == 3
    call = flow.states["confirm"].enter[0]
    assert isinstance(call, Call)
    assert (call.subflow, call.target, call.returns) == (
        "confirm",
        "confirm/ask",
        (("confirmed", "confirmed"),),
    )
    assert call.location.file == str(RESET)
    # the included state keeps its own file and position
    handoff = flow.states["handoff"]
    assert (handoff.location.file, handoff.location.line) == (
        str(ROOT / "flows" / "lib" / "desk.states.yaml"),
        12,
    )
    # the included command is a global command of the flow, not of the sub-flows' states
    assert [c.name for c in flow.states["menu"].commands] == ["agent"]
    assert [c.name for c in flow.states["employee-id/ask"].commands] == ["cancel"]
    answer = flow.states["confirm/ask"].handlers[0].actions[0]
    assert isinstance(answer, Return)
    assert [name for name, _ in answer.values] == ["confirmed"]


def test_gotos_in_a_sub_flow_name_its_own_states(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.flow.yaml": """
                version: 1
                name: main
                start: ask
                settings: {idle_timeout: 5m}
                states:
                  ask:
                    enter: [{call: {flow: two.subflow.yaml}}, stop]
            """,
            "two.subflow.yaml": """
                version: 1
                subflow: two
                start: ask
                states:
                  ask:
                    enter: [{goto: done}]
                  done:
                    enter: [return]
            """,
        },
    )
    flow = load_flow(tmp_path / "main.flow.yaml").raise_for_errors()
    goto = flow.states["two/ask"].enter[0]
    assert isinstance(goto, Goto)
    assert goto.target == "two/done"
    assert flow.states["ask"].enter[0] == Call(
        "two", "two.subflow.yaml", (), (), "two/ask", flow.states["ask"].enter[0].location
    )


def test_a_sub_flow_sees_its_own_variables_only(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "main.flow.yaml": """
                version: 1
                name: main
                start: ask
                settings: {idle_timeout: 5m}
                variables: {ticket: 1}
                states:
                  ask:
                    enter: [{call: {flow: lib/x.subflow.yaml}}, stop]
            """,
            "lib/x.subflow.yaml": """
                version: 1
                subflow: x
                params: {p: {default: 1}}
                start: ask
                states:
                  ask:
                    enter: [{say: "{{ p }} {{ ticket }}"}, return]
            """,
        },
    )
    result = load_flow(tmp_path / "main.flow.yaml")
    assert [str(d) for d in result.diagnostics] == [
        f"{tmp_path}/lib/x.subflow.yaml:7:19: F106 error: variable 'ticket' is used but never "
        "set or declared in `variables`"
    ]


def test_validate_prints_the_lines_of_the_included_file() -> None:
    path = BROKEN / "f132-defined-twice.flow.yaml"
    part = BROKEN / "parts" / "desk.states.yaml"
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{part}:3:3: F132 error: variable 'ticket' is defined twice: first at {path}:6:13",
        f"{part}:7:3: F132 error: state 'handoff' is defined twice: first at {path}:15:3",
        f"{part}:9:3: F103 warning: state 'help_desk' cannot be reached: no goto leads to it "
        "from 'menu'",
        f"{part}:11:15: F101 error: goto 'hand_off': there is no state named 'hand_off'; "
        "did you mean 'handoff'?",
    ]


def test_a_yaml_error_in_an_included_file_says_where_it_was_included() -> None:
    path = BROKEN / "y001-in-included-file.flow.yaml"
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{BROKEN / 'parts' / 'bad-yaml.states.yaml'}:4:14: Y001 error: a '[' is never closed: "
        "add its ']' (expected ',' or ']', but got '<stream end>') (included at "
        f"{path}:6:11)"
    ]


def test_validate_a_folder_checks_flows_sub_flows_and_included_files() -> None:
    result = CliRunner().invoke(cli, ["validate", str(ROOT / "flows")])
    assert (result.exit_code, result.stdout) == (0, "")
    flows = len(list((ROOT / "flows").glob("*.flow.yaml")))
    assert f"{flows + 3} file(s) checked: 0 error(s), 0 warning(s)" in result.stderr


def test_a_sub_flow_alone_is_checked_as_a_sub_flow() -> None:
    path = BROKEN / "parts" / "ask.subflow.yaml"
    result = CliRunner().invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:16:46: F135 error: 'extra' is not a value this sub-flow returns: add it to "
        "`returns` (it returns: answer)"
    ]
    included = ROOT / "flows" / "lib" / "desk.states.yaml"
    assert CliRunner().invoke(cli, ["validate", str(included)]).exit_code == 0


def test_a_sub_flow_alone_names_no_made_up_caller(tmp_path: Path) -> None:
    # checked alone, a sub-flow is called by a caller that does not exist: its YAML
    # errors must not say "(called at lib/(caller).flow.yaml:1:92)"
    files = {
        "lib/bad.subflow.yaml": "version: 1\nsubflow: x\nstart: a\nstates: {a: {}, a: {}}\n",
        "lib/flow.subflow.yaml": "version: 1\nname: x\nstart: a\nstates: {a: {}}\n",
    }
    _write(tmp_path, files)
    bad, flow = (str(tmp_path / name) for name in files)
    result = CliRunner().invoke(cli, ["validate", bad])
    assert result.stdout.splitlines() == [
        f"{bad}:4:17: Y002 error: duplicate key 'a' (first defined at line 4)"
    ]
    # the file that is no sub-flow was a silent pass (its F133 is at the call)
    result = CliRunner().invoke(cli, ["validate", flow])
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{flow}:1:1: F133 error: this file has no `subflow:` name: give it `subflow: "
        "<name>`, or rename it *.flow.yaml if it is a flow"
    ]


def _two_callers(folder: Path, states: str) -> None:
    """one.flow.yaml and two.flow.yaml, each calling lib/x.subflow.yaml, whose states are
    ``states``."""
    call = (
        "version: 1\nname: {}\nstart: a\nstates:\n  a: {{enter: [{{call: {{flow: {}}}}}, stop]}}\n"
    )
    files = {
        "one.flow.yaml": call.format("one", "lib/x.subflow.yaml"),
        "two.flow.yaml": call.format("two", "lib/x.subflow.yaml"),
        "lib/x.subflow.yaml": "version: 1\nsubflow: x\nstart: a\n" + states,
    }
    _write(folder, files)


def test_a_sub_flow_problem_is_one_line_in_a_folder_that_calls_it_twice(
    tmp_path: Path,
) -> None:
    # found through each caller and by the sub-flow checked alone: it was printed 3 times
    _two_callers(tmp_path, 'states:\n  a: {enter: [{say: "{{ nope }}"}, return]}\n')
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert [line.split(": ")[1][:4] for line in result.stdout.splitlines()] == ["F106"]
    assert "3 file(s) checked: 1 error(s), 0 warning(s)" in result.stderr


@pytest.mark.parametrize("folder", ["plain", "bots (old)"])  # a path may hold "("
def test_a_sub_flow_yaml_error_is_one_line_in_a_folder_that_calls_it_twice(
    tmp_path: Path, folder: str
) -> None:
    tmp_path = tmp_path / folder
    # a YAML problem found through a caller ends "(called at <caller>)": those copies go
    # when the file's own check found it; callers named alone keep one line each
    _two_callers(tmp_path, "states: {a: {enter: [return]}, a: {}}\n")
    result = CliRunner().invoke(cli, ["validate", str(tmp_path)])
    lines = result.stdout.splitlines()
    assert len(lines) == 1, lines
    assert " Y002 " in lines[0]
    assert "called at" not in lines[0]
    assert "3 file(s) checked: 1 error(s)" in result.stderr
    callers = [str(tmp_path / "one.flow.yaml"), str(tmp_path / "two.flow.yaml")]
    lines = CliRunner().invoke(cli, ["validate", *callers]).stdout.splitlines()
    assert [line.count("(called at ") for line in lines] == [1, 1]


def test_the_digest_covers_the_sub_flows_and_included_files(tmp_path: Path) -> None:
    files = {
        "main.flow.yaml": """
            version: 1
            name: main
            start: ask
            settings: {idle_timeout: 5m}
            include: [more.states.yaml]
            states:
              ask:
                enter: [{call: {flow: x.subflow.yaml}}, {goto: bye}]
        """,
        "more.states.yaml": "states: {bye: {enter: [stop]}}\n",
        "x.subflow.yaml": "version: 1\nsubflow: x\nstart: a\nstates: {a: {enter: [return]}}\n",
    }
    _write(tmp_path, files)
    first = load_flow(tmp_path / "main.flow.yaml").raise_for_errors().digest
    _write(tmp_path, {"x.subflow.yaml": files["x.subflow.yaml"] + "# edited\n"})
    second = load_flow(tmp_path / "main.flow.yaml").raise_for_errors().digest
    _write(tmp_path, {"more.states.yaml": files["more.states.yaml"] + "# edited\n"})
    third = load_flow(tmp_path / "main.flow.yaml").raise_for_errors().digest
    assert len({first, second, third}) == 3


def test_the_flow_names_every_file_it_was_read_from(tmp_path: Path) -> None:
    """What ``serve --watch`` watches: an included file of variables only, one that only
    includes another, and the files a sub-flow includes are read too."""
    files = {
        "main.flow.yaml": """
            version: 1
            name: main
            start: ask
            settings: {idle_timeout: 5m}
            include: [lib/names.states.yaml, lib/mid.states.yaml]
            states:
              ask:
                enter: [{say: "{{ greeting }}"}, {call: {flow: x.subflow.yaml}}, {goto: bye}]
        """,
        "lib/names.states.yaml": "variables: {greeting: hello}\n",
        "lib/mid.states.yaml": "include: [../lib2/leaf.states.yaml]\n",
        "lib2/leaf.states.yaml": "states: {bye: {enter: [stop]}}\n",
        "x.subflow.yaml": """
            version: 1
            subflow: x
            start: a
            include: [lib/x.states.yaml]
            states: {a: {enter: [{say: "{{ word }}"}, return]}}
        """,
        "lib/x.states.yaml": "variables: {word: hi}\n",
    }
    _write(tmp_path, files)
    flow = load_flow(tmp_path / "main.flow.yaml").raise_for_errors()
    assert flow.files == tuple(
        str(tmp_path / name)
        for name in (
            "main.flow.yaml",
            "lib/names.states.yaml",
            "lib/mid.states.yaml",
            "lib2/leaf.states.yaml",
            "x.subflow.yaml",
            "lib/x.states.yaml",
        )
    )


def test_diff_shows_a_changed_call_parameter(tmp_path: Path) -> None:
    from ucwa_flow.diff import diff_flows, format_text

    old = RESET.read_text("utf-8")
    (tmp_path / "new.flow.yaml").write_text(old.replace("attempts: 2", "attempts: 3"), "utf-8")
    shutil.copytree(RESET.parent / "lib", tmp_path / "lib")
    report = format_text(
        diff_flows(
            load_flow(RESET).raise_for_errors(),
            load_flow(tmp_path / "new.flow.yaml").raise_for_errors(),
        )
    )
    assert "-   with attempts = 2\n" in report
    assert "+   with attempts = 3\n" in report
    assert "call employee-id" in report


def test_a_sub_flows_missing_start_and_a_clashing_state_are_errors(tmp_path: Path) -> None:
    # both passed validate and broke the conversation at the call
    _write(
        tmp_path,
        {
            "w.flow.yaml": """
                version: 1
                name: w
                start: a
                states:
                  a:
                    enter:
                      - call: {flow: lib/ok.subflow.yaml}
                  ok/x:
                    enter: [stop]
                """,
            "lib/ok.subflow.yaml": """
                version: 1
                subflow: ok
                start: nope
                states:
                  x:
                    enter: [return]
                """,
        },
    )
    loaded = load_flow(tmp_path / "w.flow.yaml")
    found = sorted(str(d).split(" error:")[0] for d in loaded.errors)
    sub = str(tmp_path / "lib" / "ok.subflow.yaml")
    assert found == [f"{sub}:3:8: F102", f"{sub}:5:3: F132"], [str(d) for d in loaded.errors]


def test_a_misspelt_included_or_called_file_gets_a_did_you_mean(tmp_path: Path) -> None:
    _write(
        tmp_path,
        {
            "lib/desk.states.yaml": "states:\n  handoff:\n    enter: [stop]\n",
            "lib/confirm.subflow.yaml": (ROOT / "flows/lib/confirm.subflow.yaml").read_text(),
            "main.flow.yaml": """\
                version: 1
                name: main
                start: menu
                settings: {idle_timeout: 5m}
                include: [lib/desk.states.yml]
                states:
                  menu:
                    enter:
                      - call: {flow: lib/confrim.subflow.yaml, with: {question: Sure?}}
                """,
        },
    )
    messages = [d.message for d in load_flow(tmp_path / "main.flow.yaml").diagnostics]
    assert [m.split("): ", 1)[1] for m in messages if m.startswith("cannot read")] == [
        "no such file; did you mean 'lib/desk.states.yaml'?",
        "no such file; did you mean 'lib/confirm.subflow.yaml'?",
    ]


def test_an_include_that_cannot_be_read_is_reported_alone(tmp_path: Path) -> None:
    # with it, "goto 'handoff': there is no state named 'handoff'" and "variable 'ticket'
    # is used but never set" were reported too: what the file would have defined
    _write(
        tmp_path,
        {
            "main.flow.yaml": """\
                version: 1
                name: main
                start: menu
                include: [lib/desk.states.yml]
                states:
                  menu:
                    enter: [{say: "{{ ticket }}"}, {goto: handoff}]
                """,
        },
    )
    result = load_flow(tmp_path / "main.flow.yaml")
    assert [(d.line, d.code) for d in result.diagnostics] == [(4, "F130")]
