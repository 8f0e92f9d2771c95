"""Every construct of the language loads into the model it should (tests/flow/flows/full)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ucwa_flow.flow import (
    Flow,
    Goto,
    If,
    Invite,
    Log,
    Matcher,
    Say,
    SetVariable,
    Stop,
    Typing,
    Webhook,
    iter_actions,
    load_flow,
)

FULL = Path(__file__).parent / "flows" / "full.flow.yaml"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def flow() -> Flow:
    result = load_flow(FULL)
    assert result.diagnostics == []
    return result.raise_for_errors()


def test_top_level(flow: Flow) -> None:
    assert (flow.name, flow.version, flow.start) == ("full", 1, "menu")
    assert flow.description == "Every construct of the flow language"
    assert list(flow.states) == ["menu", "password", "hardware", "lookup", "handoff", "404"]
    assert dict(flow.variables) == {"employee_id": None, "ticket": None, "misses": 0}
    assert flow.source == str(FULL)
    assert flow.location.line == 3


def test_settings(flow: Flow) -> None:
    settings = flow.settings
    assert settings.format == "html"
    assert settings.idle_timeout == 900.0
    assert settings.match_timeout == pytest.approx(0.05)
    assert settings.max_message_length == 2000
    assert settings.timezone == "Europe/Paris"


def test_invitation_policy_decides_by_caller_subject_and_time(flow: Flow) -> None:
    policy = flow.invitation
    assert policy.default == "decline"
    assert len(policy.rules) == 3
    monday_10_paris = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    monday_20_paris = datetime(2026, 1, 5, 19, 0, tzinfo=UTC)
    saturday = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
    first, second, third = policy.rules
    assert policy.decide("sip:Ann@Contoso.com", "", monday_10_paris) is first
    assert policy.decide("sip:ann@contoso.com", "", monday_20_paris) is third
    assert policy.decide("sip:ann@contoso.com", "", saturday) is third
    assert policy.decide("sip:boss@fabrikam.com", "Very URGENT", saturday) is second
    assert second.goto == "handoff"
    assert second.action == "accept"
    assert third.action == "decline"
    assert third.message is not None
    assert third.message.render({"caller": {"name": "Bo"}}) == "Sorry Bo, we are closed."
    assert first.days == frozenset({1, 2, 3, 4, 5})
    assert first.hours is not None
    assert policy.decline_message is not None


def test_states_enter_and_say_with_html_fallback(flow: Flow) -> None:
    menu = flow.states["menu"]
    say, typing = menu.enter
    assert isinstance(say, Say)
    assert isinstance(typing, Typing)
    assert say.html is not None
    assert say.text is not None
    context = {"caller": {"name": "<Eve>"}}
    assert say.html.render(context).startswith("<b>Hi &lt;Eve&gt;</b>")
    assert say.text.render(context).startswith("Hi <Eve>:")
    assert (menu.location.line, menu.location.col) == (41, 3)


def test_message_handlers_in_order_with_kinds_and_matching(flow: Flow) -> None:
    menu = flow.states["menu"]
    kinds = [h.kind for h in menu.handlers]
    assert kinds == ["regex", "choice", "keywords", "regex"]
    regex_1, choice, keywords, capture = menu.handlers
    assert regex_1.match("password please") == {}
    assert regex_1.match("my password") is None
    assert choice.match(" Hardware ") == {}
    assert choice.match("2") == {}
    assert keywords.match("the printer is on fire") == {}
    assert keywords.match("printers") is None
    assert capture.match("I am E123456") == {"employee_id": "E123456"}
    assert capture.matcher.groups == frozenset({"employee_id"})
    set_id, set_misses, say, log, goto = capture.actions
    assert isinstance(set_id, SetVariable)
    assert isinstance(set_misses, SetVariable)
    assert set_misses.value.evaluate({"misses": 2}) == 3
    assert set_id.value.evaluate({"match": {"employee_id": "E1"}}) == "E1"
    assert isinstance(say, Say)
    assert isinstance(log, Log)
    assert log.level == "debug"
    assert isinstance(goto, Goto)
    assert goto.target == "lookup"


def test_ladders(flow: Flow) -> None:
    menu = flow.states["menu"]
    assert len(menu.no_match) == 3
    assert [type(a) for a in menu.no_match[1].actions] == [Say, SetVariable]
    last = menu.no_match[2].actions[0]
    assert isinstance(last, Goto)
    assert last.target == "handoff"
    assert [step.after for step in menu.timeouts] == [120.0, 5400.0]
    assert isinstance(menu.timeouts[1].actions[-1], Stop)
    assert isinstance(menu.ended[0], Log)
    assert isinstance(menu.delivery_failed[0], Log)


def test_global_commands_overridden_and_disabled_per_state(flow: Flow) -> None:
    assert [c.name for c in flow.commands] == ["help", "agent"]
    assert [c.name for c in flow.states["menu"].commands] == ["help", "agent"]
    hardware = flow.states["hardware"]
    assert [c.name for c in hardware.commands] == ["help"]
    say = hardware.commands[0].actions[0]
    assert isinstance(say, Say)
    assert say.text is not None
    assert say.text.render({}) == "Describe the hardware problem."
    assert flow.commands[0].match("?") == {}


def test_if_then_else_and_number_state_names(flow: Flow) -> None:
    hardware = flow.states["hardware"]
    to_404 = hardware.handlers[0]
    assert to_404.match("404") == {}
    assert to_404.actions == (Goto("404", to_404.actions[0].location),)
    condition = hardware.handlers[1].actions[0]
    assert isinstance(condition, If)
    assert condition.condition.evaluate({"misses": 3}) is True
    assert condition.condition.evaluate({"misses": 0}) is False
    assert isinstance(condition.otherwise[1], Goto)


def test_webhook(flow: Flow) -> None:
    webhook = flow.states["lookup"].enter[0]
    assert isinstance(webhook, Webhook)
    assert webhook.method == "POST"
    assert webhook.timeout == 5.0
    assert webhook.result == "ticket"
    assert webhook.url.render({"employee_id": "E1"}).endswith("/api/E1")
    assert webhook.json is not None
    body = webhook.json.evaluate({"employee_id": "E1", "misses": 2, "state": "lookup"})
    assert body == {"employee": "E1", "count": 2, "tags": ["it", "lookup"]}
    assert [name for name, _ in webhook.headers] == ["Authorization"]
    assert webhook.failure is not None
    assert len(webhook.success) == 2


def test_invite(flow: Flow) -> None:
    invite = flow.states["handoff"].enter[0]
    assert isinstance(invite, Invite)
    assert invite.to.render({}) == "sip:agent@contoso.com"
    assert invite.importance == "high"
    assert invite.timeout == 90.0
    assert invite.accepted is not None
    assert invite.declined is not None
    assert invite.no_answer is not None
    assert isinstance(invite.no_answer[-1], Stop)
    assert invite.subject is not None
    assert invite.subject.render({}) == "Helpdesk"


def test_iter_actions_reaches_nested_branches(flow: Flow) -> None:
    nested = list(iter_actions(flow.states["lookup"].enter))
    assert sum(isinstance(a, Goto) for a in nested) == 2
    assert (nested[0].location.line, nested[0].location.col) == (92, 9)


def test_model_is_frozen(flow: Flow) -> None:
    with pytest.raises(AttributeError):
        flow.start = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        flow.states["x"] = flow.states["menu"]  # type: ignore[index]


def test_outbound_flow() -> None:
    from ucwa_flow.flow import load_flow_text

    text = """\
