"""Recordings written by hand in the replay format, replayed against the example flows.

Each test writes the JSON lines a team would write (``docs/replay.md``), replays them with
:func:`ucwa_flow.replay.replay` and checks the verdict: timeouts on the virtual clock,
webhook answers and invite outcomes as recorded, what replay refuses to guess (an outcome
or an answer the recording does not have), the invitation policy, secrets.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROOT
from ucwa_flow.flow import Flow, load_flow, load_flow_text
from ucwa_flow.replay import Compare, Result, read_lines, replay

MENU = (
    "What can I help you with?\n1. Reset my password\n2. Broken hardware (laptop, printer, "
    "screen ...)\n3. Something else\n4. Talk to an agent"
)
HI = "Hi Ann Smith, I'm the Contoso IT helpdesk bot."
ASK_ID = "What is your employee ID? It is an E followed by 6 digits, like E123456."
ANN = {"caller": "sip:ann@contoso.com", "caller_name": "Ann Smith", "flow": "helpdesk"}
AGENT = "sip:helpdesk-agents@contoso.com"


def flow(name: str, tmp_path: Path | None = None, edit: tuple[str, str] | None = None) -> Flow:
    path = ROOT / "flows" / f"{name}.flow.yaml"
    if edit is not None and tmp_path is not None:
        text = path.read_text(encoding="utf-8")
        assert edit[0] in text
        path = tmp_path / path.name
        path.write_text(text.replace(edit[0], edit[1]), encoding="utf-8")
    return load_flow(path).raise_for_errors()


def run(target: Flow, *lines: dict[str, Any], how: str = "exact") -> list[Result]:
    recordings = list(read_lines("hand.jsonl", [json.dumps(line) for line in lines]))
    return asyncio.run(replay(target, recordings, Compare.parse(how)))


def one(target: Flow, line: dict[str, Any], how: str = "exact") -> Result:
    return run(target, line, how=how)[0]


def start(at: float = 0) -> list[dict[str, Any]]:
    return [
        {"at": at, "state": "welcome"},
        {"at": at, "caller": "hello"},
        {"at": at, "bot": HI},
        {"at": at, "state": "menu"},
        {"at": at, "bot": MENU},
    ]


def password(json_answer: Any) -> dict[str, Any]:
    return {
        **ANN,
        "events": [
            *start(),
            {"at": 5, "caller": "1"},
            {"at": 5, "state": "ask_employee_id"},
            {"at": 5, "bot": ASK_ID},
            {"at": 9, "caller": "E123456"},
            {"at": 9, "state": "open_ticket"},
            {"at": 10, "webhook": "success", "status": 201, "json": json_answer},
            {
                "at": 10,
                "bot": "Ticket T-7 is open. IT will get back to you within the working day.",
            },
            {"at": 10, "state": "anything_else"},
            {"at": 10, "bot": "Is there anything else I can do for you? (yes or no)"},
            {"at": 12, "caller": "no"},
            {"at": 12, "bot": "You're welcome. Have a good day!"},
            {"at": 12, "ended": "bot"},
        ],
        "variables": {"employee_id": "E123456", "ticket": {"id": "T-7"}, "category": "password"},
    }


def test_a_webhook_answers_as_recorded_and_the_variables_match() -> None:
    result = one(flow("helpdesk"), password({"id": "T-7"}))
    assert not result.diverged, result


def test_a_variable_that_differs_at_the_end_is_a_divergence() -> None:
    line = password({"id": "T-7"})
    line["variables"]["category"] = "hardware"
    result = one(flow("helpdesk"), line)
    assert result.diverged
    assert result.first is None
    assert result.variables == {"category": ("hardware", "password")}


def test_secret_and_redacted_variables_are_not_compared() -> None:
    line = password({"id": "T-7"})
    line["variables"]["employee_id"] = "[redacted]"
    line["variables"]["category"] = "hardware"
    line["secrets"] = ["category"]
    assert not one(flow("helpdesk"), line).diverged


def test_a_webhook_the_recording_has_no_outcome_for_stops_the_replay() -> None:
    line = password({"id": "T-7"})
    line["events"] = [e for e in line["events"] if "webhook" not in e]
    result = one(flow("helpdesk"), line)
    assert result.diverged
    assert result.stop is not None
    assert (result.stop.kind, result.stop.state) == ("outcome_unknown", "open_ticket")
    assert result.stop.detail == "POST http://127.0.0.1:8751/tickets"


def test_timeouts_fire_on_the_virtual_clock_at_their_recorded_times() -> None:
    line = {
        **ANN,
        "events": [
            *start(),
            {"at": 120, "bot": 'Still there? Answer 1 to 4, or type "help".'},
            {"at": 300, "bot": "I'll close this chat now. Message me again any time."},
            {"at": 300, "ended": "bot"},
        ],
    }
    assert not one(flow("helpdesk"), line).diverged
    # a caller who answers before the first timeout: the flow did not nudge them then
    line["events"].insert(5, {"at": 60, "caller": "1"})
    result = one(flow("helpdesk"), line)
    assert result.first is not None
    assert result.first.kind == "state"
    assert result.first.actual == "(enters ask_employee_id)"


INVITE_FLOW = """\
version: 1
name: desk
start: ask
settings: {idle_timeout: 10m}
states:
  ask:
    messages:
      - any: true
        do:
          - say: Asking an agent.
          - invite:
              to: sip:agent@contoso.com
              timeout: 1m
              accepted: [{say: An agent accepted.}, stop]
              declined: [{say: The agent declined.}]
              no_answer: [{say: Nobody answered.}]
