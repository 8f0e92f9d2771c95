"""Messages that take a given handler of a state, checked with the flow's real matchers.

In a state, commands are tried first, then the message handlers, in order; the first
that matches takes the message. :func:`messages_for` builds candidate texts for one of
them (the choices, the keywords, texts generated from a pattern, a few plain sentences
for a catch-all) and keeps those that this handler, and no earlier one, takes.
:func:`unmatched_messages` finds texts that nothing in the state takes (a no-match).
When nothing works, the answer is the reason, for the report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ucwa_flow.flow import MatchTimeout, MessageHandler, State
from ucwa_flow.graph._flow import command_label, matcher_label
from ucwa_flow.testing.explore._invert import Uninvertible, invert, plausible_values

__all__ = ["Candidates", "handler_label", "messages_for", "taken_by", "unmatched_messages"]

_PLAIN = ("I have a question", "hello", "something else", "xyzzy", "...")
_NOTHING = ("xyzzy", "qq zz", "...", "~", "-", "%%")
_VARIANTS = 3


@dataclass(frozen=True, slots=True)
class Candidates:
    """Texts that the handler takes (best first), or why there are none."""

    texts: tuple[str, ...]
    reason: str = ""


def handler_label(handler: MessageHandler) -> str:
    """How the report names a handler: ``command stop (stop, bye)`` or its matcher."""
    if handler.name is not None:
        return f"command {handler.name} ({command_label(handler)})"
    return matcher_label(handler)


def ordered(state: State) -> tuple[MessageHandler, ...]:
    """The state's handlers in the order the interpreter tries them."""
    return (*state.commands, *state.handlers)


def taken_by(state: State, text: str) -> int | None:
    """Which handler of :func:`ordered` takes ``text`` (``None``: a no-match)."""
    for index, handler in enumerate(ordered(state)):
        try:
            if handler.match(text) is not None:
                return index
        except MatchTimeout:
            continue  # the interpreter skips a handler that ran out of time
    return None


def messages_for(state: State, index: int, hints: Sequence[str] = ()) -> Candidates:
    """Texts that handler ``index`` of :func:`ordered` takes in ``state``.

    ``hints`` are values worth capturing (the literals the flow's conditions compare
    with): each named group of a pattern is also tried with each of them, after the
    generated texts, and kept when the pattern accepts it.
    """
    handler = ordered(state)[index]
    try:
        raw, hazards = _raw_candidates(handler, hints)
    except Uninvertible as exc:
        return Candidates((), f"its pattern cannot be inverted: {exc}")
    texts: list[str] = []
    takers: list[int] = []
    for text in dict.fromkeys(t.strip() for t in raw if t.strip()):
        if not _matches(handler, text):
            continue
        taker = taken_by(state, text)
        if taker == index:
            texts.append(text)
        elif taker is not None:
            takers.append(taker)
    if texts:
        return Candidates(tuple(texts))
    if takers:
        first = handler_label(ordered(state)[min(takers)])
        return Candidates((), f"every message built for it is taken first by {first}")
    why = f" (it has {', '.join(hazards)})" if hazards else ""
    return Candidates((), f"no text generated for it matches it{why}")


def unmatched_messages(state: State) -> Candidates:
    """Texts that no command or handler of ``state`` takes."""
    texts = tuple(text for text in _NOTHING if taken_by(state, text) is None)
    if texts:
        return Candidates(texts)
    return Candidates((), "every message is taken by a handler or a command of the state")


def _matches(handler: MessageHandler, text: str) -> bool:
    try:
        return handler.match(text) is not None
    except MatchTimeout:
        return False


def _raw_candidates(
    handler: MessageHandler, hints: Sequence[str]
) -> tuple[list[str], tuple[str, ...]]:
    matcher = handler.matcher
    if matcher.kind == "choice":
        return list(matcher.values), ()
    if matcher.kind == "keywords":  # a keyword alone, else within a sentence
        return [*matcher.values, *(f"a question about {word}" for word in matcher.values)], ()
    if matcher.kind == "any":
        return list(_PLAIN), ()
    pattern = matcher.values[0]
    plausible = plausible_values(sorted(matcher.groups))
    texts: list[str] = []
    hazards: tuple[str, ...] = ()
    for named in ([plausible] if plausible else []) + [{}]:
        for variant in range(_VARIANTS):
            inversion = invert(pattern, variant=variant, named=named)
            texts.append(inversion.text)
            hazards = inversion.hazards
    for group in sorted(matcher.groups):
        for hint in hints:
            texts.append(invert(pattern, named={group: hint}).text)
    return texts, hazards
