"""Running scenarios: what passes, and how a failure reads (file:line, expected, happened)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.testing.conftest import FLOWS
from ucwa_flow.testing import ScenarioResult, load_script, run_scenario


async def _run(path: Path) -> list[ScenarioResult]:
    loaded = load_script(path)
    assert loaded.script is not None, [str(d) for d in loaded.diagnostics]
    return [await run_scenario(loaded.script, sc) for sc in loaded.script.scenarios]


def _script(flow: str, steps: str, extra: str = "") -> str:
    return f"flow: {FLOWS / flow}\nscenarios:\n  - name: it\n{extra}    steps:\n{steps}"


async def test_a_near_miss_shows_where_the_text_differs(write: Callable[..., Path]) -> None:
    path = write(
        "echo.test.yaml",
        _script(
            "echo.flow.yaml",
            "      - invite: hello there\n"
            "      - expect: {say: {contains: I repeat everything}}\n"
            "      - expect: {say: 'You said: helo there'}\n"
            "      - expect: ended\n",
        ),
    )
    (result,) = await _run(path)
    assert result.failure is not None
    assert str(result.failure).splitlines() == [
        f'{path}:7: expected the bot to say "You said: helo there", '
        'but it said "You said: hello there"',
        "  expected: You said: helo there",
        "  said:     You said: hello there",
        "  " + " " * len("said:     You said: hel") + "^ differs here",
    ]


async def test_multi_line_messages_get_a_line_diff(write: Callable[..., Path]) -> None:
    menu = (
        "What can I help you with?\\n1. Reset my password\\n"
        "2. Broken hardware (laptop, printer, screen ...)\\n3. Something different\\n"
        "4. Talk to an agent"
    )
    path = write(
        "helpdesk.test.yaml",
        _script(
            "helpdesk.flow.yaml",
            f'      - invite: hi\n      - expect: {{say: {{regex: "^Hi "}}}}\n'
            f'      - expect: {{say: "{menu}"}}\n',
        ),
    )
    (result,) = await _run(path)
    assert result.failure is not None
    assert result.failure.location.line == 7
    assert "  -3. Something different" in result.failure.details
    assert "  +3. Something else" in result.failure.details


async def test_expectations_on_state_variables_and_the_end(write: Callable[..., Path]) -> None:
    steps = [
        "      - expect: {state: describe}\n",
        "      - expect: {variable: {category: hardware}}\n",
        # a name the flow may set (a handoff's agent): only the run can tell it is missing
        "      - expect: {variable: {agent: blue}}\n",
        "      - expect: ended\n",
        "      - expect: silence\n",
        "      - expect: {say: {regex: '^Hi'}, to: sip:adrianag@contoso.com}\n",
    ]
    failures = []
    for step in steps:
        path = write(
            "helpdesk.test.yaml",
            _script("helpdesk.flow.yaml", "      - invite: hi\n      - say: '1'\n" + step),
        )
        (result,) = await _run(path)
        assert result.failure is not None
        assert result.failure.location.line == 7
        failures.append(result.failure.message)
    assert failures == [
        "expected the conversation to be in state 'describe', but it is in 'ask_employee_id'",
        'expected variable \'category\' to be "hardware", but it is "password"',
        "expected variable 'agent' to be \"blue\", but the conversation has no such variable "
        "(it has: agent_uri, category, description, employee_id, ticket, ticket_url)",
        "expected the conversation to have ended, but it goes on (it is in state "
        "'ask_employee_id')",
        "expected the bot to say nothing more, but it said \"Hi Lene Aaling, I'm the Contoso "
        'IT helpdesk bot." (and 2 more)',
        "expected the bot to say something matching /^Hi/ to sip:adrianag@contoso.com, "
        "but it said nothing",
    ]


async def test_an_unmocked_webhook_fails_the_step_that_caused_it(
    write: Callable[..., Path],
) -> None:
    path = write(
        "helpdesk.test.yaml",
        _script(
            "helpdesk.flow.yaml",
            "      - invite: hi\n      - say: '1'\n      - say: E123456\n      - expect: ended\n",
        ),
    )
    (result,) = await _run(path)
    assert result.failure is not None
    assert result.failure.location.line == 7
    assert result.failure.message == (
        "the flow called POST http://127.0.0.1:8751/tickets, which the scenario does not "
        "mock; add it under webhooks:"
    )
    assert any("the bot reported: POST http://127.0.0.1:8751/tickets" in line
               for line in result.failure.details)  # fmt: skip


async def test_mocked_answers_are_served_in_order_and_the_last_repeats(
    write: Callable[..., Path],
) -> None:
    ticket_for_e123456 = """
              - say: "1"
              - say: E123456
              - expect: {say: {contains: What is your employee ID}}
              - expect: {say: {contains: "Ticket %s is open"}}
              - expect: {say: {contains: anything else}}
              - say: "yes"
              - expect: {say: {contains: What can I help you with}}"""
    path = write(
        "helpdesk.test.yaml",
        f"""
        flow: {FLOWS / "helpdesk.flow.yaml"}
        scenarios:
          - name: three tickets
            webhooks:
              - {{url: "http://127.0.0.1:8751/tickets", json: {{id: T-1}}}}
              - {{url: "http://127.0.0.1:8751/tickets", json: {{id: T-2}}}}
            steps:
              - invite: hi
              - expect: {{say: {{contains: helpdesk bot}}}}
              - expect: {{say: {{contains: What can I help you with}}}}"""
        + ticket_for_e123456 % "T-1"
        + ticket_for_e123456 % "T-2"
        + ticket_for_e123456 % "T-2",
    )
    (result,) = await _run(path)
    assert result.failure is None, str(result.failure)


async def test_waiting_is_virtual_and_timers_fire_in_order(write: Callable[..., Path]) -> None:
    path = write(
        "echo.test.yaml",
        _script(
            "echo.flow.yaml",
            "      - invite: hi\n"
            "      - wait: 9m59s\n"
            "      - expect: {state: echo}\n"
            "      - say: still here\n"
            "      - wait: 9m59s\n"
            "      - expect: {state: echo}\n"
            "      - wait: 1s\n"
            "      - expect: ended\n",
        ),
    )
    (result,) = await _run(path)  # 20 minutes of script time: virtual, or the test times out
    assert result.failure is None, str(result.failure)
    fired = [r for r in result.traces if type(r).__name__ == "TimeoutFired"]
    assert [r.at for r in fired] == [599.0 + 600.0]


async def test_steps_that_cannot_be_done_fail_with_the_reason(
    write: Callable[..., Path],
) -> None:
    cases = {
        "      - accept\n": "sip:lenea@contoso.com cannot accept: the bot has not invited them",
        "      - say: hi\n": "sip:lenea@contoso.com cannot send 'hi': no conversation with "
        "the bot is connected",
        "      - hang_up\n": "sip:lenea@contoso.com has no conversation to hang up",
        "      - invite: a\n      - invite: b\n": "sip:lenea@contoso.com is already in a "
        "conversation with the bot",
    }
    for steps, message in cases.items():
        path = write("echo.test.yaml", _script("echo.flow.yaml", steps))
        (result,) = await _run(path)
        assert result.failure is not None
        assert result.failure.message == message


async def test_an_outbound_flow_where_the_callee_declines(write: Callable[..., Path]) -> None:
    path = write(
        "survey.test.yaml",
        _script(
            "outbound-survey.flow.yaml",
            "      - expect: {say: {contains: Could you rate our help?}}\n"
            "      - decline\n"
            "      - expect: ended\n"
            "      - expect: {state: ask_score}\n",
        ),
    )
    (result,) = await _run(path)
    assert result.failure is not None
    assert result.failure.location.line == 8
    assert result.failure.message == (
        "expected the conversation to be in state 'ask_score', but the bot has no "
        "conversation with sip:lenea@contoso.com"
    )
    outcomes = [r for r in result.traces if type(r).__name__ == "OutcomeReceived"]
    assert ("invite", "declined") in [(r.action, r.branch) for r in outcomes]


async def test_a_closed_stage_leaves_no_task_of_the_bot_pending() -> None:
    # events the bot read while it closed posted jobs that waited for the scenario's clock:
    # `ucwa-flow test --explore` printed "Task was destroyed but it is pending!" for them
    from ucwa_flow.flow import load_flow_text
    from ucwa_flow.testing import _script as s
    from ucwa_flow.testing._stage import Stage

    text = "version: 1\nname: stuck\nstart: ask\nstates:\n  ask:\n    enter: [{say: Code?}]\n"
    flow = load_flow_text(text, "stuck.flow.yaml").flow
    assert flow is not None
    scenario = s.Scenario("x", flow.location, "sip:lenea@contoso.com", None, (), (), ())
    async with Stage(flow, scenario) as stage:
        await stage.party(None).invite("hi")
        await stage.settle()
    runner = stage.bot.engine._runner
    assert [task for task in runner._tasks if not task.done()] == []


async def test_true_is_not_1_inside_a_list_or_a_mapping_either(
    write: Callable[..., Path],
) -> None:
    write(
        "kinds.flow.yaml",
        """
        version: 1
        name: kinds
        start: a
        settings: {idle_timeout: 10m}
        variables: {flags: [1, 0], seen: {ok: 1}}
        states:
          a: {}
        """,
    )
    expectations = [
        "{flags: [true, false]}",
        "{seen: {ok: true}}",
        "{flags: [1, 0], seen: {ok: 1.0}}",
    ]
    outcomes = []
    for expectation in expectations:
        path = write(
            "kinds.test.yaml",
            "flow: kinds.flow.yaml\nscenarios:\n  - name: it\n    steps:\n"
            f"      - invite\n      - expect: {{variable: {expectation}}}\n",
        )
        (result,) = await _run(path)
        outcomes.append(None if result.failure is None else result.failure.message)
    assert outcomes == [
        "expected variable 'flags' to be [true, false], but it is [1, 0]",
        'expected variable \'seen\' to be {"ok": true}, but it is {"ok": 1}',
        None,
    ]
