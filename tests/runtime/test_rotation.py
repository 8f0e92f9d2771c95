"""Round robin's place among a handoff's agents: per flow, but only the turns of the agents
a search rings count, so a flow's two queues keep a rotation each."""

from __future__ import annotations

from ucwa_flow.runtime.journal import Journal
from ucwa_flow.runtime.rotation import Rotation
from ucwa_flow.store import RotationRecord

A, B, C, D = (f"sip:{n}@contoso.com" for n in "abcd")
ACCOUNT = "sip:toshm@contoso.com"


class _Host:
    def __init__(self, journal: Journal | None = None) -> None:
        self.journal = journal


def test_a_flows_two_queues_keep_a_rotation_each() -> None:
    rotation = Rotation(_Host())
    billing, technical = (A, B), (C, D)
    assert rotation.first("desk", billing) == 0
    rotation.accepted("desk", A)
    assert rotation.first("desk", technical) == 0  # nobody of them accepted yet
    rotation.accepted("desk", C)
    assert rotation.first("desk", billing) == 1  # after A, though C accepted since
    assert rotation.first("desk", technical) == 1
    rotation.accepted("desk", B)
    assert rotation.first("desk", billing) == 2  # wraps round in the bridge (mod len)
    assert rotation.first("other", billing) == 0  # another flow, another rotation


def test_turns_are_journaled_and_restored() -> None:
    journal = Journal(lambda: 1000.0)
    rotation = Rotation(_Host(journal))
    rotation.accepted("desk", A)
    rotation.accepted("desk", B)
    rotation.accepted("desk", A)
    assert journal.take().rotations == {("desk", A): 3, ("desk", B): 2}

    restored = Rotation(_Host())
    restored.restore(
        [RotationRecord(ACCOUNT, "desk", B, 2, 1.0), RotationRecord(ACCOUNT, "desk", A, 3, 1.0)]
    )
    assert restored.first("desk", (A, B)) == 1  # A accepted last
    restored.accepted("desk", B)  # the count carries on: B's turn is 4, after A's 3
    assert restored.first("desk", (A, B)) == 2