version: 1
name: survey
start: ask
variables: {score: null}
outbound:
  to: ["sip:ann@contoso.com", "sip:bob@contoso.com"]
  message: "May I ask you one question?"
  subject: Survey
  importance: high
  timeout: 2m
  declined: [{log: "{{ caller.uri }} declined"}]
  no_answer: [{log: "{{ caller.uri }} did not answer"}]
states:
  ask:
    enter: [{say: "From 1 to 5?"}]
    messages:
      - match: '^(?P<score>[1-5])$'
        say: "Thanks for {{ match.score }}"
        do: [stop]
    timeouts: [{after: 10m, do: [stop]}]
"""
    result = load_flow_text(text, "survey.flow.yaml")
    assert result.diagnostics == []
    flow = result.raise_for_errors()
    outbound = flow.outbound
    assert outbound is not None
    assert outbound.to == ("sip:ann@contoso.com", "sip:bob@contoso.com")
    assert outbound.importance == "high"
    assert outbound.timeout == 120.0
    assert outbound.declined is not None
    assert isinstance(outbound.declined[0], Log)
    assert outbound.no_answer is not None
    assert (outbound.location.line, outbound.location.col) == (5, 1)
    assert flow.states["ask"].handlers[0].match("4") == {"score": "4"}


def test_a_state_reached_only_from_delivery_failed_is_reachable() -> None:
    from ucwa_flow.flow import load_flow_text

    result = load_flow_text(
        """
