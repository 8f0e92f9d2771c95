"""Messages that a regular expression matches: a generator over the pattern's parse tree.

Flow patterns are compiled by the third-party :mod:`regex` module, which has no public
parse tree. Python's own parser (``re._parser``, called ``sre_parse`` before 3.11) reads
the same syntax for everything flows normally use, so the generator walks *its* tree.
That module is private: it is imported by name for the running version, and a pattern it
cannot parse (``regex``-only syntax such as ``\\p{L}``), or an opcode this generator does
not know, makes the pattern :class:`Uninvertible` with the reason, never a crash. Every
string produced is only a *candidate*: the caller checks it with the real matcher (see
:mod:`._messages`), so a mistake here costs a transition, not a wrong test.

What it inverts: literals, ``.``, classes and their ranges and negations, the categories
``\\d \\w \\s`` (and their negations), greedy, lazy and possessive repeats, alternation,
groups (named ones can take a plausible value for their name, :data:`PLAUSIBLE`), anchors
and word boundaries (they produce nothing), backreferences (the group's text again).
Lookarounds produce nothing and are left to the check; a conditional group
``(?(1)a|b)`` is uninvertible.

Variants (``variant=0, 1, 2``) pick different ends of every choice (first/last
alternative, smallest/largest repeat, low/high end of a range), so that a flow condition
on a captured value (``score | int <= 2``) sees more than one value.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any


def _private(name: str, before_311: str) -> ModuleType:
    """CPython's regex parser modules: ``re._parser`` (3.11+) or ``sre_parse`` (older)."""
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - the project runs on 3.11+
        return importlib.import_module(before_311)


_p: Any = _private("re._parser", "sre_parse")
_c: Any = _private("re._constants", "sre_constants")

__all__ = ["PLAUSIBLE", "Inversion", "Uninvertible", "invert"]


class Uninvertible(Exception):
    """The generator cannot build a string for this pattern; ``str()`` says why."""


#: plausible values for a named group, by a word its name contains (tried before the
#: generated text; kept only when the pattern really captures them)
PLAUSIBLE: tuple[tuple[str, str], ...] = (
    ("email", "lena@contoso.com"),
    ("mail", "lena@contoso.com"),
    ("phone", "+1 555 0100"),
    ("date", "2026-01-05"),
    ("name", "Lene Aaling"),
    ("city", "Paris"),
    ("note", "please call me back about my laptop"),
    ("comment", "the answer came quickly"),
    ("description", "the printer on floor 3 jams"),
    ("problem", "the printer on floor 3 jams"),
    ("reason", "my laptop will not start"),
    ("text", "my laptop will not start"),
    ("message", "my laptop will not start"),
)

_FILLER = "lorem ipsum dolor sit amet consectetur"
#: the longest message the generator builds: a pattern whose matches are all longer is
#: uninvertible (nested repeats such as ``((x{60}){60}){60}`` would take all memory)
MAX_TEXT = 10_000
_PLAIN = "ax1-_.Z b"  # tried, in order, for "any character except ..."
#: where the pattern has a word edge ``\b``: a space between two letters, else nothing
_EDGE = "\ue000"


@dataclass(slots=True)
class Inversion:
    """One generated string, and the text each named group took in it."""

    text: str
    groups: dict[str, str] = field(default_factory=dict)
    #: constructs the text may not satisfy (lookarounds...), to explain a failed check
    hazards: tuple[str, ...] = ()


def invert(pattern: str, *, variant: int = 0, named: dict[str, str] | None = None) -> Inversion:
    """A string the pattern matches (a candidate: check it with the real matcher).

    ``variant`` picks other ends of each choice; ``named`` forces the text of named
    groups (plausible values). Raises :class:`Uninvertible` with the reason.
    """
    try:
        tree = _p.parse(pattern)
    except Exception as exc:  # re.error, or anything the private parser raises
        raise Uninvertible(f"Python's regex parser cannot read it ({exc})") from None
    names = {number: name for name, number in tree.state.groupdict.items()}
    return _Walker(names, variant, named or {}).run(tree)


def _word_edges(text: str) -> str:
    """``text`` with each word edge mark made a space where two letters meet, else removed.

    ``\bvpn\b.*\bmac\b`` generates "vpn", nothing for ``.*`` and "mac": "vpn mac", not
    "vpnmac", which has no word edge between the two words.
    """
    if _EDGE not in text:
        return text
    parts = text.split(_EDGE)
    out = parts[0]
    for index in range(1, len(parts)):
        following = "".join(parts[index:])
        if out and following and _is_word(out[-1]) and _is_word(following[0]):
            out += " "
        out += parts[index]
    return out


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def plausible_values(groups: Iterator[str] | list[str]) -> dict[str, str]:
    """A plausible value for each group whose name suggests one."""
    found: dict[str, str] = {}
    for name in groups:
        lowered = name.lower()
        for word, value in PLAUSIBLE:
            if word in lowered:
                found[name] = value
                break
    return found


