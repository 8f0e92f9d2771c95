"""``ucwa-flow test --explore``: scripts that pass and take every reachable transition.

Every example flow in ``flows/`` is explored (listed when the tests are collected, so a
new example is covered too) and the written scripts take every one of its transitions:
an example has no dead transitions. What a script cannot take must be named with a reason
that proves it out of reach, never "not found": a small flow here keeps such transitions
(an idle timeout no state lives to see, a timeout step its webhook always beats).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.testing.conftest import FLOWS
from ucwa_flow.cli import cli
from ucwa_flow.flow import load_flow_text
from ucwa_flow.testing import run_tests
from ucwa_flow.testing.explore import explore_flow
from ucwa_flow.testing.explore._messages import messages_for
from ucwa_flow.testing.explore._write import describe_edge

UNINVERTIBLE = """\
version: 1
name: odd-patterns
start: ask
states:
  ask:
    enter:
      - say: Your code?
    messages:
      - match: '(?<=@)corp'
        say: never
      - match: '(a)?(?(1)b|c)x'
        say: never either
      - match: '^(?P<digit>\\d)$'
        do:
          - if: "digit == 'ten'"
            then:
              - say: impossible
              - stop
            else:
              - say: "digit {{ digit }}"
      - match: '^(?P<code>[a-z]{3})$'
        do:
          - if: "code == 'vip'"
            then:
              - say: welcome back
            else:
              - say: "code {{ code }}"
      - match: '(?P<word>[a-z]+)'
        say: "word {{ word }}"
        goto: done
  done:
    enter:
      - say: bye
      - stop
"""


@pytest.mark.parametrize("flow", sorted(FLOWS.glob("*.flow.yaml")), ids=lambda p: p.name)
def test_every_example_flow_is_explored_to_every_transition(flow: Path, tmp_path: Path) -> None:
    out = tmp_path / "explored.test.yaml"
    report = asyncio.run(explore_flow(flow, out))
    assert report.passed, [str(r.failure) for r in report.run.results if not r.passed]
    cov = report.coverage
    assert len(cov.states) == cov.state_total
    assert {describe_edge(edge): why for edge, why in report.missed.items()} == {}
    assert len(cov.edges) == cov.edge_total
    assert cov.edge_percent == 100.0
    # the written script stands on its own: `ucwa-flow test --coverage` sees the same
    again = asyncio.run(run_tests([out]))
    assert again.passed
    (alone,) = again.coverage.flows.values()
    assert alone.edges == cov.edges


def test_an_uninvertible_pattern_and_an_unsatisfiable_condition_are_named(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "odd.flow.yaml"
    flow.write_text(UNINVERTIBLE, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "odd.explored.test.yaml"))
    assert report.passed
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert set(missed) == {
        "ask -> ask [message: /(?<=@)corp/]",
        "ask -> ask [message: /(a)?(?(1)b|c)x/]",
        "ask -> (end) [message: /^(?P<digit>\\d)$/ → if digit == 'ten']",
    }
    assert "lookbehind" in missed["ask -> ask [message: /(?<=@)corp/]"]
    assert "conditional group" in missed["ask -> ask [message: /(a)?(?(1)b|c)x/]"]
    assert (
        "digit == 'ten'" in missed["ask -> (end) [message: /^(?P<digit>\\d)$/ → if digit == 'ten']"]
    )
    text = (tmp_path / "odd.explored.test.yaml").read_text(encoding="utf-8")
    assert 'flow: "odd.flow.yaml"' in text


#: one pattern of :data:`UNINVERTIBLE` the explorer cannot take, and a way on: quick to
#: explore (2 runs against 111), for what the command line adds to the explorer
LOOKBEHIND = """\
version: 1
name: odd-pattern
start: ask
states:
  ask:
    enter:
      - say: Your code?
    messages:
      - match: '(?<=@)corp'
        say: never
      - match: '(?P<word>[a-z]+)'
        say: "word {{ word }}"
        goto: done
  done:
    enter:
      - say: bye
      - stop
