"""Failed deliveries of the bot's messages: what ``delivery_failed`` sees, and its loop guard.

A message of the bot can be lost two ways, and both run the state's ``delivery_failed``
with the reason in the template variable ``delivery`` (``{code, subcode, message,
status}``, see ``docs/flow-language.md``):

* the send request fails: UCWA's error body (``code``/``subcode``/``message``) and the HTTP
  ``status``; for a transport error (no answer after the client's retries) only
  ``message``;
* the server accepted it and later reports a ``message`` event with status Failure:
  the event's ``reason`` (no ``status``).

:class:`DeliveryGuard` keeps a conversation whose every message fails from looping: a
message sent while ``delivery_failed`` runs does not run it again, whichever way it is lost.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ucwa_flow.ucwa.errors import UcwaHttpError
from ucwa_flow.ucwa.events import Reason

__all__ = ["DeliveryGuard", "from_error", "from_reason"]

_REMEMBERED = 16  # messages of delivery_failed remembered until the server reports on them


class DeliveryGuard:
    """One conversation's view of ``delivery_failed``: running or not, and what it sent."""

    __slots__ = ("_quiet", "recovering")

    def __init__(self) -> None:
        self.recovering = False  # delivery_failed is running
        self._quiet: dict[str, None] = {}  # paths of the messages it sent

    def remember(self, message: str) -> None:
        """``message`` (an href) was sent while ``delivery_failed`` ran."""
        self._quiet[urlsplit(message).path] = None
        while len(self._quiet) > _REMEMBERED:
            del self._quiet[next(iter(self._quiet))]

    def own(self, message: str | None) -> bool:
        """Whether a Failure event for ``message`` is about one that delivery_failed sent."""
        path = urlsplit(message).path if message is not None else None
        if path is None or path not in self._quiet:
            return False
        del self._quiet[path]
        return True


def from_error(exc: Exception) -> dict[str, Any]:
    """``delivery`` for a send request that failed."""
    if isinstance(exc, UcwaHttpError):
        message = exc.error_message or str(exc)
        return {"code": exc.code, "subcode": exc.subcode, "message": message, "status": exc.status}
    message = str(exc) or type(exc).__name__
    return {"code": None, "subcode": None, "message": message, "status": None}


def from_reason(reason: Reason | None) -> dict[str, Any]:
    """``delivery`` for a Failure event with ``reason``."""
    return {
        "code": reason.code if reason else None,
        "subcode": reason.subcode if reason else None,
        "message": reason.message if reason else None,
        "status": None,
    }
