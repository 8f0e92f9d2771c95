"""The quick builders of frozen records (:mod:`ucwa_flow._fastinit`) make what the
constructors make: equal, hashing and printing alike, of the same class, still frozen."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from ucwa_flow._fastinit import builder
from ucwa_flow.flow import Location
from ucwa_flow.lifecycle.tracker import MessageReceived
from ucwa_flow.runtime.outbox import Outgoing, Sent


@dataclasses.dataclass(frozen=True, slots=True)
class _Pair:
    left: str
    right: int | None = None


def _same(built: object, made: object) -> None:
    assert type(built) is type(made)
    assert built == made
    assert hash(built) == hash(made)
    assert repr(built) == repr(made)
    with pytest.raises(dataclasses.FrozenInstanceError):
        built.left = "changed"  # type: ignore[attr-defined]


def _same_record(built: object, made: object) -> None:
    assert type(built) is type(made)
    assert built == made
    assert repr(built) == repr(made)


def test_a_built_record_is_the_one_the_constructor_makes() -> None:
    build = builder(_Pair)
    _same(build("a", 1), _Pair("a", 1))
    _same(build("a", None), _Pair("a"))
    assert dataclasses.replace(build("a", 1), right=2) == _Pair("a", 2)


def test_the_engine_s_records_built_quickly_equal_those_built_the_usual_way() -> None:
    where = Location("flow.yaml", 3, 5)
    said = Outgoing.message("/c", "/c/send", "hi", None, True, where)
    context = said.operation_context
    usual = Outgoing("/c", "message", "/c/send", "hi", None, True, "", context, where)
    _same_record(said, usual)
    assert len(said.operation_context) == 32
    for _ in range(200):  # a random UUID's hex, as _new_context and uuid4 make them
        context = Outgoing.message("/c", "/s", "hi", None, False, None).operation_context
        made = uuid.UUID(hex=context)
        assert (made.version, made.variant, made.hex) == (4, uuid.RFC_4122, context)
    assert Outgoing.message("/c", "/c/send", "hi", None, False, None).operation_context != (
        said.operation_context
    )
    _same_record(builder(Sent)(said, "/m/1", None), Sent(said, message="/m/1"))
    received = builder(MessageReceived)("/c", "/c/m/1", "hi", None, "Lene")
    _same_record(received, MessageReceived("/c", "/c/m/1", "hi", None, "Lene"))


def test_only_frozen_slotted_records_of_their_own_fields_are_built() -> None:
    @dataclasses.dataclass(slots=True)
    class Mutable:
        x: int

    @dataclasses.dataclass(frozen=True)
    class NoSlots:
        x: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        x: int

        def __post_init__(self) -> None:
            pass

    for cls in (Mutable, NoSlots, Checked):
        with pytest.raises(TypeError):
            builder(cls)


def test_fields_named_as_the_builder_s_own_names_or_outside_init_are_handled() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class Named:
        made: str
        cls: int
        new: int
        twin: int

    _same_record(builder(Named)("m", 1, 2, 3), Named("m", 1, 2, 3))

    @dataclasses.dataclass(frozen=True, slots=True)
    class Derived:
        x: int
        y: int = dataclasses.field(init=False, default=0)

    @dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
    class KeywordOnly:
        x: int

    for cls in (Derived, KeywordOnly):
        with pytest.raises(TypeError):
            builder(cls)
