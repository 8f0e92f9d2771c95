"""Process logging for ``ucwa-flow serve``: text or JSON lines, with secrets redacted.

:func:`configure_logging` sets the root logger up once, at start-up: one handler on
standard error, writing either readable text or one JSON object per line (``time`` in
ISO-8601 UTC, ``level``, ``logger``, ``message``, the :mod:`ucwa_flow.logcontext` fields
``account``/``conversation``/``flow``/``state`` when set, ``exc`` and ``stack`` as text).

Redaction: every value registered as a secret (:func:`add_secret`, or ``secrets=`` here:
account passwords, the admin bearer token, a flow's ``secret`` variables) is replaced by
``***`` in the message, its arguments, exception and stack text of every record, before any
handler writes it; so are bearer and WebTicket (``cwt=``) tokens, ``password``/
``access_token`` values in forms and JSON and a URL's password (``https://bot:***@host``),
whatever their value, as the OAuth tokens a bot is granted are never known to this module.
The :class:`Redactor` filter is put on every handler that exists when
:func:`configure_logging` runs, not only on its own.

Why the standard library's :mod:`logging` and not structlog: every module of ucwa-flow,
and httpx, uvicorn and transitions below it, already logs through stdlib loggers; a
formatter and a filter make all of those lines structured and redacted, with no second
logging API to learn and no dependency to add.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import threading
from collections.abc import Iterable
from typing import Any, Literal, TextIO

from ucwa_flow import logcontext
from ucwa_flow._display import c1_escaped, printable
from ucwa_flow._url_forms import url_forms

__all__ = ["Redactor", "add_secret", "configure_logging", "redact"]

MASK = "***"
_LEVELS = ("debug", "info", "warning", "error", "critical")

# values that are secret whatever they are (the group before the value is kept)
_PATTERNS = re.compile(
    r"(?i)(\bbearer\s+|\bcwt=|[\"']?\b(?:access_token|password)[\"']?\s*[:=]\s*[\"']?)"
    r"(?!\*\*\*)[^\s\"'&,;}]+"
)
# the password of a URL's userinfo (``https://bot:pw@host``: httpx's request lines at debug):
# from the first ``:`` to the authority's last ``@``, as httpx reads it (``/?#`` end it)
_USERINFO = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/?#\s:]*:)[^/?#\s]*@")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None  # the registered secrets, longest first
_SHORT = 3  # a secret shorter than this is masked only as a whole word, not inside words


def _alternative(secret: str) -> str:
    escaped = re.escape(secret)
    return escaped if len(secret) >= _SHORT else rf"(?<!\w){escaped}(?!\w)"


def add_secret(value: str) -> None:
    """Redact ``value`` from every log line from now on, as it is and as a URL encodes it
    (:func:`~ucwa_flow._url_forms.url_forms`: ``ab%2Bc`` for ``ab+c``, in httpx's request lines
    at ``debug``). An empty value is ignored; one of 1 or 2 characters is masked only where
    it stands alone, else every "y" of a password "y" would be masked, which garbles the
    lines and gives the password away."""
    global _pattern
    if not value:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        if len(value) >= _SHORT:  # as a URL carries it: a key in a webhook's query
            _secrets.update(url_forms(value))
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(_alternative(s) for s in ordered))


def redact(text: str) -> str:
    """``text`` with every registered secret and token-like value replaced by ``***``."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    text = _USERINFO.sub(lambda m: m.group(1) + MASK + "@", text)
    return _PATTERNS.sub(lambda m: m.group(1) + MASK, text)


class Redactor(logging.Filter):
    """Rewrites a record in place so that no handler sees a secret (see the module doc).

    The message is rendered with its arguments first (a secret may be an argument), and
    the exception and stack are rendered to text once, redacted, where every formatter
    finds them (``exc_text``, ``stack_info``).
    """

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_ucwa_redacted", False):
            return True  # another handler's filter already did it
        try:
            message = record.getMessage()
        except Exception:  # a broken %-format: show both parts rather than fail (or leak)
            message = f"{record.msg} % {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        setattr(record, "_ucwa_redacted", True)  # noqa: B010
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for name, value in logcontext.fields().items():
            line.setdefault(name, redact(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(record.stack_info)
        return c1_escaped(json.dumps(line, ensure_ascii=False, default=str))


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message [account=... conversation=...]``, time in UTC."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return _utc(record.created)

    def formatMessage(self, record: logging.LogRecord) -> str:
        context = logcontext.fields()
        shown = [f"{name}={context.pop(name)}" for name in logcontext.FIELDS if name in context]
        shown += [f"{name}={value}" for name, value in sorted(context.items())]
        # one record, one line: a caller's text in a message (a flow's `log:` action) can
        # neither forge a line nor drive the terminal (a traceback still follows, as is)
        line = printable(super().formatMessage(record))
        return f"{line} [{printable(redact(' '.join(shown)))}]" if shown else line


def configure_logging(
    format: Literal["text", "json"] | str = "text",
    level: str = "info",
    secrets: Iterable[str] = (),
    *,
    stream: TextIO | None = None,
) -> logging.Handler:
    """Send every log line to ``stream`` (standard error) as ``format``, from ``level`` up.

    Calling it again replaces the handler it installed before (handlers installed by others
    stay, and get the :class:`Redactor` too). Below ``debug``, httpx, httpcore and
    transitions log only warnings: their per-request and per-callback lines would drown
    the bots' own; watchfiles (``serve --watch``) logs only warnings at any level: it logs
    every change in a watched folder, and with the log written to a file there each line
    was a change that made the next, for as long as it ran. Returns the handler.
    Raises ``ValueError`` naming the choices for an unknown format or level.
    """
    if format not in ("text", "json"):
        raise ValueError(f"unknown log format {format!r}: use text or json")
    name = level.lower()
    if name not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}")
    for value in secrets:
        add_secret(value)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_ucwa_flow", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter() if format == "json" else TextFormatter())
    handler._ucwa_flow = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(name.upper())
    quiet = logging.WARNING if name != "debug" else logging.NOTSET
    for noisy in ("httpx", "httpcore", "transitions"):
        logging.getLogger(noisy).setLevel(quiet)
    logging.getLogger("watchfiles").setLevel(logging.WARNING)
    _guard_every_handler()
    return handler


def _guard_every_handler() -> None:
    loggers = [logging.getLogger()] + [
        logger
        for logger in list(logging.Logger.manager.loggerDict.values())
        if isinstance(logger, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(f, Redactor) for f in handler.filters):
                handler.addFilter(Redactor())


def _utc(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
