"""The journal of a durable engine: what waits for the next commit, and who is told."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

from ucwa_flow.runtime import FlowInstance
from ucwa_flow.runtime.journal import Journal
from ucwa_flow.runtime.outbox import Outgoing, Sent


def test_outcomes_alone_do_not_call_for_work_but_anything_else_does() -> None:
    journal = Journal(lambda: 1000.0)
    called: list[str] = []
    journal.on_work = lambda: called.append("work")
    item = Outgoing("/conv/1", "message", "/conv/1/messaging/sendMessage", "hello")

    journal.sent(Sent(item, message="/conv/1/messages/1"))
    assert journal.outcomes_only
    assert journal.news.is_set()
    assert called == []

    journal.send(Outgoing("/conv/1", "typing", "/conv/1/messaging/typing"))
    assert not journal.outcomes_only
    assert called == ["work"]

    page = journal.take()
    assert len(page.outcomes) == 1
    assert len(page.outgoing) == 1
    assert not journal.outcomes_only
    assert not journal.news.is_set()
    journal.put_back(page)
    assert called == ["work", "work"]


def test_a_round_robin_acceptance_is_work_and_the_later_one_wins_a_put_back() -> None:
    journal = Journal(lambda: 1000.0)
    called: list[str] = []
    journal.on_work = lambda: called.append("work")

    journal.rotation("desk", "sip:marco@contoso.com", 1)
    assert journal
    assert called == ["work"]
    journal.sent(Sent(Outgoing("/conv/1", "typing", "/conv/1/messaging/typing")))
    assert not journal.outcomes_only  # the position waits for no batch

    page = journal.take()
    assert page.rotations == {("desk", "sip:marco@contoso.com"): 1}
    journal.rotation("desk", "sip:service-desk@contoso.com", 2)  # while the commit failed
    journal.rotation("desk", "sip:marco@contoso.com", 3)
    journal.put_back(page)
    assert journal.take().rotations == {
        ("desk", "sip:marco@contoso.com"): 3,  # Marco's later acceptance wins
        ("desk", "sip:service-desk@contoso.com"): 2,
    }


def test_a_put_back_keeps_the_instances_whose_webhooks_answered_meanwhile() -> None:
    # a webhook that answers after its conversation ended, while a commit fails: its lines
    # go into the commit tried again, and so must its instance, whose secrets they keep out
    journal = Journal(lambda: 1000.0)
    first, late = (cast(FlowInstance, SimpleNamespace(href=h)) for h in ("/c/a", "/c/b"))
    journal.answered(first)
    page = journal.take()
    journal.answered(late)
    journal.put_back(page)
    assert journal.take().answered == {"/c/a": first, "/c/b": late}


def test_an_answered_webhook_alone_is_work_not_outcomes_only() -> None:
    # the work of an ended conversation changed, and nothing else: it must be committed
    journal = Journal(lambda: 1000.0)
    called: list[str] = []
    journal.on_work = lambda: called.append("work")
    journal.sent(Sent(Outgoing("/c/a", "typing", "/c/a/messaging/typing")))
    journal.answered(cast(FlowInstance, SimpleNamespace(href="/c/a")))
    assert journal
    assert not journal.outcomes_only
    assert called == ["work"]


def test_an_invitation_given_up_is_work_and_its_later_change_wins_a_put_back() -> None:
    clock = iter([10.0, 20.0, 30.0])
    journal = Journal(lambda: next(clock))
    called: list[str] = []
    journal.on_work = lambda: called.append("work")
    journal.abandoned("op1", True)
    journal.abandoned("op2", True)
    assert journal
    assert not journal.outcomes_only
    assert called == ["work", "work"]
    page = journal.take()
    assert page.abandoned == {"op1": 10.0, "op2": 20.0}
    journal.abandoned("op1", False)  # named while the commit failed
    journal.put_back(page)
    assert list(journal.take().abandoned.items()) == [("op2", 20.0), ("op1", None)]
