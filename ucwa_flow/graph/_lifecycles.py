"""The graphs of the UCWA lifecycle machines: :func:`lifecycle_graph`.

The lifecycles that track every conversation (:mod:`ucwa_flow.lifecycle`) are drawn from
the very machines the runtime builds, so the picture cannot drift from what runs:

* ``conversation``: ``New``, ``Incoming`` ... ``Disconnected`` (the conversation resource);
* ``messaging``: ``Disconnected``, ``Connecting``, ``Connected``, ``Disconnecting`` (the
  messaging modality);
* ``invitation``: the messaging invitation, from ``New`` to ``Connected`` or ``Failed``.

Node names are the state names the runtime reports, which are also the keys of the live
board's lifecycle counts (:mod:`ucwa_flow.live`), so a page can put each count on its node.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ucwa_flow.graph._machine import extract_live_machine
from ucwa_flow.graph._model import Graph

__all__ = ["LIFECYCLES", "lifecycle_graph"]

#: the lifecycle machines that can be drawn, by name
LIFECYCLES = ("conversation", "invitation", "messaging")

#: name -> states drawn as final (an arrow to the end)
_FINAL: dict[str, tuple[str, ...]] = {
    "conversation": ("Disconnected",),
    "invitation": ("Connected", "Failed"),
    "messaging": (),
}


def lifecycle_graph(kind: str) -> Graph:
    """The graph of lifecycle ``kind`` (one of :data:`LIFECYCLES`; ``KeyError`` else),
    titled ``"<kind> lifecycle"``."""
    factory = _factory(kind)
    return extract_live_machine(factory(), f"{kind} lifecycle", final=_FINAL[kind])


def _factory(kind: str) -> Callable[[], Any]:
    # imported here: drawing a flow needs none of the lifecycle machinery
    if kind == "conversation":
        from ucwa_flow.lifecycle.conversation import conversation_machine

        return conversation_machine
    if kind == "messaging":
        from ucwa_flow.lifecycle.messaging import messaging_machine

        return messaging_machine
    if kind == "invitation":
        from ucwa_flow.lifecycle.invitation import invitation_machine

        return invitation_machine
    raise KeyError(f"no lifecycle {kind!r}: one of {', '.join(LIFECYCLES)}")