class _Walker:
    def __init__(self, names: dict[int, str], variant: int, named: dict[str, str]) -> None:
        self.names = names
        self.variant = variant
        self.named = named
        self.numbered: dict[int, str] = {}
        self.filler = 0
        self.hazards: list[str] = []

    def run(self, tree: Any) -> Inversion:
        text = _word_edges(self.seq(tree))
        groups = {
            name: self.numbered.get(n, "").replace(_EDGE, "") for n, name in self.names.items()
        }
        return Inversion(text, groups, tuple(dict.fromkeys(self.hazards)))

    def pick(self, count: int) -> int:
        """Which of ``count`` options this variant takes: first, last, middle."""
        return (0, count - 1, count // 2)[self.variant % 3] if count else 0

    def seq(self, items: Any) -> str:
        return "".join(self.item(op, av) for op, av in items)

    def item(self, op: Any, av: Any) -> str:
        if op is _c.LITERAL:
            return chr(av)
        if op is _c.NOT_LITERAL:
            return next(ch for ch in _PLAIN if ord(ch) != av)
        if op is _c.ANY:
            return self.any_char()
        if op is _c.IN:
            return self.char_in(av)
        if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", None)):
            return self.repeat(*av)
        if op is _c.SUBPATTERN:
            return self.group(av[0], av[-1])
        if op is getattr(_c, "ATOMIC_GROUP", None):
            return self.seq(av)
        if op is _c.BRANCH:
            alternatives = av[1]
            return self.seq(alternatives[self.pick(len(alternatives))])
        if op is _c.AT:  # anchors and \B: left to the check with the real matcher
            return _EDGE if av is _c.AT_BOUNDARY else ""
        if op in (_c.ASSERT, _c.ASSERT_NOT):
            behind = "lookbehind" if av[0] < 0 else "lookahead"
            negative = "negative " if op is _c.ASSERT_NOT else ""
            self.hazards.append(f"a {negative}{behind}")
            return ""
        if op is _c.GROUPREF:
            self.hazards.append("a backreference")
            return self.numbered.get(av, "")
        if op is _c.GROUPREF_EXISTS:
            raise Uninvertible("it has a conditional group (?(…)…|…)")
        if op is _c.CATEGORY:
            return _category(av, self.variant)
        raise Uninvertible(f"the generator does not know {op}")

    def any_char(self) -> str:
        ch = _FILLER[self.filler % len(_FILLER)]
        self.filler += 1
        return ch

    def repeat(self, low: int, high: Any, sub: Any) -> str:
        top = low + 3 if high is _c.MAXREPEAT else int(high)
        counts = (low, top, (low + top) // 2)
        count = max(low, min(top, counts[self.variant % 3]))
        if count == 0:
            return ""
        first = self.seq(sub)
        if first.isspace():  # "1   /   5" reads worse than "1 / 5" and tests no more
            count = max(low, 1)
        if len(first) * count > MAX_TEXT:
            raise Uninvertible(f"the text it matches is longer than {MAX_TEXT:,} characters")
        return first + "".join(self.seq(sub) for _ in range(count - 1))

    def group(self, number: int | None, sub: Any) -> str:
        name = self.names.get(number) if number is not None else None
        forced = self.named.get(name) if name is not None else None
        text = forced if forced is not None else self.seq(sub)
        if number is not None:
            self.numbered[number] = text
        return text

    def char_in(self, items: Any) -> str:
        negated = bool(items) and items[0][0] is _c.NEGATE
        if negated:
            for ch in _PLAIN:
                if not _in_set(ch, items[1:]):
                    return ch
            raise Uninvertible("a negated class excludes every character tried")
        options = [ch for op, av in items for ch in _class_options(op, av, self.variant)]
        if not options:
            raise Uninvertible("an empty character class")
        return options[self.pick(len(options))]


def _class_options(op: Any, av: Any, variant: int) -> list[str]:
    if op is _c.LITERAL:
        return [chr(av)]
    if op is _c.RANGE:
        low, high = av
        return [chr(low), chr((low + high) // 2), chr(high)][: 1 if variant == 0 else 3]
    if op is _c.CATEGORY:
        return [_category(av, variant)]
    return []


def _category(category: Any, variant: int) -> str:
    table = {
        _c.CATEGORY_DIGIT: "195"[variant % 3],
        _c.CATEGORY_NOT_DIGIT: "axm"[variant % 3],
        _c.CATEGORY_WORD: "azm"[variant % 3],
        _c.CATEGORY_NOT_WORD: "-",
        _c.CATEGORY_SPACE: " ",
        _c.CATEGORY_NOT_SPACE: "axm"[variant % 3],
    }
    found = table.get(category)
    if found is None:
        raise Uninvertible(f"the generator does not know the class {category}")
    return found


def _in_set(ch: str, items: Any) -> bool:
    code = ord(ch)
    for op, av in items:
        if op is _c.LITERAL and av == code:
            return True
        if op is _c.RANGE and av[0] <= code <= av[1]:
            return True
        if op is _c.CATEGORY and _category_holds(av, ch):
            return True
    return False


def _category_holds(category: Any, ch: str) -> bool:
    word = ch.isalnum() or ch == "_"
    holds = {
        _c.CATEGORY_DIGIT: ch.isdigit(),
        _c.CATEGORY_NOT_DIGIT: not ch.isdigit(),
        _c.CATEGORY_WORD: word,
        _c.CATEGORY_NOT_WORD: not word,
        _c.CATEGORY_SPACE: ch.isspace(),
        _c.CATEGORY_NOT_SPACE: not ch.isspace(),
    }
    return holds.get(category, True)