"""


def test_the_cli_writes_one_script_per_family_into_a_directory(tmp_path: Path) -> None:
    # (the odd-patterns flow's reasons are the test above's: exploring it took 2-3 CPU s)
    flow = tmp_path / "odd.flow.yaml"
    flow.write_text(LOOKBEHIND, encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", "--explore", str(flow), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "transitions not taken, and why:" in result.output
    assert "lookbehind" in result.output
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written
    assert all(name.startswith("odd.") for name in written)
    # --fail-under: a flow that is quick to explore (this one takes seconds)
    ruled = tmp_path / "ruled.flow.yaml"
    ruled.write_text(RULED_OUT, encoding="utf-8")
    out = tmp_path / "o.test.yaml"
    result = CliRunner().invoke(
        cli, ["test", "--explore", str(ruled), "-o", str(out), "--fail-under", "100"]
    )
    assert result.exit_code == 1
    assert "FAIL coverage: ruled-out: transition coverage" in result.output
    assert out.is_file()


def test_a_flow_that_cannot_be_read_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["test", "--explore", str(tmp_path / "none.flow.yaml")])
    assert result.exit_code == 2
    assert (
        result.output.strip()
        == f"ucwa-flow: error: {tmp_path / 'none.flow.yaml'}: no such flow file"
    )
    broken = tmp_path / "broken.flow.yaml"
    broken.write_text("version: 1\nname: x\nstart: nowhere\nstates: {}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", "--explore", str(broken)])
    assert result.exit_code == 2
    assert len(result.output.strip().splitlines()) == 1


def test_explore_takes_x_yaml_for_x_flow_yaml_as_every_command_does(tmp_path: Path) -> None:
    # flow-language.md: "Wherever a command takes X.yaml and that file does not exist but
    # X.flow.yaml does, the latter is used"; --explore said "no such flow file"
    (tmp_path / "echo.flow.yaml").write_bytes((FLOWS / "echo.flow.yaml").read_bytes())
    result = CliRunner().invoke(cli, ["test", "--explore", str(tmp_path / "echo.yaml")])
    assert result.exit_code == 0, result.output
    assert f"explored echo ({tmp_path / 'echo.flow.yaml'})" in result.output
    assert (tmp_path / "echo.explored.test.yaml").is_file()


def test_a_flow_with_several_errors_says_there_are_more(tmp_path: Path) -> None:
    broken = tmp_path / "broken.flow.yaml"
    broken.write_text(
        "version: 1\nname: x\nstart: nowhere\nstates: {a: {enter: [{goto: b}]}}\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["test", "--explore", str(broken)])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"ucwa-flow: error: {broken}:3:8: F102 error:")
    assert line.endswith(f"(and 1 more error(s): `ucwa-flow validate {broken}` lists them)")


def test_an_output_yaml_file_not_named_test_yaml_is_refused(tmp_path: Path) -> None:
    # `-o tests/helpdesk.yaml` made a folder named helpdesk.yaml, with the scripts in it
    for name in ("helpdesk.yaml", "helpdesk.test.yml"):
        out = tmp_path / name
        result = CliRunner().invoke(
            cli, ["test", "--explore", str(FLOWS / "echo.flow.yaml"), "-o", str(out)]
        )
        assert result.exit_code == 2
        assert result.output.strip() == (
            f"ucwa-flow: error: {out}: a test script's name ends in .test.yaml (what "
            "`ucwa-flow test` runs): give such a name, or a folder"
        )
        assert not out.exists()


def test_exploring_a_part_of_a_flow_says_what_it_is(tmp_path: Path) -> None:
    # it said "the flow has errors", which validate did not find
    sub = tmp_path / "ask.subflow.yaml"
    sub.write_text("version: 1\nsubflow: ask\nstart: a\nstates: {a: {enter: [return]}}\n", "utf-8")
    part = tmp_path / "desk.states.yaml"
    part.write_text("states: {b: {enter: [stop]}}\n", "utf-8")
    lines = []
    for path in (sub, part):
        result = CliRunner().invoke(cli, ["test", "--explore", str(path)])
        assert result.exit_code == 2
        lines.append(result.output.strip())
    assert lines == [
        f"ucwa-flow: error: {sub} is a sub-flow, not a flow: explore a flow that calls it",
        f"ucwa-flow: error: {part} is an included file, not a flow: explore a flow that "
        "includes it",
    ]


RUNTIME = """\
version: 1
name: runtime-parts
start: ask
variables:
  base: http://hooks.test
invitation:
  rules:
    - from: "sip:*@contoso.com"
      subject: "*urgent*"
      action: decline
  default: accept
states:
  ask:
    enter:
      - say: Which region?
    messages:
      - match: '^(?P<region>eu|us)$'
        do:
          - webhook:
              url: "{{ base }}/{{ region }}/tickets"
              success: [{say: filed}]
              failure: [{say: not filed}]
    delivery_failed:
      - log: lost
