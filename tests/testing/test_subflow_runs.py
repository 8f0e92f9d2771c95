"""Sub-flows at run time, through conversation test scripts on the simulator: a call runs
the sub-flow with its own variables and parameters, `return` hands values back to the
right caller (the same sub-flow called from two states, and a call inside a sub-flow),
the caller's variables come back untouched, the actions after the call run, and coverage
counts the call, the sub-flow's own transitions and each return."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from ucwa_flow.testing import run_tests

MAIN = """
version: 1
name: desk
start: menu
settings: {idle_timeout: 10m, first_message: route_only}
variables: {answer: none, name: Zed, count: 0}
states:
  menu:
    enter: [{say: "1 or 2?"}]
    messages:
      - choice: ["1"]
        do:
          - set: {count: "{{ count + 1 }}"}
          - call: {flow: lib/ask.subflow.yaml, returns: {reply: answer}}
          - say: "one: {{ answer }}, {{ name }}, {{ count }}"
      - choice: ["2"]
        goto: two
  two:
    enter:
      - call:
          flow: lib/ask.subflow.yaml
          with: {prompt: "Really?", nested: true}
          returns: {reply: answer}
      - say: "two: {{ answer }}"
      - goto: menu
"""
ASK = """
version: 1
subflow: ask
params:
  prompt: {default: "Your answer?"}
  nested: {default: false}
returns: [reply]
variables: {reply: null, name: inner}
start: ask
states:
  ask:
    enter: [{say: "{{ prompt }} ({{ name }})"}]
    messages:
      - any: true
        set: {reply: "{{ message }}"}
        do:
          - if: nested
            then:
              - call: {flow: echo.subflow.yaml, with: {text: "{{ reply }}"}, returns: {said: reply}}
          - return
"""
ECHO = """
version: 1
subflow: echo
params: {text: {}}
returns: [said]
variables: {said: null}
start: echo
states:
  echo:
    enter:
      - say: "echo {{ text }}"
      - return: {said: "{{ text | upper }}"}
"""
SCRIPT = """
flow: desk.flow.yaml
scenarios:
  - name: the same sub-flow from two callers, once nested
    steps:
      - invite: hi
      - expect: {say: "1 or 2?"}
      - say: "1"
      - expect: {say: "Your answer? (inner)"}
      - expect: {state: ask/ask}
      - expect: {variable: {reply: null, name: inner, prompt: "Your answer?", nested: false}}
      - say: blue
      - expect: {say: "one: blue, Zed, 1"}
      - expect: {state: menu}
      - expect: {variable: {answer: blue, name: Zed, count: 1}}
      - say: "1"
      - expect: {say: "Your answer? (inner)"}
      - say: red
      - expect: {say: "one: red, Zed, 2"}
      - say: "2"
      - expect: {say: "Really? (inner)"}
      - expect: {state: ask/ask}
      - say: green
      - expect: {say: echo green}
      - expect: {say: "two: GREEN"}
      - expect: {say: "1 or 2?"}
      - expect: {state: menu}
