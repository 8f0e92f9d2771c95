"""The catalog: which flow answers an invitation, by caller, subject and first message."""

from __future__ import annotations

import pytest

from tests.runtime.flows_for_routing import desk
from ucwa_flow.runtime import Catalog, Limits, Route

HELP, VIP, HR = desk("helpdesk", "H"), desk("vip", "V"), desk("hr", "R")


def catalog(*routes: Route, default: str | None = "helpdesk") -> Catalog:
    return Catalog({"helpdesk": HELP, "vip": VIP, "hr": HR}, routes, default)


def test_the_first_route_whose_given_fields_all_match_wins() -> None:
    routes = (
        Route("vip", caller=r"@exec\.contoso\.com$"),
        Route("hr", subject="^payroll", first_message="salary|leave"),
        Route("hr", first_message=r"\bholiday\b"),
    )
    c = catalog(*routes)
    assert c.choose("sip:ceo@EXEC.contoso.com", "payroll", "salary") == "vip"  # caller, first
    assert c.choose("sip:ann@contoso.com", "Payroll question", "my SALARY") == "hr"
    # subject matches but not the first message: that rule does not apply
    assert c.choose("sip:ann@contoso.com", "payroll question", "printer") == "helpdesk"
    assert c.choose("sip:ann@contoso.com", None, "about my holiday") == "hr"
    assert c.choose("sip:ann@contoso.com", "", "holidays") == "helpdesk"  # whole word only


def test_an_invitation_no_route_takes_runs_the_default_flow() -> None:
    c = catalog(Route("vip", caller="^sip:boss@"), default="hr")
    assert c.choose("sip:someone@contoso.com", None, None) == "hr"
    assert c.choose(None, None, None) == "hr"
    assert catalog(default=None).default == "helpdesk"  # the first flow
    assert Catalog.of(VIP).names == ("vip",)
    assert Catalog.of(VIP).choose("sip:x@y", "s", "m") == "vip"


def test_a_route_with_no_field_takes_everything() -> None:
    assert catalog(Route("vip")).choose("sip:a@b", None, "hi") == "vip"


def test_mistakes_are_one_clear_line() -> None:
    with pytest.raises(ValueError, match="route 1 runs flow 'sales'"):
        catalog(Route("sales"))
    with pytest.raises(ValueError, match=r"route 2: caller '\(oops': "):
        catalog(Route("vip"), Route("hr", caller="(oops"))
    with pytest.raises(ValueError, match="default flow 'none'"):
        catalog(default="none")
    with pytest.raises(ValueError, match="at least one flow"):
        Catalog({})
    with pytest.raises(KeyError, match="no flow named 'sales'"):
        catalog().get("sales")


def test_replacing_a_flow_keeps_the_routes_and_the_others() -> None:
    c = catalog(Route("vip", caller="exec"))
    v2 = desk("vip", "V2")
    d = c.replaced("vip", v2)
    assert d.get("vip") is v2
    assert c.get("vip") is VIP
    assert d.get("helpdesk") is HELP
    assert d.choose("sip:exec@x", None, None) == "vip"
    added = c.replaced("survey", desk("survey", "S"))
    assert added.names == ("helpdesk", "vip", "hr", "survey")


def test_a_huge_first_message_is_cut_before_matching() -> None:
    c = catalog(Route("vip", first_message="needle$"))
    assert c.choose("sip:a@b", None, "x" * 10_000 + "needle") == "helpdesk"
    assert c.choose("sip:a@b", None, "x" * 100 + "needle") == "vip"


def test_limits_refuse_nonsense_and_tell_when_full() -> None:
    with pytest.raises(ValueError, match="max_conversations must be at least 1"):
        Limits(max_conversations=0)
    with pytest.raises(ValueError, match="when_full must be decline or ring"):
        Limits(when_full="hang up")  # type: ignore[arg-type]
    assert not Limits().full(10_000, 10_000)
    assert Limits(max_conversations=3).full(3, 0)
    assert not Limits(max_conversations=3).full(2, 2)
    assert Limits(max_answering=2).full(0, 2)


def test_a_route_that_runs_out_of_time_does_not_match(caplog: pytest.LogCaptureFixture) -> None:
    c = catalog(Route("vip", first_message=r"(.*a){25}b"), Route("hr", first_message="a"))
    assert c.choose("sip:a@b", None, "a" * 3000) == "hr"
    assert "route 1: its first_message expression ran out of time" in caplog.text
