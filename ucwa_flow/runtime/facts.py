"""What a running conversation knows about itself beyond its variables: its facts.

A :class:`Facts` belongs to one :class:`~ucwa_flow.runtime.instance.FlowInstance`. It
keeps the conversation's *back stack*, the states ``goto: back`` returns to (what
"previous" means is in :mod:`ucwa_flow.flow._back`; :meth:`Facts.entered` pushes and
pops it, :attr:`Facts.previous` is its top), and counts the messages so far: the
caller's (:meth:`Facts.heard`, the message being handled included, and the invitation's
first message although a ``route_only`` flow does not handle it) and the bot's
(:meth:`Facts.said`, counted when a ``say`` sends one). It also holds the language the
caller's first message showed (:attr:`Facts.language`, by the flow's
``detect_language`` keywords). The template context shows them as
``conversation.previous``, ``conversation.messages`` and (with the flow's language rules)
``conversation.language`` (``docs/flow-language.md``, "Template context").

Facts are kept in the conversation's durable record (:meth:`to_data`, in the record's
``extra``) and read back after a restart (:meth:`from_data`), so a restored conversation
goes on counting where it was. The subject, the caller and the account are not kept here:
the tracked conversation and the engine know them.
"""

from __future__ import annotations

from collections.abc import Container
from typing import Any

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import BACK, BACK_DEPTH, Flow, detect_language

__all__ = ["Facts", "NoPreviousState"]


class NoPreviousState(UcwaFlowError):
    """``goto: back`` with nowhere to go back to (a run-time error of the flow)."""


class Facts:
    """The back stack and message counts of one conversation (see the module docstring)."""

    __slots__ = ("back", "bot", "caller", "language", "last", "outer")

    def __init__(self) -> None:
        # Tuples, replaced rather than changed: a conversation that never moves (or never
        # calls a sub-flow) shares the empty one instead of keeping two empty lists.
        #: the states ``goto: back`` returns to, the latest last
        self.back: tuple[str, ...] = ()
        #: the back stacks of the callers of the sub-flows under way, the innermost last
        self.outer: tuple[tuple[str, ...], ...] = ()
        #: the language the caller's first message showed (``None``: none, or not yet)
        self.language: str | None = None
        #: messages the caller sent so far (the one being handled included)
        self.caller = 0
        #: messages the bot said so far
        self.bot = 0
        #: the state entered last (``None``: none yet)
        self.last: str | None = None

    @property
    def previous(self) -> str | None:
        """The state ``goto: back`` would enter now (``None``: there is none)."""
        return self.back[-1] if self.back else None

    def target(self, goto: str) -> str:
        """The state a ``goto`` to ``goto`` enters: ``back`` is :attr:`previous`.
        :class:`NoPreviousState` when there is none."""
        if goto != BACK:
            return goto
        if self.previous is None:
            raise NoPreviousState("goto back: there is no previous state to go back to")
        return self.previous

    def entered(self, left: str | None, state: str, *, back: bool, call: bool = False) -> None:
        """The conversation left ``left`` (``None``: it was starting) for ``state``, by a
        ``goto: back`` when ``back``, by a sub-flow ``call`` when ``call``: a sub-flow
        starts a history of its own (``back`` never leaves it), kept until it returns."""
        self.last = state
        if call:
            self.outer = (*self.outer, self.back)
            self.back = ()
        elif back:
            self.back = self.back[:-1]
        elif left is not None and left != state:
            self.back = (*self.back, left)[-BACK_DEPTH:]

    def opened(self, first_text: str | None, flow: Flow) -> None:
        """The conversation starts; ``first_text`` came with the invitation: the language
        is detected in it now (before the start state speaks), and it is counted now
        when the flow only routes by it (``first_message: route_only``)."""
        if first_text is not None:
            self.language = detect_language(flow.settings, first_text)
            if flow.settings.first_message == "route_only":
                self.caller += 1

    def returned(self) -> None:
        """The running sub-flow returned: its caller's history is back."""
        self.back = self.outer[-1] if self.outer else ()
        self.outer = self.outer[:-1]

    def heard(self, text: str, flow: Flow) -> None:
        """The caller sent ``text``; the first text of the conversation tells its
        language."""
        if self.caller == 0:
            self.language = detect_language(flow.settings, text)
        self.caller += 1

    def said(self) -> None:
        """The bot said something."""
        self.bot += 1

    def messages(self) -> dict[str, int]:
        """``conversation.messages`` of the template context."""
        return {"caller": self.caller, "bot": self.bot, "total": self.caller + self.bot}

    def to_data(self) -> dict[str, Any]:
        """The facts as JSON data, for the durable record."""
        outer = self.outer
        return {
            "caller": self.caller,
            "bot": self.bot,
            "back": list(self.back),
            "outer": [list(stack) for stack in outer] if outer else [],
            "language": self.language,
        }

    @classmethod
    def from_data(cls, data: Any, states: Container[str]) -> Facts:
        """The facts :meth:`to_data` gave (anything unreadable counts as nothing); the
        back stack keeps only the ``states`` the flow still has."""
        facts = cls()
        if isinstance(data, dict):
            facts.caller = _count(data.get("caller"))
            facts.bot = _count(data.get("bot"))
            language = data.get("language")
            facts.language = language if isinstance(language, str) else None
            back = data.get("back")
            facts.back = _states(back, states)
            outer = data.get("outer")
            if isinstance(outer, list):
                facts.outer = tuple(_states(stack, states) for stack in outer)
        return facts


def _states(data: object, states: Container[str]) -> tuple[str, ...]:
    """The back stack ``data`` (a list of state names) without unknown states."""
    if not isinstance(data, list):
        return ()
    return tuple(s for s in data if isinstance(s, str) and s in states)


def _count(value: object) -> int:
    return value if isinstance(value, int) and value >= 0 else 0
