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

:func:`settle_sent` is what the engine does when one of its requests is over.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.outbox import Sent
from ucwa_flow.ucwa.errors import UcwaHttpError
from ucwa_flow.ucwa.events import Reason

if TYPE_CHECKING:
    from ucwa_flow.runtime.engine import Engine

__all__ = ["DeliveryGuard", "from_error", "from_reason", "settle_sent"]

log = logging.getLogger("ucwa_flow.runtime")

_REMEMBERED = 16  # messages of delivery_failed remembered until the server reports on them


class DeliveryGuard:
    """One conversation's view of ``delivery_failed``: running or not, and what it sent."""

    __slots__ = ("_quiet", "recovering")

    def __init__(self) -> None:
        self.recovering = False  # delivery_failed is running
        # paths of the messages it sent; made on the first (most conversations never)
        self._quiet: dict[str, None] | None = None

    def remember(self, message: str) -> None:
        """``message`` (an href) was sent while ``delivery_failed`` ran."""
        if self._quiet is None:
            self._quiet = {}
        self._quiet[urlsplit(message).path] = None
        while len(self._quiet) > _REMEMBERED:
            del self._quiet[next(iter(self._quiet))]

    def own(self, message: str | None) -> bool:
        """Whether a Failure event for ``message`` is about one that delivery_failed sent."""
        if self._quiet is None or message is None:
            return False
        path = urlsplit(message).path
        if path not in self._quiet:
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


def settle_sent(engine: Engine, result: Sent) -> None:
    """An outgoing request of ``engine`` is over (its journal, if any, told already): report
    a failure; a lost message runs ``delivery_failed`` (unless ``delivery_failed`` sent it)."""
    item, href = result.item, result.item.conversation
    if item.kind == "message" and engine.tracing:
        now = engine.clock.monotonic()
        engine.emit(t.MessageSent(at=now, conversation=href, ok=result.error is None))
    if result.error is None:
        if item.quiet and result.message is not None:
            instance = engine.instances.get(href)
            if instance is not None:
                instance.delivered_quietly(result.message)
        return
    exc = result.error
    if item.kind in ("stop", "leave"):
        message = f"stopping the conversation ({item.why}) failed: {exc}"
    else:
        message = str(exc) or type(exc).__name__
    log.warning("%s: %s", href, message)
    engine.emit(
        t.FlowError(
            at=engine.clock.monotonic(), conversation=href, message=message, location=item.location
        )
    )
    if item.kind == "message" and not item.quiet:
        instance = engine.instances.get(href)
        if instance is not None:
            engine.post(href, partial(instance.on_delivery_failed, from_error(exc)))
