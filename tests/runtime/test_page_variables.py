"""Which variable lines a commit writes (:class:`~ucwa_flow.runtime.changes.PageWriter`),
measured against what was last committed by the same conversation's instance.

A conversation the flow stopped stays followed until the server's end comes; a caller may
invite the bot again into the same conversation before that. The new run starts from the
flow's defaults, so its first commit is measured against them, not against the variables
of the run before it (that wrote ``answer = None`` as a change, and dropped a real one
equal to the old value).
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ucwa_flow.runtime import changes
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.journal import Journal, Page

FLOW = SimpleNamespace(variables={"answer": None}, digest="d", secrets=frozenset())
NO_CALLS = SimpleNamespace(frames=[])


@pytest.fixture
def writer(monkeypatch: pytest.MonkeyPatch) -> changes.PageWriter:
    # the record itself is not what is looked at here
    monkeypatch.setattr(changes, "record_of", lambda instance, **_: instance.href)
    engine = SimpleNamespace(
        campaigns=SimpleNamespace(of=lambda href: None),
        calls=SimpleNamespace(pending=lambda href: []),
        invitations=SimpleNamespace(waiting=lambda href: [], sides=lambda href: []),
        answers=SimpleNamespace(opening=lambda href: None),
        bridges=SimpleNamespace(to_data=lambda href, tracked: None),
        clock=SimpleNamespace(monotonic=lambda: 0.0),
        journal=SimpleNamespace(ended_in={}),
        tracker=SimpleNamespace(get=lambda href: None),
        instances={},
    )
    return changes.PageWriter(engine, "sip:bot@contoso.com", lambda: 1.0, None)  # type: ignore[arg-type]


def _run(writer: changes.PageWriter, answer: Any) -> SimpleNamespace:
    instance = SimpleNamespace(
        href="c1", flow=FLOW, variables={"answer": answer}, ended=False, calls=NO_CALLS
    )
    writer.engine.instances["c1"] = instance  # type: ignore[assignment]
    return instance


def _commit(writer: changes.PageWriter, instance: SimpleNamespace) -> list[Any]:
    page = Page()
    page.touched[instance.href] = instance  # type: ignore[assignment]
    found = writer.changes(page, None, None).transcript
    return [line.data for line in found if line.kind == "variable"]


@pytest.mark.parametrize("answer", [None, "yes"])
def test_a_run_invited_again_into_a_stopped_conversation_starts_from_the_defaults(
    writer: changes.PageWriter, answer: Any
) -> None:
    first = _run(writer, "yes")
    assert _commit(writer, first) == [{"name": "answer", "value": "yes"}]
    first.ended = True  # the flow stopped it; the server's end has not come yet
    assert _commit(writer, first) == []
    again = _run(writer, answer)  # invited again into the same conversation
    expected = [] if answer is None else [{"name": "answer", "value": "yes"}]
    assert _commit(writer, again) == expected


def test_a_restored_run_is_measured_against_its_stored_variables(
    writer: changes.PageWriter,
) -> None:
    instance = _run(writer, "yes")
    writer.restored("c1", 0.5, {"answer": "yes"}, instance)  # type: ignore[arg-type]
    assert _commit(writer, instance) == []
    instance.variables["answer"] = "no"
    assert _commit(writer, instance) == [{"name": "answer", "value": "no"}]


def test_a_change_with_a_line_where_it_was_set_gets_no_second_line_at_the_end(
    writer: changes.PageWriter,
) -> None:
    """A ``set`` is a line where it happened (the journal's, from a ``VariableSet``); the
    commit adds a line only for a change no such line shows (made some other way, or
    changed again since)."""
    journal = Journal(lambda: 0.5)
    instance = _run(writer, None)
    journal.touch(instance)  # type: ignore[arg-type]
    journal.trace(t.MessageIn(at=0, conversation="c1", text="yes"))
    instance.variables["answer"] = "yes"
    journal.trace(t.VariableSet(at=0, conversation="c1", name="answer", value="yes"))
    journal.line("c1", "message_out", {"text": "Noted."})
    found = writer.changes(journal.take(), None, None).transcript
    assert [(line.kind, line.data) for line in found] == [
        ("message_in", {"text": "yes"}),
        ("variable", {"name": "answer", "value": "yes"}),
        ("message_out", {"text": "Noted."}),
    ]
    journal.touch(instance)  # type: ignore[arg-type]
    journal.trace(t.VariableSet(at=0, conversation="c1", name="answer", value="maybe"))
    instance.variables["answer"] = "no"  # changed again, with no line of its own
    found = writer.changes(journal.take(), None, None).transcript
    assert [line.data for line in found] == [
        {"name": "answer", "value": "maybe"},
        {"name": "answer", "value": "no"},
    ]