"""


def test_an_invite_is_answered_as_recorded() -> None:
    desk = load_flow_text(INVITE_FLOW, "desk.flow.yaml").raise_for_errors()
    line = {
        **ANN,
        "flow": "desk",
        "events": [
            {"at": 0, "state": "ask"},
            {"at": 1, "caller": "hello"},
            {"at": 1, "bot": "Asking an agent."},
            {"at": 40, "invite": "declined"},
            {"at": 40, "bot": "The agent declined."},
            {"at": 50, "left": True},
        ],
    }
    assert not one(desk, line).diverged
    line["events"][3] = {"at": 40, "invite": "accepted"}
    result = one(desk, line)
    assert result.first is not None
    assert result.first.state == "ask"
    assert result.first.actual == "An agent accepted."


def test_a_handoff_is_answered_as_recorded_and_its_relay_left_out() -> None:
    waiting = "I'm asking an agent to join you, this can take a minute..."
    connected = (
        "Helpdesk Agents from the service desk is with you now. Everything you write goes to them."
    )
    line = {
        **ANN,
        "events": [
            *start(),
            {"at": 3, "caller": "4"},
            {"at": 3, "state": "handoff"},
            {"at": 3, "bot": waiting},
            {"at": 9, "handoff": "connected", "uri": AGENT, "name": "Helpdesk Agents"},
            {"at": 9, "bot": connected},
            {"at": 1900, "handoff": "done"},  # 30m idle timeout: paused while bridged
            {"at": 1900, "state": "anything_else"},
            {"at": 1900, "bot": "Is there anything else I can do for you? (yes or no)"},
            {"at": 1905, "caller": "no"},
            {"at": 1905, "bot": "You're welcome. Have a good day!"},
            {"at": 1905, "ended": "bot"},
        ],
    }
    assert not one(flow("helpdesk"), line).diverged
    line["events"][8] = {"at": 9, "handoff": "connected", "uri": AGENT, "name": "Ann Agent"}
    result = one(flow("helpdesk"), line)
    assert result.first is not None
    assert result.first.actual is not None
    assert result.first.actual.startswith("Ann Agent from the service desk")


def test_a_handoff_without_a_recorded_outcome_stops_a_replay() -> None:
    waiting = "I'm asking an agent to join you, this can take a minute..."
    line = {
        **ANN,
        "events": [
            *start(),
            {"at": 3, "caller": "4"},
            {"at": 3, "state": "handoff"},
            {"at": 3, "bot": waiting},
            {"at": 40, "bot": "Helpdesk Agents: hello"},
        ],
    }
    result = one(flow("helpdesk"), line)
    assert result.stop is not None
    assert result.stop.kind == "outcome_unknown"
    assert result.stop.state == "handoff"
    assert "the handoff to sip:helpdesk-agents@contoso.com" in (result.stop.detail or "")


def test_a_caller_the_new_policy_declines_is_reported() -> None:
    line = {**ANN, "caller": "sip:bob@fabrikam.com", "events": start()}
    result = one(flow("helpdesk"), line)
    assert result.stop is not None
    assert result.stop.kind == "declined"
    assert result.diverged


def test_a_recording_without_a_caller_meets_the_policys_from_globs() -> None:
    # "Only events is required": a recording that does not say who called meets the
    # rules' `from:` globs, so the helpdesk (contoso.com callers only) does not decline
    # it, and it replays unchanged against the very flow it was written for.
    hi = "Hi caller, I'm the Contoso IT helpdesk bot."
    events = [{"at": 0, "caller": "hello"}, {"at": 0, "bot": hi}, {"at": 0, "bot": MENU}]
    result = one(flow("helpdesk"), {"events": events})
    assert result.stop is None
    assert not result.diverged
    # the rules' other conditions still hold: a weekday evening goes where its rule says
    hours = "Hi caller, the service desk is open Monday to Friday, 8:00 to 18:00 (Paris time)."
    started, events = (
        "2026-01-05T19:00:00Z",
        [{"at": 0, "state": "evening"}, {"at": 0, "bot": hours}],
    )
    evening = {"started": started, "events": events}
    assert not one(flow("after-hours"), evening).diverged
    weekend = {"started": "2026-01-10T10:00:00Z", "events": [{"at": 0, "state": "office_hours"}]}
    assert one(flow("after-hours"), weekend).stop.kind == "declined"  # type: ignore[union-attr]


def test_a_flow_that_now_ends_before_the_caller_is_done_diverged(tmp_path: Path) -> None:
    edited = flow("echo", tmp_path, ("choice: [stop, bye]", "choice: [stop, bye, hello]"))
    hi = 'Hi Ann! I repeat everything you write. Type "stop" to end.'
    line = {
        "caller": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "events": [
            {"at": 0, "state": "echo"},
            {"at": 0, "bot": hi},
            {"at": 0, "caller": "hello"},
            {"at": 0, "bot": "You said: hello"},
            {"at": 4, "caller": "how are you"},
            {"at": 4, "bot": "You said: how are you"},
        ],
    }
    assert not one(flow("echo"), line).diverged
    result = one(edited, line)
    assert result.stop is not None
    assert (result.stop.kind, result.stop.detail) == ("ended", "how are you")
    assert result.first is not None
    assert (result.first.expected, result.first.actual) == ("You said: hello", "Bye!")


def test_a_message_kept_secret_replays_up_to_it_only() -> None:
    line = {**ANN, "events": [*start(), {"at": 5, "caller": "[redacted]"}]}
    result = one(flow("helpdesk"), line)
    assert result.partial
    assert not result.diverged


def test_a_first_message_kept_secret_is_not_replayed_at_all() -> None:
    line = {**ANN, "events": [{"at": 0, "state": "welcome"}, {"at": 0, "caller": "[redacted]"}]}
    result = one(flow("helpdesk"), line)
    assert (result.partial, result.diverged) == (True, False)


def test_without_states_only_the_replies_are_compared() -> None:
    hi = 'Hi Ann! I repeat everything you write. Type "stop" to end.'
    line = {
        "caller": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "events": [
            {"at": 0, "caller": "hello"},
            {"at": 0, "bot": hi},
            {"at": 0, "bot": "You said: hello"},
            {"at": 4, "caller": "bye"},
            {"at": 4, "bot": "Bye!"},
        ],
    }
    assert not one(flow("echo"), line).diverged


@pytest.mark.parametrize(
    ("how", "diverged"),
    [("exact", True), ("loose", True), ("similar:0.75", False), ("similar", True)],
)
def test_compare_modes(tmp_path: Path, how: str, diverged: bool) -> None:
    edited = flow(
        "echo", tmp_path, ('say: "You said: {{ message }}"', 'say: "You wrote: {{ message }}"')
    )
    line = {
        "caller": "sip:ann@contoso.com",
        "caller_name": "Ann",
        "events": [{"at": 1, "caller": "hello there"}, {"at": 1, "bot": "You said: hello there"}],
    }
    line["events"].insert(
        0, {"at": 0, "bot": 'Hi Ann! I repeat everything you write. Type "stop" to end.'}
    )
    assert one(edited, line, how).diverged is diverged


def test_loose_ignores_whitespace_and_case() -> None:
    assert Compare.parse("loose").same("Hello   THERE\n", "hello there")
    assert not Compare.parse("exact").same("Hello there", "hello there")
    with pytest.raises(ValueError, match="exact, loose, similar"):
        Compare.parse("fuzzy")
    with pytest.raises(ValueError, match=r"\(0, 1\]"):
        Compare.parse("similar:1.5")
