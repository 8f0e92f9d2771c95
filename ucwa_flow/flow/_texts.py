"""Translations: a ``say`` in several languages, and how a conversation's language is picked.

A ``say`` may hold one version per language (``say: {texts: {en: Hello, de: Hallo}}``,
each version a text or ``{text, html}``); :func:`build_say` compiles it into a
:class:`~ucwa_flow.flow.Say` whose ``text``/``html`` are the default language's version
(what every other part of the system, graphs included, shows) and whose ``texts`` hold
every version. The settings say which language a conversation speaks
(``docs/flow-language.md``, "Translations"):

1. ``settings.language``, a template (``"{{ vars.lang }}"``), when it renders one of the
   flow's languages;
2. else the language whose ``detect_language`` keywords the caller's first message holds
   (:func:`detect_language`; the first language listed wins);
3. else ``settings.default_language``.

The flow's languages (:attr:`Flow.languages <ucwa_flow.flow.Flow.languages>`) are the
default, the detected ones and every language a ``texts`` names. :func:`check_texts`
reports a ``say`` without a version in one of them (``F142``, a warning: the default
language's is said instead) and one that cannot fall back: ``texts`` without
``settings.default_language``, or without a version in it (``F143``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Protocol

from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.flow._model import Action, Flow, Say, Settings
from ucwa_flow.flow._patterns import Matcher, MatchTimeout
from ucwa_flow.flow._sandbox import Template

__all__ = ["build_say", "check_texts", "detect_language", "version_of", "with_detectors"]


class _Builder(Protocol):
    settings: Settings

    def template(self, raw: Any, path: Path, *, html: bool = False) -> Template | None: ...

    def loc(self, path: Path, *, key: bool = False) -> Location: ...


def build_say(builder: _Builder, raw: Any, path: Path) -> list[Action]:
    """The :class:`Say` of a ``say`` value: a text, ``{text, html}`` or ``{texts}``."""
    if not (isinstance(raw, dict) and "texts" in raw):
        text, html = _parts(builder, raw, path)
        return [Say(text, html, builder.loc(path))] if text or html else []
    versions = tuple(
        (language, *_parts(builder, value, (*path, "texts", language)))
        for language, value in raw["texts"].items()
    )
    default = builder.settings.default_language
    _, text, html = next((v for v in versions if v[0] == default), versions[0])
    return [Say(text, html, builder.loc(path), texts=versions)]


def _parts(builder: _Builder, raw: Any, path: Path) -> tuple[Template | None, Template | None]:
    if isinstance(raw, dict):
        html = builder.template(raw.get("html"), (*path, "html"), html=True)
        return builder.template(raw.get("text"), (*path, "text")), html
    return builder.template(raw, path), None


def with_detectors(settings: Settings, raw: Mapping[str, Any]) -> Settings:
    """``settings`` with ``detect_language`` (``raw``) compiled: a keywords matcher per
    language, with the settings' time bound and message length."""
    return replace(
        settings,
        detect_language=tuple(
            (
                language,
                Matcher(
                    "keywords",
                    [w if isinstance(w, str) else str(w) for w in words],
                    timeout=settings.match_timeout,
                    max_length=settings.max_message_length,
                ),
            )
            for language, words in raw.items()
        ),
    )


def detect_language(settings: Settings, text: str) -> str | None:
    """The first language whose keywords ``text`` holds (a keyword that runs out of time
    does not match)."""
    for language, matcher in settings.detect_language:
        try:
            if matcher.match(text) is not None:
                return language
        except MatchTimeout:
            continue
    return None


def version_of(say: Say, language: str | None) -> tuple[Template | None, Template | None]:
    """``(text, html)`` of ``say`` in ``language``; the default language's without one."""
    for name, text, html in say.texts:
        if name == language:
            return text, html
    return say.text, say.html


def _says(flow: Flow) -> Iterator[Say]:
    seen: set[Location] = set()  # a global command's list is indexed under every state
    for list_id in flow.action_list_ids:
        for action in flow.action_list(list_id):
            if isinstance(action, Say) and action.texts and action.location not in seen:
                seen.add(action.location)
                yield action


def check_texts(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F142: a ``say`` without a version in one of the flow's languages; F143: one that
    has no default language's version to fall back to."""
    default = flow.settings.default_language
    for say in sorted(_says(flow), key=lambda s: s.location):
        have = {name for name, _, _ in say.texts}
        if default is None:
            yield Diagnostic.at(
                say.location,
                "F143",
                "`texts` needs settings.default_language: the language said to a caller "
                "whose language has no text",
            )
        elif default not in have:
            yield Diagnostic.at(
                say.location, "F143", f"no text in the default language {default!r}"
            )
        missing = sorted(flow.languages - have - {default})
        if missing and default in have:  # else F143 says what is wrong, and no one falls back
            names = ", ".join(repr(m) for m in missing)
            yield Diagnostic.at(
                say.location,
                "F142",
                f"no text in {names}: such callers hear the default language's"
                + (f" ({default!r})" if default else ""),
            )
