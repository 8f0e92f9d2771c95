"""Finding regexes that can backtrack catastrophically (rule ``F120``).

A backtracking matcher takes exponential (or high polynomial) time on a message that
*almost* matches when a repeated part of the pattern can match the same text in more than
one way: ``(a+)+$``, ``(\\w+\\s?)+$``, ``(a|a)*``, ``(a|\\w)+``. The flow's match timeout
keeps the bot responsive, but such a pattern then silently fails on ordinary messages.

:func:`backtracking_risk` walks the syntax tree of the pattern and reports two shapes
under a repetition that may run many times (``*``, ``+``, ``{n,}``, ``{n,m}`` with m > 10):

* a nested repetition of variable length whose text the neighbouring parts of the same
  repeated group could also match, so one iteration's text can be split across two
  iterations in many ways (``(a+)+``, ``(\\w+\\s?)+``, ``(,.*)*``, ``((ab)+)+``);
* alternatives that can match the same text (``(a|a)*``, ``(x|\\w)+``, ``(a|aa)*``).

Atomic groups ``(?>...)``, possessive quantifiers (``a++``) and lookarounds do not
backtrack into themselves and are not reported.

The tree comes from the standard library's regex parser (``re._parser``), which is
private: every use is guarded, and a pattern it cannot read (syntax only the ``regex``
module knows, such as ``\\p{L}``) or a tree shape this module does not know is simply not
reported. Character sets are compared on sample characters (ASCII, a few non-ASCII
letters, digits and spaces, and every character the pattern names), case-insensitively
like flow patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["backtracking_risk", "backtracking_warning"]

try:  # private, and renamed between Python versions: guarded
    from re import _constants as _c  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - other Python versions
    _sre = None
    _c = None

_Node = tuple[Any, Any]
_CharTest = Callable[[str], bool]

_MANY = 10  # an outer repetition with more possible iterations than this is "many"
_MAX_SPELLINGS = 32
_SAMPLES = "".join(map(chr, range(128))) + "éßЖ中١\u00a0\u2028"
_CATEGORIES: dict[str, str] = {
    "CATEGORY_DIGIT": r"\d",
    "CATEGORY_NOT_DIGIT": r"\D",
    "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S",
    "CATEGORY_WORD": r"\w",
    "CATEGORY_NOT_WORD": r"\W",
}


_NESTED = (
    "a repeated group contains a repetition that can match the same text in more than one "
    "way (as in (a+)+ or (\\w+\\s?)+)"
)
_ALTERNATIVES = (
    "a repeated group has alternatives that can match the same text "
    "(as in (a|a)*, (a|\\w)+ or (a|aa)*)"
)


def _forms(ch: str) -> set[str]:
    return {f for f in (ch, ch.lower(), ch.upper()) if len(f) == 1}


_BASE = frozenset(_SAMPLES)
_BASE_FORMS = [_forms(ch) for ch in _SAMPLES]


class _Unknown(Exception):
    """A tree shape this module does not understand: report nothing."""


def backtracking_warning(pattern: str) -> str | None:
    """The ``F120`` message for ``pattern``, or ``None`` when it looks safe."""
    risk = backtracking_risk(pattern)
    if risk is None:
        return None
    # as written, as F105 shows a pattern (a repr shows each backslash twice)
    shown = repr(pattern) if "\n" in pattern else f"'{pattern}'"
    return (
        f"regex {shown} can backtrack catastrophically: {risk}; a message that almost "
        "matches then runs into the match timeout and counts as no match (let each part "
        "match one way only, or use an atomic group (?>...) or a possessive quantifier "
        "such as a++)"
    )


def backtracking_risk(pattern: str) -> str | None:
    """Why ``pattern`` may backtrack catastrophically, or ``None`` when it looks safe."""
    if _sre is None or _c is None:
        return None
    try:
        tree = list(_sre.parse(pattern).data)
    except Exception:  # syntax re does not know, or a changed private API
        return None
    analysis = _Analysis("".join(_literals(pattern)))
    try:
        return analysis.sequence(tree) or _one_character_alternatives(pattern, analysis)
    except (_Unknown, RecursionError, TypeError, ValueError, AttributeError, IndexError):
        return None


# One-character alternatives: the standard parser turns `(a|\w)` into the set `[a\w]`,
# which hides the branch the `regex` module keeps (and backtracks into). Found in the text.
_ATOM = r"(?:\\[^pPNxuUg0-9]|\[\^?\]?(?:\\.|[^\]\\])*\]|[^|()\\\[\]{}*+?^$])"
_ONE_CHARACTER_BRANCH = re.compile(
    rf"(?<!\\)\((?:\?:|\?P?<\w+>)?({_ATOM}(?:\|{_ATOM})+)\)(?:[*+]|\{{\d*,\d*\}})(?![+])"
)


def _one_character_alternatives(pattern: str, analysis: _Analysis) -> str | None:
    for group in _ONE_CHARACTER_BRANCH.finditer(pattern):
        tests = [analysis.char_of(atom) for atom in re.findall(_ATOM, group.group(1))]
        known = [t for t in tests if t is not None]
        for i, first in enumerate(known):
            if any(analysis.overlap(first, second) for second in known[i + 1 :]):
                return _ALTERNATIVES
    return None


def _literals(pattern: str) -> Iterator[str]:
    """Characters the pattern names, plus their neighbours (range ends)."""
    for ch in pattern:
        for code in (ord(ch) - 1, ord(ch), ord(ch) + 1):
            if 0 <= code < 0x110000 and not 0xD800 <= code <= 0xDFFF:
                yield chr(code)


def _name(op: Any) -> str:
    return str(op)


def _between(low: int, high: int) -> _CharTest:
    def test(ch: str) -> bool:
        return low <= ord(ch) <= high

    return test


def _category(pattern: str) -> _CharTest:
    compiled = re.compile(pattern)

    def test(ch: str) -> bool:
        return compiled.match(ch) is not None

    return test


def _not(inner: _CharTest) -> _CharTest:
    def test(ch: str) -> bool:
        return not inner(ch)

    return test


def _any_of(tests: tuple[_CharTest, ...]) -> _CharTest:
    def test(ch: str) -> bool:
        return any(t(ch) for t in tests)

    return test


class _Analysis:
    def __init__(self, samples: str) -> None:
        extra = dict.fromkeys(ch for ch in samples if ch not in _BASE)
        self._forms = _BASE_FORMS + [_forms(ch) for ch in extra]
        self._masks: dict[int, tuple[int, _CharTest]] = {}

    # -- the walk ------------------------------------------------------------------------

    def sequence(self, items: Sequence[_Node]) -> str | None:
        for op, av in items:
            found = self.node(_name(op), av)
            if found:
                return found
        return None

    def node(self, op: str, av: Any) -> str | None:
        if op in ("MAX_REPEAT", "MIN_REPEAT"):
            high, body = av[1], list(av[2])
            if high is _c.MAXREPEAT or high > _MANY:
                found = self.repeated(body)
                if found:
                    return found
            return self.sequence(body)
        if op == "SUBPATTERN":
            return self.sequence(list(av[-1]))
        if op == "BRANCH":
            for alternative in av[1]:
                found = self.sequence(list(alternative))
                if found:
                    return found
        if op == "GROUPREF_EXISTS":
            return self.sequence(list(av[1])) or (self.sequence(list(av[2])) if av[2] else None)
        # atomic groups, possessive repeats and lookarounds do not backtrack into themselves
        return None

    def repeated(self, body: list[_Node]) -> str | None:
        """Problems of ``body`` repeated many times."""
        for inner, before, after in self._inner_repeats(body, [], []):
            _, (low, high, inner_body) = inner
            if low == high:
                continue  # a fixed count can only split one way
            chars = self._single_char(list(inner_body))
            if chars is None:
                fits = all(self.nullable(n) for n in (*before, *after))
            else:
                fits = all(self.absorbable(n, chars) for n in (*before, *after))
            if fits:
                return _NESTED
        spellings = self._spellings(body)
        if spellings is not None:
            ambiguous = self._ambiguous(spellings)
        else:
            ambiguous = any(
                self._ambiguous([s for s in map(self._fixed, branch) if s is not None], tile=False)
                for branch in self._branches(body)
            )
        return _ALTERNATIVES if ambiguous else None

    def _inner_repeats(
        self, items: list[_Node], before: list[_Node], after: list[_Node]
    ) -> Iterator[tuple[_Node, list[_Node], list[_Node]]]:
        """Backtracking repetitions (more than once) in ``items``, with what surrounds them
        in one iteration of the enclosing repetition."""
        for i, (op, av) in enumerate(items):
            name = _name(op)
            left, right = before + items[:i], items[i + 1 :] + after
            if name in ("MAX_REPEAT", "MIN_REPEAT"):
                if av[1] is _c.MAXREPEAT or av[1] > 1:
                    yield (op, av), left, right
                yield from self._inner_repeats(list(av[2]), left, right)
            elif name == "SUBPATTERN":
                yield from self._inner_repeats(list(av[-1]), left, right)
            elif name == "BRANCH":
                for alternative in av[1]:
                    yield from self._inner_repeats(list(alternative), left, right)

    def _branches(self, items: list[_Node]) -> Iterator[list[list[_Node]]]:
        """The alternatives of every branch in ``items`` (outside repetitions)."""
        for op, av in items:
            name = _name(op)
            if name == "BRANCH":
                yield [list(a) for a in av[1]]
                for alternative in av[1]:
                    yield from self._branches(list(alternative))
            elif name == "SUBPATTERN":
                yield from self._branches(list(av[-1]))
            elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[1] == 1:
                yield from self._branches(list(av[2]))

    def _ambiguous(self, spellings: list[list[_CharTest]], *, tile: bool = True) -> bool:
        """Whether two spellings can be the same text, or (``tile``) one spelling can be
        the text of several others in a row: then a repetition can split text many ways."""
        for i, first in enumerate(spellings):
            for second in spellings[i + 1 :]:
                if len(first) == len(second) and self._same(first, second):
                    return True
        if not tile:
            return False
        parts = [s for s in spellings if s]
        for word in parts:
            # can word be spelt as two or more parts in a row?
            reach = [True] + [False] * len(word)
            for end in range(1, len(word) + 1):
                for part in parts:
                    start = end - len(part)
                    if start < 0 or not reach[start] or (start == 0 and end == len(word)):
                        continue
                    if self._same(word[start:end], part):
                        reach[end] = True
                        break
            if reach[len(word)]:
                return True
        return False

    def _same(self, first: list[_CharTest], second: list[_CharTest]) -> bool:
        return all(self.overlap(x, y) for x, y in zip(first, second, strict=True))

    def _spellings(self, items: list[_Node]) -> list[list[_CharTest]] | None:
        """Every way to spell ``items`` as one character test per position, when it has
        only a few fixed-length ways (alternatives, optional parts); else ``None``."""
        spellings: list[list[_CharTest]] = [[]]
        for op, av in items:
            name = _name(op)
            single = self._char((op, av))
            options: list[list[_CharTest]] | None
            if single is not None:
                options = [[single]]
            elif name == "AT":
                options = [[]]
            elif name == "SUBPATTERN":
                options = self._spellings(list(av[-1]))
            elif name == "BRANCH":
                options = []
                for alternative in av[1]:
                    spelt = self._spellings(list(alternative))
                    if spelt is None:
                        return None
                    options.extend(spelt)
            elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[1] is not _c.MAXREPEAT:
                once = self._spellings(list(av[2]))
                if once is None or av[1] > _MANY:
                    return None
                options = []
                for count in range(av[0], av[1] + 1):
                    repeated: list[list[_CharTest]] = [[]]
                    for _ in range(count):
                        repeated = [r + o for r in repeated for o in once][: _MAX_SPELLINGS + 1]
                    options.extend(repeated)
            else:
                return None
            if options is None:
                return None
            spellings = [s + o for s in spellings for o in options]
            if len(spellings) > _MAX_SPELLINGS:
                return None
        return spellings

    # -- what nodes match --------------------------------------------------------------------

    def nullable(self, node: _Node) -> bool:
        op, av = _name(node[0]), node[1]
        if op in ("AT", "ASSERT", "ASSERT_NOT", "GROUPREF_EXISTS"):
            return True
        if op in ("LITERAL", "NOT_LITERAL", "ANY", "IN", "GROUPREF", "CATEGORY"):
            return False
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return bool(av[0] == 0 or all(self.nullable(n) for n in av[2]))
        if op == "SUBPATTERN":
            return all(self.nullable(n) for n in av[-1])
        if op == "ATOMIC_GROUP":
            return all(self.nullable(n) for n in av)
        if op == "BRANCH":
            return any(all(self.nullable(n) for n in a) for a in av[1])
        raise _Unknown(op)

    def absorbable(self, node: _Node, chars: _CharTest) -> bool:
        """Whether ``node`` can match a text made only of characters ``chars`` accepts."""
        if self.nullable(node):
            return True
        op, av = _name(node[0]), node[1]
        single = self._char(node)
        if single is not None:
            return self.overlap(single, chars)
        if op in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            return all(self.absorbable(n, chars) for n in av[2])
        if op == "SUBPATTERN":
            return all(self.absorbable(n, chars) for n in av[-1])
        if op == "ATOMIC_GROUP":
            return all(self.absorbable(n, chars) for n in av)
        if op == "BRANCH":
            return any(all(self.absorbable(n, chars) for n in a) for a in av[1])
        return False

    def _single_char(self, body: list[_Node]) -> _CharTest | None:
        """The characters of a body that is one character (``a``, ``[ab]``, ``(\\w)``)."""
        if len(body) == 1 and _name(body[0][0]) == "SUBPATTERN":
            return self._single_char(list(body[0][1][-1]))
        return self._char(body[0]) if len(body) == 1 else None

    def _fixed(self, items: list[_Node]) -> list[_CharTest] | None:
        """The alternative as one character test per position, if it has a fixed length."""
        spelt: list[_CharTest] = []
        for op, av in items:
            name = _name(op)
            single = self._char((op, av))
            if single is not None:
                spelt.append(single)
            elif name == "SUBPATTERN":
                inner = self._fixed(list(av[-1]))
                if inner is None:
                    return None
                spelt.extend(inner)
            elif name in ("MAX_REPEAT", "MIN_REPEAT") and av[0] == av[1] and av[0] <= _MANY:
                inner = self._fixed(list(av[2]))
                if inner is None:
                    return None
                spelt.extend(inner * av[0])
            elif name != "AT":
                return None
        return spelt

    def char_of(self, atom: str) -> _CharTest | None:
        """The test of a one-character piece of pattern text (``a``, ``\\w``, ``[ab]``)."""
        assert _sre is not None
        items = list(_sre.parse(atom).data)
        return self._char(items[0]) if len(items) == 1 else None

    def _char(self, node: _Node) -> _CharTest | None:
        """The test of a one-character node (literal, set, ``.``), else ``None``."""
        op, av = _name(node[0]), node[1]
        if op == "LITERAL":
            return _between(av, av)
        if op == "NOT_LITERAL":
            return _not(_between(av, av))
        if op == "ANY":
            return _not(_between(10, 10))
        if op == "IN":
            return self._set(list(av))
        return None

    def _set(self, items: list[_Node]) -> _CharTest:
        negate = False
        tests: list[_CharTest] = []
        for op, av in items:
            name = _name(op)
            if name == "NEGATE":
                negate = True
            elif name == "LITERAL":
                tests.append(_between(av, av))
            elif name == "RANGE":
                tests.append(_between(av[0], av[1]))
            elif name == "CATEGORY" and _name(av) in _CATEGORIES:
                tests.append(_category(_CATEGORIES[_name(av)]))
            else:
                raise _Unknown(name)
        accepted = _any_of(tuple(tests))
        return _not(accepted) if negate else accepted

    def overlap(self, first: _CharTest, second: _CharTest) -> bool:
        """Whether some character passes both tests, ignoring case like flow patterns."""
        return self._mask(first) & self._mask(second) != 0

    def _mask(self, test: _CharTest) -> int:
        """The samples ``test`` accepts in some case, as bits (computed once per test)."""
        known = self._masks.get(id(test))
        if known is None:
            bits = 0
            for i, forms in enumerate(self._forms):
                if any(test(f) for f in forms):
                    bits |= 1 << i
            known = self._masks[id(test)] = (bits, test)  # the test is kept: ids stay unique
        return known[0]