"""


def test_webhook_urls_made_at_run_time_are_mocked_and_the_unreachable_named(
    tmp_path: Path,
) -> None:
    flow = tmp_path / "runtime.flow.yaml"
    flow.write_text(RUNTIME, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "runtime.explored.test.yaml"))
    assert report.passed, [str(r.failure) for r in report.run.results if not r.passed]
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    # a rule on the subject is taken by an invitation with one (scripts can give it)
    assert set(missed) == {"ask -> ask [delivery_failed: delivery failed]"}
    assert "lose a message" in missed["ask -> ask [delivery_failed: delivery failed]"]
    text = (tmp_path / "runtime.explored.test.yaml").read_text(encoding="utf-8")
    assert '"http://hooks.test/eu/tickets"' in text
    assert '      - invite: {subject: "urgent"}\n' in text


RUNTIME_ANSWER = """\
version: 1
name: runtime-answer
start: ask
settings: {idle_timeout: 5m}
variables: {base: http://hooks.test, service: null, status: null}
states:
  ask:
    messages:
      - choice: [vpn, mail]
        set: {service: "{{ message }}"}
        do:
          - webhook:
              url: "{{ base }}/{{ service | urlsegment }}"
              method: GET
              result: status
              success: [{say: "{{ service }}: {{ status.note }}"}]
              failure: [{say: unknown}]
"""


def test_a_webhook_url_made_at_run_time_answers_the_fields_the_flow_reads(
    tmp_path: Path,
) -> None:
    # its answer was `{}`: the success branch said "vpn: " where the URL written in the
    # flow (with the variables' defaults) got `{"note": "1001"}`
    flow = tmp_path / "answer.flow.yaml"
    flow.write_text(RUNTIME_ANSWER, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "answer.explored.test.yaml"))
    assert report.passed, [str(r.failure) for r in report.run.results if not r.passed]
    text = (tmp_path / "answer.explored.test.yaml").read_text(encoding="utf-8")
    assert '        json: {"note": "1001"}\n' in text
    assert '- expect: {say: "vpn: 1001"}' in text


RULED_OUT = """\
version: 1
name: ruled-out
start: menu
settings: {idle_timeout: 5m}
invitation:
  rules:
    - action: accept
  default: decline
states:
  menu:
    enter: [{say: Hi}]
    messages:
      - any: true
        say: ok
      - choice: [help]
        say: never
    no_match:
      - say: never
    timeouts:
      - after: 10m
        do: [stop]
"""


def test_what_the_flow_itself_rules_out_is_named_without_a_search(tmp_path: Path) -> None:
    flow = tmp_path / "ruled.flow.yaml"
    flow.write_text(RULED_OUT, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "ruled.explored.test.yaml"))
    assert report.passed
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert missed == {
        "(start) -> (end) [event: otherwise decline]": (
            "the rule at line 7 takes every invitation before it"
        ),
        'menu -> menu [message: "help"]': (
            '"help" in menu: every message built for it is taken first by any message'
        ),
        "menu -> menu [no_match: no match 1+]": (
            "every message is taken by a handler or a command of the state"
        ),
        "menu -> (end) [timeout: after 10m]": (
            "the flow's idle timeout (5m) ends the conversation before 10m of silence"
        ),
    }
    assert "(any state) -> (end) [timeout: idle 5m]" in {
        describe_edge(edge) for edge in report.coverage.edges
    }
    assert report.found.runs < 10  # nothing was hunted for


NEVER_SILENT = """\
version: 1
name: never-silent
start: ask
settings: {idle_timeout: 30m}
states:
  ask:
    enter: [{say: "Your ID?"}]
    messages:
      - match: '^(?P<id>E\\d{6})$'
        goto: filing
    timeouts:
      - after: 5m
        do: [stop]
  filing:
    enter:
      - webhook:
          url: http://127.0.0.1:8751/tickets
          timeout: 10s
          success: [{say: filed}, stop]
          failure: [{say: not filed}, stop]
    messages:
      - any: true
        say: one moment
    timeouts:
      - after: 1m
        do: [{say: slow}, stop]
"""


def test_an_idle_timeout_and_a_step_no_state_lives_to_see_are_proven_dead(
    tmp_path: Path,
) -> None:
    """What the example flows had before issue 16: an idle timeout later than every
    state's own ending, and a timeout step its state's webhook always beats."""
    flow = tmp_path / "never.flow.yaml"
    flow.write_text(NEVER_SILENT, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "never.explored.test.yaml"))
    assert report.passed, [str(r.failure) for r in report.run.results if not r.passed]
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert set(missed) == {
        "(any state) -> (end) [timeout: idle 30m]",
        "filing -> (end) [timeout: after 1m]",
    }
    assert missed["(any state) -> (end) [timeout: idle 30m]"].startswith(
        "no state stays silent for 30m"
    )
    assert missed["filing -> (end) [timeout: after 1m]"].startswith(
        "filing is always left before 1m of silence"
    )
    assert len(report.coverage.edges) + 2 == report.coverage.edge_total


def test_a_script_the_explorer_did_not_write_is_never_overwritten(tmp_path: Path) -> None:
    flow = tmp_path / "ruled.flow.yaml"
    flow.write_text(RULED_OUT, encoding="utf-8")
    mine = tmp_path / "ruled.test.yaml"
    mine.write_text("flow: ruled.flow.yaml\nscenarios: []\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["test", "--explore", str(flow), "-o", str(mine)])
    assert result.exit_code == 2
    assert "was not written by --explore" in result.output
    assert mine.read_text(encoding="utf-8").startswith("flow:")
    # a directory: an earlier run's families are replaced, nothing is left over
    out = tmp_path / "out"
    out.mkdir()
    stale = out / "ruled.gone.test.yaml"
    stale.write_text("# Written by `ucwa-flow test --explore ruled.flow.yaml`: old\n", "utf-8")
    result = CliRunner().invoke(cli, ["test", "--explore", str(flow), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not stale.exists()
    assert [p.name for p in out.iterdir()]


def test_a_keyword_an_earlier_choice_takes_alone_is_sent_in_a_sentence() -> None:
    loaded = load_flow_text(
        "version: 1\nname: k\nstart: s\nstates:\n  s:\n    messages:\n"
        "      - choice: [printer]\n        say: a\n"
        "      - keywords: [printer]\n        say: b\n"
    )
    assert loaded.flow is not None
    state = loaded.flow.states["s"]
    assert messages_for(state, 1).texts == ("a question about printer",)


PASSED_THROUGH = """\
version: 1
name: passed-through
start: ask
settings: {idle_timeout: 5m}
states:
  ask:
    enter: [{say: User name?}]
    messages:
      - match: '^(?P<user>[a-z]+)$'
        goto: lookup
  lookup:
    enter:
      - webhook:
          url: http://hooks.test/users
          result: account
          success:
            - if: "account.locked == 'for good'"
              then: [{say: locked}, {goto: done}]
              else: [{goto: done}]
          failure: [{goto: done}]
  done:
    enter: [{say: bye}, stop]
"""


def test_a_state_left_in_the_step_that_entered_it_is_not_called_never_entered(
    tmp_path: Path,
) -> None:
    # lookup is entered and left within one step (its webhook answers at once): no
    # observation is in it, but the transitions into it were taken
    flow = tmp_path / "through.flow.yaml"
    flow.write_text(PASSED_THROUGH, "utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "through.explored.test.yaml"))
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert missed == {
        "lookup -> done [webhook: webhook ok → if account.locked == 'for good']": (
            "its condition `account.locked == 'for good'` was never true with the values tried"
        )
    }


BRACKETS = """\
version: 1
name: brackets
start: a
settings: {idle_timeout: 5m}
invitation:
  rules:
    - subject: "[Uu]rgent*"
      action: accept
      goto: b
    - from: "sip:[!a-z0-9 -_.@]*"
      action: decline
  default: accept
states:
  a:
    enter: [{say: hi}, stop]
  b:
    enter: [{say: urgent}, stop]
"""


def test_a_bracket_set_in_a_subject_glob_is_filled_in(tmp_path: Path) -> None:
    # a subject pattern with [...] was never tried: its rule was missed as "no caller and
    # time tried fits it before an earlier rule", which named neither the subject nor why
    flow = tmp_path / "brackets.flow.yaml"
    flow.write_text(BRACKETS, encoding="utf-8")
    report = asyncio.run(explore_flow(flow, tmp_path / "brackets.explored.test.yaml"))
    assert report.passed
    text = (tmp_path / "brackets.explored.test.yaml").read_text(encoding="utf-8")
    assert '      - invite: {subject: "urgent"}\n' in text
    missed = {describe_edge(edge): why for edge, why in report.missed.items()}
    assert not any("Urgent" in edge for edge in missed)
    # a set no tried character is outside of: the pattern and what to write are named
    assert missed["(start) -> (end) [event: decline sip:[!a-z0-9 -_.@]*]"] == (
        'the explorer made no caller that "sip:[!a-z0-9 -_.@]*" matches: write a scenario '
        "with one (caller: sip:...)"
    )


@pytest.mark.parametrize(
    ("glob", "made"), [("[É]tat*", "état"), ("[ÄÖ]*", "ä"), ("[Uu]rgent*", "urgent")]
)
def test_a_set_of_capitals_is_filled_as_the_rule_matches_it(glob: str, made: str) -> None:
    # subjects match case-insensitively; a set of non-ASCII capitals was left unfilled
    from ucwa_flow.testing.explore._entry import _example

    assert _example(glob, "") == made
