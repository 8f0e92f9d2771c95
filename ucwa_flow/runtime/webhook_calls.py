"""The webhooks conversations wait on: started, answered, kept as data across a restart.

A ``webhook`` action suspends its action list; :class:`WebhookCalls` sends the request (a
:class:`~ucwa_flow.runtime.webhooks.WebhookCall`, plain data with its ``Idempotency-Key``)
and turns the answer into an input of the conversation that asked: the ``success`` or
``failure`` branch, then the rest of the suspended lists. With a journal (a durable bot)
the request goes out only once the step that decided it is committed; after a restart,
:meth:`WebhookCalls.resume` sends a stored call again, with the same key.

A campaign run's report (conversation ``campaign:<id>``, :data:`STABLE_KEYS`) is not stored
as a conversation: a restart runs it again when it was not answered. Its webhooks' keys are
derived from the run and the action's place, so the call made again carries the key the
first one did.

It sees the engine only through :class:`WebhookHost`.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any, Protocol

from ucwa_flow.flow import Webhook
from ucwa_flow.runtime.grouped import Grouped
from ucwa_flow.runtime.instance import FlowInstance
from ucwa_flow.runtime.journal import Journal
from ucwa_flow.runtime.records import secret_values
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.runtime.webhooks import WebhookCall, WebhookCaller, WebhookResult
from ucwa_flow.store import scrub

__all__ = ["STABLE_KEYS", "WebhookCalls", "WebhookHost"]

#: conversations whose webhooks' keys are derived from the href and the action's place
STABLE_KEYS = ("campaign:",)


class WebhookHost(Protocol):
    """What :class:`WebhookCalls` needs of the engine."""

    @property
    def journal(self) -> Journal | None: ...

    def post(self, href: str, job: Callable[[], Awaitable[None]]) -> None: ...

    def spawn(self, coro: Awaitable[None]) -> None: ...


class WebhookCalls:
    """The webhook calls under way, by ``Idempotency-Key``."""

    def __init__(self, host: WebhookHost, caller: WebhookCaller) -> None:
        self._host = host
        self._caller = caller
        #: by key, and by conversation (asked at every commit of a durable bot)
        self._calls: Grouped[str, tuple[WebhookCall, FlowInstance], str] = Grouped(_conversation)
        #: by key, the secret texts the conversation held when the call was made: its
        #: failure's line (logged, stored, shown) keeps them out even if they were cleared
        #: while it was under way
        self._secrets: dict[str, list[str]] = {}
        #: told of each conversation whose webhook's answer (and branch) was handled
        self.on_answered: Callable[[str], None] | None = None

    def begin(
        self,
        instance: FlowInstance,
        action: Webhook,
        url: str,
        headers: dict[str, str],
        body: Any,
        rest: Continuation,
    ) -> None:
        """A ``webhook`` action of ``instance``: call it, then resume with ``rest``."""
        href = instance.href
        call = WebhookCall(href, action.method, url, headers, body, action.timeout, rest)
        if href.startswith(STABLE_KEYS):  # the same call each time it is made: the same key
            assert rest.at is not None
            place = f"ucwa-flow:{href}:{rest.at.list_id}:{rest.at.position}"
            call = replace(call, key=uuid.uuid5(uuid.NAMESPACE_URL, place).hex, headers=headers)
        self._calls[call.key] = (call, instance)
        if texts := secret_values(instance):
            self._secrets[call.key] = texts
        journal = self._host.journal
        if journal is not None:
            journal.start(call)  # once the step that decided it is committed
        else:
            self.start(call)

    def pending(self, href: str) -> list[WebhookCall]:
        """The webhooks conversation ``href`` waits on."""
        group = self._calls.of(href)
        return [call for call, _ in group.values()] if group else []

    def resume(
        self, instance: FlowInstance, call: WebhookCall, secrets: list[str] | None = None
    ) -> None:
        """Wait on ``call`` again for ``instance`` (restored after a restart): it is sent
        again, with the same ``Idempotency-Key``. ``secrets``: texts kept out of its
        failure's line besides the instance's own (those of an ended record)."""
        self._calls[call.key] = (call, instance)
        if texts := [*(secrets or ()), *secret_values(instance)]:
            self._secrets[call.key] = texts
        self.start(call)

    def start(self, call: WebhookCall) -> None:
        """Send ``call``; its outcome becomes an input of its conversation."""

        async def run() -> None:
            result = await self._caller.call(
                call.method,
                call.url,
                headers=dict(call.headers),
                body=call.body,
                timeout=call.timeout,
            )
            self._host.post(call.conversation, partial(self._done, call.key, result))

        self._host.spawn(run())

    async def _done(self, key: str, result: WebhookResult) -> None:
        entry = self._calls.pop(key, None)
        secrets = self._secrets.pop(key, None)
        if entry is None:
            return
        call, instance = entry
        if secrets and result.error:
            result = replace(result, error=scrub(result.error, secrets))
        journal = self._host.journal
        if journal is not None:  # its lines keep its secrets out, ended or not
            journal.answered(instance)
        rest = call.rest
        assert rest.at is not None
        action = instance.flow.action_list(rest.at.list_id)[rest.at.position]
        assert isinstance(action, Webhook)
        if result.ok and action.result is not None:
            instance.set_variable(action.result, result.json)
        if not result.ok:
            instance.report_error(result.error or "webhook failed", action.location)
        branch = "success" if result.ok else "failure"
        await instance.on_outcome(
            rest,
            "webhook",
            branch,
            rest.branch(branch),
            {"webhook": result.as_context()},
            action.location,
        )
        if journal is not None:  # the branch may have waited: a commit in between
            journal.answered(instance)
        if self.on_answered is not None:
            self.on_answered(call.conversation)

    async def aclose(self) -> None:
        await self._caller.aclose()


def _conversation(entry: tuple[WebhookCall, FlowInstance]) -> str:
    return entry[0].conversation
