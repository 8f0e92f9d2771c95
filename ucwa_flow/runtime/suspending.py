"""Starting the actions that suspend an action list: ``invite``, ``webhook``, ``handoff``.

Each is rendered in the running conversation's template context, traced (``ActionDone``),
and handed to the engine's services with the rest of the action lists (a
:class:`~ucwa_flow.runtime.services.Continuation`); the outcome comes back later as an
input of the conversation (``FlowInstance.on_outcome``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow import Handoff, Invite, Location, Webhook
from ucwa_flow.runtime.services import Continuation

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["begin"]

Done = Callable[[str, Location, str], None]


def begin(
    instance: FlowInstance,
    action: Invite | Webhook | Handoff,
    ctx: Mapping[str, Any],
    rest: Continuation,
    done: Done,
) -> None:
    """Start ``action`` for ``instance`` (``done`` traces it), its outcome to resume ``rest``."""
    services = instance.services
    if isinstance(action, Webhook):
        url = action.url.render(ctx)
        headers = {name: value.render(ctx) for name, value in action.headers}
        body = action.json.evaluate(ctx) if action.json is not None else None
        done("webhook", action.location, f"{action.method} {url}")
        services.begin_webhook(instance, action, url, headers, body, rest)
        return
    subject = action.subject.render(ctx) if action.subject else None
    message = action.message.render(ctx) if action.message else None
    if isinstance(action, Invite):
        to = action.to.render(ctx)
        done("invite", action.location, to)
        services.begin_invite(instance, action, to, subject, message, rest)
        return
    agents = tuple(dict.fromkeys(uri.render(ctx).strip() for uri in action.to))
    done("handoff", action.location, ", ".join(agents))
    services.begin_handoff(instance, action, agents, subject, message, rest)
