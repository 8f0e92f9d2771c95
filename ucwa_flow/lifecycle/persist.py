"""A tracked conversation as JSON data, and back, so that a restarted bot can go on with it.

:class:`~ucwa_flow.lifecycle.LifecycleTracker` starts tracking a conversation only from an
invitation or a live ``conversation`` record; news of one it never saw is ignored. A bot
that restarts in the middle of a chat would therefore go deaf to it: the messages that come
next (or the batch re-delivered after the restart) concern a conversation its new tracker
does not know. So, with every committed step, the runtime keeps what the tracker knows of
the conversation (:func:`dump_conversation`, plain JSON data, e.g. in the store record's
``extra``), and after the restart, once it got its application back
(``Application.reattached``), hands it to :meth:`LifecycleTracker.restore
<ucwa_flow.lifecycle.LifecycleTracker.restore>` (through :func:`load_conversation`)
before it reads the event channel again. When the application was new instead, the
server ended those conversations: restore nothing.

The data: the conversation and messaging states, the messaging links and negotiated
formats, every invitation's direction, state and outcome, the remote party, the subject, and
what the first-message de-duplication needs. ``"v"`` is the format version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ucwa_flow.lifecycle import conversation as conv_lc
from ucwa_flow.lifecycle import invitation as inv_lc
from ucwa_flow.lifecycle import messaging as msg_lc
from ucwa_flow.lifecycle.invitation import InvitationLifecycle, Outcome
from ucwa_flow.lifecycle.tracker import Conversation
from ucwa_flow.ucwa.events import Reason

__all__ = ["dump_conversation", "load_conversation"]

_VERSION = 1


def dump_conversation(conv: Conversation) -> dict[str, Any]:
    """What the tracker knows of ``conv``, as JSON data (see the module docstring)."""
    messaging = conv.messaging
    return {
        "v": _VERSION,
        "href": conv.href,
        "state": conv.lifecycle.state,
        "messaging": {
            "state": messaging.state,
            "formats": list(messaging.formats),
            "send_message_href": messaging.send_message_href,
            "stop_messaging_href": messaging.stop_messaging_href,
            "set_is_typing_href": messaging.set_is_typing_href,
        },
        "invitations": [
            {
                "href": inv.href,
                "direction": inv.direction,
                "state": inv.state,
                # ``_value_``: ``.value`` is a Python-level property, read once per
                # invitation in every durable commit of the conversation
                "outcome": inv.outcome._value_ if inv.outcome is not None else None,
                "reason": _reason_data(inv.reason),
            }
            for inv in conv.invitations.values()
        ],
        "remote_uri": conv.remote_uri,
        "remote_name": conv.remote_name,
        "first_text": conv.first_text,
        "subject": conv.subject,
        "last_incoming": conv.last_incoming,
        "ended": conv.ended,
    }


def load_conversation(data: Mapping[str, Any]) -> Conversation:
    """The :class:`Conversation` :func:`dump_conversation` described, not yet tracked.

    Raises ``ValueError`` (one line naming the field) for data this version cannot read.
    """
    if data.get("v") != _VERSION:
        raise ValueError(f"conversation data version {data.get('v')!r} is not {_VERSION}")
    conv = Conversation(_text(data, "href"))
    conv.lifecycle.state = _state(data, "state", conv_lc.STATES)
    messaging = _mapping(data, "messaging")
    model = conv.messaging
    model.state = _state(messaging, "state", msg_lc.STATES)
    model.formats = tuple(_text(f) for f in messaging.get("formats") or ())
    model.send_message_href = _optional(messaging, "send_message_href")
    model.stop_messaging_href = _optional(messaging, "stop_messaging_href")
    model.set_is_typing_href = _optional(messaging, "set_is_typing_href")
    for entry in data.get("invitations") or ():
        if not isinstance(entry, Mapping):
            raise ValueError("conversation data: an invitation is not an object")
        inv = InvitationLifecycle(_text(entry, "href"), _optional(entry, "direction"))
        inv.state = _state(entry, "state", inv_lc.STATES)
        outcome = entry.get("outcome")
        inv.outcome = Outcome(outcome) if outcome is not None else None
        inv.reason = _reason(entry.get("reason"))
        conv.invitations[inv.href] = inv
    conv.remote_uri = _optional(data, "remote_uri")
    conv.remote_name = _optional(data, "remote_name")
    conv.first_text = _optional(data, "first_text")
    conv.subject = _optional(data, "subject")
    conv.last_incoming = _optional(data, "last_incoming")
    conv.ended = bool(data.get("ended", False))
    return conv


def _reason_data(reason: Reason | None) -> dict[str, Any] | None:
    if reason is None:
        return None
    return {"code": reason.code, "subcode": reason.subcode, "message": reason.message}


def _reason(value: object) -> Reason | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ValueError("conversation data: an invitation reason is not an object")
    return Reason(_text(value, "code"), _optional(value, "subcode"), _optional(value, "message"))


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"conversation data: {key} is not an object")
    return value


def _text(data: Mapping[str, Any] | object, key: str | None = None) -> str:
    value = data.get(key) if key is not None and isinstance(data, Mapping) else data
    if not isinstance(value, str):
        raise ValueError(f"conversation data: {key or 'a format'} is not a string")
    return value


def _optional(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"conversation data: {key} is not a string")
    return value


def _state(data: Mapping[str, Any], key: str, states: list[str]) -> str:
    value = _text(data, key)
    if value not in states:
        raise ValueError(f"conversation data: {key} {value!r} is not one of {states}")
    return value
