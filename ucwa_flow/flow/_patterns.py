"""Message matchers: regular expressions, keywords, exact choices and the catch-all.

Message text is untrusted, so every match runs through the third-party :mod:`regex`
module with a time bound (``timeout=``) and ``concurrent=True`` (the GIL is released while
matching), on text capped at a maximum length. A match that runs out of time raises
:class:`MatchTimeout`; the interpreter treats it as "no match" and logs it.

Matching rules (all case-insensitive, on the trimmed text):

* ``regex``: :meth:`regex.Pattern.search` anywhere in the text; anchor with ``^``/``$``.
  Use ``(?-i)`` for a case-sensitive pattern. Named groups become captures.
* ``keywords``: any of the words appears as a whole word (not inside another word); a
  keyword's punctuation edge may touch anything (``?`` matches "what?").
* ``choice``: the whole text equals one of the choices (inner whitespace collapsed).
* ``any``: always matches.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Literal

from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow._simple_patterns import simple_groups

__all__ = ["MatchTimeout", "Matcher", "MatcherKind", "compile_regex"]

MatcherKind = Literal["regex", "keywords", "choice", "any"]


class MatchTimeout(UcwaFlowError):
    """A pattern took longer than the flow's ``match_timeout`` on a message."""


@functools.lru_cache(maxsize=4096)
def compile_regex(pattern: str) -> Any:
    """Compile a flow pattern; raise :class:`regex.error` with a position when it is invalid.

    Compiled patterns are immutable and shared: a flow says ``keywords: [back]`` in many
    states, and reloading a flow compiles the same patterns again. (``regex`` keeps a
    cache of its own, but only of 500 patterns, and looking in it costs more than here.)
    ``regex`` is imported here, on first use: validating a flow whose patterns are all
    plain (``_simple_patterns``) and that has only keywords and choices never needs it.
    """
    import regex

    return regex.compile(pattern, regex.IGNORECASE | regex.V0)


@functools.lru_cache(maxsize=4096)
def _keywords(words: tuple[str, ...]) -> Any:
    return compile_regex("|".join(_keyword(word) for word in words))


def _normalise(text: str) -> str:
    return " ".join(text.split()).casefold()


#: scripts written without spaces between words (Chinese, Japanese, Thai...)
_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
#: a word character of a script that separates its words with spaces
_WORD = rf"[^\W{_UNSPACED}]"


def _keyword(word: str) -> str:
    """The pattern of one keyword: whole words, and punctuation wherever it is.

    An edge of the keyword that is a word character (letter, digit, ``_``) must not touch
    another word character in the message; an edge that is punctuation may touch anything.
    So ``help`` matches "help?" but not "helpless", and ``?`` matches "what?". Scripts
    that write words without spaces between them (Chinese, Japanese, Thai...) have no
    word edges to look for, so their letters count as punctuation here: ``茶`` matches
    "我要茶" and ``help`` matches "我要help".
    """
    import regex

    text = _normalise(word)
    before = rf"(?<!{_WORD})" if compile_regex(_WORD).match(text) else ""
    after = rf"(?!{_WORD})" if compile_regex(rf"{_WORD}\Z").search(text) else ""
    return f"{before}{regex.escape(text)}{after}"


class Matcher:
    """Decides whether one message handler applies to a message.

    ``values`` is the pattern (kind ``regex``), the words (``keywords``) or the accepted
    texts (``choice``); it is empty for ``any``. :meth:`match` returns the captures (a
    dict, empty for non-regex kinds) or ``None``.

    A pattern in the plain subset of ``_simple_patterns`` (which always compiles) and
    keywords (escaped, so they always compile) are compiled at the first match; any
    other pattern at once, so that its syntax error is raised here.
    """

    __slots__ = ("_compiled", "groups", "kind", "max_length", "timeout", "values")

    def __init__(
        self,
        kind: MatcherKind,
        values: Sequence[str] = (),
        *,
        timeout: float = 0.05,
        max_length: int = 4000,
    ) -> None:
        self.kind: MatcherKind = kind
        self.values: tuple[str, ...] = tuple(values)
        self.timeout = timeout
        self.max_length = max_length
        self._compiled: Any = None
        #: names of the regex's named groups (empty for other kinds)
        self.groups: frozenset[str] = frozenset()
        if kind == "regex":
            groups = simple_groups(self.values[0])
            if groups is None:
                self._compiled = compile_regex(self.values[0])
                groups = frozenset(self._compiled.groupindex)
            self.groups = groups
        elif kind == "choice":
            self._compiled = frozenset(_normalise(choice) for choice in self.values)

    @property
    def is_catch_all(self) -> bool:
        return self.kind == "any"

    def match(self, text: str) -> dict[str, str] | None:
        """Captures when ``text`` matches, else ``None``; may raise :class:`MatchTimeout`."""
        kind = self.kind
        if kind == "any":
            return {}
        if kind == "choice":  # _normalise(text.strip()), a call less (split() strips too)
            said = " ".join(text[: self.max_length].split()).casefold()
            return {} if said in self._compiled else None
        text = text[: self.max_length].strip()
        subject = text if kind == "regex" else _normalise(text)
        compiled = self._compiled
        if compiled is None:
            compiled = self._compiled = self._compile()
        try:
            found = compiled.search(subject, timeout=self.timeout, concurrent=True)
        except TimeoutError:
            shown = repr(self.values[0]) if self.kind == "regex" else ", ".join(self.values)
            raise MatchTimeout(
                f"{self.kind} {shown} ran longer than {self.timeout}s on a message"
            ) from None
        if found is None:
            return None
        if self.kind != "regex":
            return {}
        return {name: value or "" for name, value in found.groupdict().items()}

    def _compile(self) -> Any:
        if self.kind == "regex":
            return compile_regex(self.values[0])
        return _keywords(self.values)

    def __repr__(self) -> str:
        return f"Matcher({self.kind!r}, {self.values!r})"
