"""The campaign rules F160-F165: each fires on its mistake, at its place, and only there."""

from __future__ import annotations

from ucwa_flow.flow import Campaign, load_flow_text

HEAD = """\
version: 1
name: poll
start: ask
outbound:
  to: [sip:ann@contoso.com]
"""
STATES = """\
states:
  ask:
    enter: [{say: "{{ campaign.yes }}"}, {set: {campaign.yes: "{{ campaign.yes + 1 }}"}}, stop]
"""
GOOD_CAMPAIGN = """\
  campaign:
    at_once: 2
    variables: {yes: 0}
    report:
      url: http://x.test/report
      json: {yes: "{{ campaign.yes }}", people: "{{ campaign.people }}", n: "{{ campaign.size }}"}
      failure: [{log: "report failed"}]
"""


def _codes(text: str) -> list[tuple[str, int]]:
    result = load_flow_text(text, "poll.flow.yaml")
    return [(d.code, d.line) for d in result.diagnostics]


def test_a_good_campaign_loads_without_a_word() -> None:
    result = load_flow_text(HEAD + GOOD_CAMPAIGN + STATES)
    assert result.diagnostics == []
    assert result.flow is not None
    outbound = result.flow.outbound
    assert outbound is not None
    assert isinstance(outbound.campaign, Campaign)
    assert (outbound.campaign.at_once, dict(outbound.campaign.variables)) == (2, {"yes": 0})
    assert result.flow.action_list("outbound.campaign.report") == (outbound.campaign.report,)


def test_f160_at_once_below_one() -> None:
    text = HEAD + GOOD_CAMPAIGN.replace("at_once: 2", "at_once: 0") + STATES
    assert _codes(text) == [("F160", 7)]


def test_f161_reading_an_undeclared_campaign_variable() -> None:
    states = STATES.replace('{say: "{{ campaign.yes }}"}', '{say: "{{ campaign.yess }}"}')
    assert _codes(HEAD + GOOD_CAMPAIGN + states) == [("F161", 15)]


def test_f162_setting_an_undeclared_campaign_variable() -> None:
    states = STATES.replace("{set: {campaign.yes:", "{set: {campaign.no:")
    assert _codes(HEAD + GOOD_CAMPAIGN + states) == [("F162", 15)]


def test_f163_a_report_without_failure_branch_is_a_warning() -> None:
    campaign = GOOD_CAMPAIGN.replace('      failure: [{log: "report failed"}]\n', "")
    result = load_flow_text(HEAD + campaign + STATES)
    assert [(d.code, d.is_error) for d in result.diagnostics] == [("F163", False)]
    assert result.flow is not None


def test_f164_campaign_in_a_flow_without_a_campaign() -> None:
    assert _codes(HEAD + STATES) == [("F164", 8)] * 3  # read in say, in set, and set


def test_f165_a_campaign_variable_named_like_a_run_name() -> None:
    campaign = GOOD_CAMPAIGN.replace("variables: {yes: 0}", "variables: {yes: 0, people: []}")
    assert _codes(HEAD + campaign + STATES) == [("F165", 8)]


def test_campaign_is_a_reserved_name_and_set_takes_campaign_names_only() -> None:
    text = HEAD + GOOD_CAMPAIGN + STATES + "variables: {campaign: 1}\n"
    assert ("F117", 16) in _codes(text)
    wrong = STATES.replace("{set: {campaign.yes:", "{set: {other.yes:")
    assert [code for code, _ in _codes(HEAD + GOOD_CAMPAIGN + wrong)] == ["S004"]