"""


async def test_calls_return_to_their_callers_with_values(write: Callable[..., Path]) -> None:
    write("desk.flow.yaml", MAIN)
    lib = write("desk.test.yaml", SCRIPT).parent / "lib"
    lib.mkdir()
    (lib / "ask.subflow.yaml").write_text(ASK.lstrip(), "utf-8")
    (lib / "echo.subflow.yaml").write_text(ECHO.lstrip(), "utf-8")
    run = await run_tests([lib.parent / "desk.test.yaml"])
    problems = [str(d) for script in run.scripts for d in script.diagnostics]
    failures = [str(r.failure) for r in run.results if r.failure is not None]
    assert not problems, problems
    assert not failures, failures
    (cov,) = run.coverage.flows.values()
    taken = sorted(f"{e.source.name} -> {e.target.name}: {e.label}" for e in cov.edges)
    assert taken == [
        "ask/ask -> echo/echo: any message → if nested → call echo",
        "ask/ask -> menu: any message → else → return",
        "ask/ask -> two: echo returned → return",  # back in ask/ask, then its own return
        "echo/echo -> ask/ask: return",
        'menu -> ask/ask: "1" → call ask',
        'menu -> two: "2"',
        "start -> menu: ",
        "two -> ask/ask: call ask",
        "two -> menu: ask returned",
    ]
    assert {"ask/ask", "echo/echo"} <= cov.states


async def test_calls_nest_eight_deep_at_most(write: Callable[..., Path]) -> None:
    # s1 calls s2 ... calls s9: the ninth call is refused and the conversation stops
    write(
        "deep.flow.yaml",
        """
        version: 1
        name: deep
        start: a
        settings: {idle_timeout: 10m, first_message: route_only}
        states:
          a:
            enter: [{call: {flow: s1.subflow.yaml}}, {say: back}]
        """,
    )
    for level in range(1, 10):
        call = f"{{call: {{flow: s{level + 1}.subflow.yaml}}}}, " if level < 9 else ""
        write(
            f"s{level}.subflow.yaml",
            f"version: 1\nsubflow: s{level}\nstart: a\n"
            f"states: {{a: {{enter: [{{say: level {level}}}, {call}return]}}}}\n",
        )
    steps = ["invite: hi", *(f"expect: {{say: level {n}}}" for n in range(1, 9)), "expect: ended"]
    script = write(
        "deep.test.yaml",
        "flow: deep.flow.yaml\nscenarios:\n  - name: too deep\n    steps:\n"
        + "".join(f"      - {step}\n" for step in steps),
    )
    run = await run_tests([script])
    failures = [str(r.failure) for r in run.results if r.failure is not None]
    assert not failures, failures  # level 9 is never said: the conversation ended
    assert run.passed


FAILING_RETURN = """
version: 1
subflow: half
returns: [said]
variables: {said: before, zero: 0}
start: half
states:
  half:
    enter:
      - say: in the sub-flow
      - return: {said: "{{ 1 // zero }}"}
      - say: still in the sub-flow
"""
CALLER = """
version: 1
name: caller
start: menu
settings: {idle_timeout: 10m, first_message: route_only}
variables: {answer: none}
states:
  menu:
    messages:
      - any: true
        do:
          - call: {flow: half.subflow.yaml, returns: {said: answer}}
          - say: "back: {{ answer }}"
"""
FAILING_SCRIPT = """
flow: caller.flow.yaml
scenarios:
  - name: a return whose value fails still returns
    steps:
      - invite: hi
      - say: go
      - expect: {say: in the sub-flow}
      - expect: {say: "back: before"}
      - expect: {state: menu}
"""


async def test_a_return_whose_value_fails_still_returns_to_the_caller(
    write: Callable[..., Path],
) -> None:
    """The frame was popped before the values were evaluated: a value that failed left the
    conversation in the sub-flow with no caller, running the sub-flow's next actions."""
    write("caller.flow.yaml", CALLER)
    write("half.subflow.yaml", FAILING_RETURN)
    run = await run_tests([write("caller.test.yaml", FAILING_SCRIPT)])
    problems = [str(d) for script in run.scripts for d in script.diagnostics]
    failures = [str(r.failure) for r in run.results if r.failure is not None]
    assert not problems, problems
    assert not failures, failures


async def test_a_flow_variable_expected_in_a_sub_flow_names_the_sub_flow_state(
    write: Callable[..., Path],
) -> None:
    # the sub-flow has its own variables: "the conversation has no such variable (it has:
    # reply, name, ...)" did not say why the flow's `answer` was missing
    write("desk.flow.yaml", MAIN)
    script = write(
        "desk.test.yaml",
        """
        flow: desk.flow.yaml
        scenarios:
          - name: in the sub-flow
            steps:
              - invite: hi
              - say: "1"
              - expect: {variable: {answer: none}}
        """,
    )
    lib = script.parent / "lib"
    lib.mkdir()
    (lib / "ask.subflow.yaml").write_text(ASK.lstrip(), "utf-8")
    (lib / "echo.subflow.yaml").write_text(ECHO.lstrip(), "utf-8")
    run = await run_tests([lib.parent / "desk.test.yaml"])
    (result,) = run.results
    assert result.failure is not None
    assert result.failure.message == (
        "expected variable 'answer' to be \"none\", but the conversation, in sub-flow state "
        "'ask/ask', has no such variable (it has: name, nested, prompt, reply)"
    )