version: 1
name: apology
start: chat
states:
  chat:
    messages:
      - any: true
        say: ok
    timeouts:
      - after: 1m
        do: [stop]
    delivery_failed:
      - goto: sorry
  sorry:
    enter:
      - say: Sorry, a message did not arrive.
      - stop
""",
        "apology.flow.yaml",
    )
    assert [d.code for d in result.diagnostics] == []


@pytest.mark.parametrize(
    ("message", "found"),
    [
        ("what?", True),
        ("?", True),
        ("help?", True),
        ("Help me", True),
        ("I need HELP!", True),
        ("helpless", False),
        ("unhelpful", False),
        ("hello", False),
    ],
)
def test_keywords_match_words_and_punctuation_anywhere(message: str, found: bool) -> None:
    # issue 10: `what?` did not trigger the helpdesk's `?` keyword
    matcher = Matcher("keywords", ["help", "?"])
    assert (matcher.match(message) is not None) is found


def test_keywords_with_inner_punctuation_and_spaces() -> None:
    matcher = Matcher("keywords", ["e-mail", "c++", "reset password"])
    assert matcher.match("my e-mail is down") == {}
    assert matcher.match("I write C++ daily") == {}
    assert matcher.match("please RESET   my password") is None
    assert matcher.match("please reset  password") == {}
    assert matcher.match("emails") is None
    assert matcher.match("abc++") is None  # `c` is a word edge: not inside "abc"


@pytest.mark.parametrize(
    ("keyword", "message", "found"),
    [
        ("茶", "我要茶", True),  # Chinese writes no spaces between words
        ("茶", "お茶をください", True),
        ("コーヒー", "ホットコーヒーをください", True),
        ("ชา", "ฉันอยากได้ชาเย็น", True),  # Thai neither
        ("help", "我要help", True),  # a Latin word within Chinese text is a word
        ("help", "我要helpless", False),
        ("קפה", "אני רוצה קפה", True),  # Hebrew separates words: still whole words
        ("קפה", "קפהה", False),
        ("café", "un CAFÉ!", True),
        ("café", "cafés", False),
    ],
)
def test_keywords_in_scripts_without_spaces_match_inside_the_text(
    keyword: str, message: str, found: bool
) -> None:
    assert (Matcher("keywords", [keyword]).match(message) is not None) is found


def test_the_helpdesk_answers_what_with_its_help_command() -> None:
    flow = load_flow(ROOT / "flows" / "helpdesk.flow.yaml").raise_for_errors()
    (help_command,) = [c for c in flow.states["menu"].commands if c.name == "help"]
    assert help_command.match("what?") == {}
    assert help_command.match("helpless") is None


def test_a_choice_matches_the_message_normalised_as_before() -> None:
    # ``match`` for a choice normalises inline: the same as _normalise(text[:max].strip())
    from ucwa_flow.flow._patterns import _normalise

    choices = ["Talk to  a human", "stop", "ß", "x"]
    matcher = Matcher("choice", choices, max_length=12)
    accepted = {_normalise(c) for c in choices}
    texts = ["talk to a human", " TALK\tto a  HUMAN\r\n", "stop", "\u00a0stop\u2003", "SS", "ß"]
    texts += ["talk to a hu", "x" + " " * 20 + "y", "x          y", "\n\nstop\n", "sto p", ""]
    for text in texts:
        expected: dict[str, str] | None = {} if _normalise(text[:12].strip()) in accepted else None
        assert matcher.match(text) == expected, text
    assert matcher.match(" TALK\tto a  HUMAN\r\n") is None  # cut at 12 characters first
    assert matcher.match("\u00a0stop\u2003") == {}
