"""Virtual users: people the simulator plays itself, driven from Python or over HTTP.

A virtual user has no UCWA application; the simulator acts for it directly, and the
signed-in UCWA user on the other end sees exactly the events a real client would cause.

Python::

    vu = sim.virtual_user("sip:adrianag@contoso.com", auto_accept=True)
    conv = await vu.start_conversation("sip:toshm@contoso.com", message="Hi")
    await vu.wait_for_state("connected")
    vu.send("How are you?")
    reply = await vu.wait_for_message(timeout=5)

Over HTTP (JSON, no authentication) under ``/_sim/``; see ``docs/simulator.md``.
Waiting uses real time (``timeout`` bounds how long a test waits, not protocol time).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import Response

from ucwa_flow.simulator.config import SimulatorUser
from ucwa_flow.simulator.errors import UcwaErrorResponse, bad_request, not_found
from ucwa_flow.simulator.http import Ctx, empty, json_response, read_json
from ucwa_flow.simulator.state import Conversation, Message, Reason

if TYPE_CHECKING:
    from ucwa_flow.simulator.core import Simulator

__all__ = ["ROUTES", "ReceivedMessage", "VirtualUser"]


@dataclass(frozen=True)
class ReceivedMessage:
    """A message a virtual user received: plain text, HTML if any, sender, conversation."""

    text: str
    html: str | None
    sender: str
    conversation: str


class VirtualUser:
    """A user played by the simulator (see the module docstring).

    States of its conversations: ``ringing`` (incoming, not answered), ``connecting``
    (outgoing, not answered), ``connected``, ``failed`` (with a reason), ``ended``.
    ``line_ending`` is appended to every message it sends, as Lync clients do.
    """

    def __init__(self, sim: Simulator, user: SimulatorUser, *, auto_accept: bool = False) -> None:
        self.sim = sim
        self.user = user
        self.auto_accept = auto_accept
        self.line_ending = "\r\n"
        self.received: list[ReceivedMessage] = []
        self.states: dict[str, str] = {}
        self.reasons: dict[str, Reason] = {}
        self.remote_typing: dict[str, bool] = {}
        self._convs: dict[str, Conversation] = {}
        self._current: Conversation | None = None
        self._read = 0
        self._changed = asyncio.Event()

    @property
    def uri(self) -> str:
        return self.user.uri

    # -- acting -----------------------------------------------------------------------

    async def start_conversation(
        self,
        to: str,
        message: str | None = None,
        *,
        subject: str = "",
        importance: str = "Normal",
        html: bool = False,
    ) -> str:
        """Invite ``to``; returns the conversation id (state ``connecting``)."""
        conv = self.sim.router.start(
            self.user,
            to,
            observer=self,
            subject=subject,
            importance=importance,
            first_text=None if html or message is None else message + self.line_ending,
            first_html=message if html else None,
        )
        self._track(conv, "connecting" if conv.chat.state == "ringing" else self._final(conv))
        return conv.id

    def send(self, text: str, conversation: str | None = None, *, html: bool = False) -> None:
        """Send a message in a connected conversation (the current one by default)."""
        conv = self._conv(conversation, "connected")
        if html:
            self.sim.router.send(conv, text, text)
        else:
            self.sim.router.send(conv, text + self.line_ending)

    def accept(self, conversation: str | None = None) -> None:
        self.sim.router.accept(self._conv(conversation, "ringing"))

    def decline(self, conversation: str | None = None) -> None:
        self.sim.router.decline(self._conv(conversation, "ringing"))

    def typing(self, conversation: str | None = None) -> None:
        self.sim.router.typing(self._conv(conversation, "connected"))

    def hang_up(self, conversation: str | None = None) -> None:
        conv = self._conv(conversation, None)
        self.sim.router.stop(conv)

    # -- observing --------------------------------------------------------------------

    async def wait_for_message(self, timeout: float = 5.0) -> ReceivedMessage:  # noqa: ASYNC109
        """The next message not yet returned by this method (waits up to ``timeout``)."""
        await self._wait(lambda: self._read < len(self.received), timeout, "a message")
        self._read += 1
        return self.received[self._read - 1]

    async def wait_for_state(
        self,
        state: str,
        conversation: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> str:
        """Wait until a conversation (the current one by default) is in ``state``."""

        def ready() -> bool:
            conv_id = conversation or (self._current.id if self._current else None)
            return conv_id is not None and self.states.get(conv_id) == state

        await self._wait(ready, timeout, f"state {state!r}")
        return conversation or (self._current.id if self._current else "")

    async def wait_until(
        self,
        ready: Callable[[], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
        what: str = "the condition",
    ) -> None:
        """Wait until ``ready()`` holds, looking again at each change of this user (a
        message, typing, a conversation's state); ``TimeoutError`` naming ``what`` after
        ``timeout`` seconds."""
        await self._wait(ready, timeout, what)

    def state(self, conversation: str | None = None) -> str | None:
        conv_id = conversation or (self._current.id if self._current else None)
        return self.states.get(conv_id) if conv_id else None

    async def _wait(self, ready: Any, timeout: float, what: str) -> None:  # noqa: ASYNC109
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not ready():
            left = deadline - loop.time()
            if left <= 0:
                raise TimeoutError(f"{self.user.uri} did not get {what} within {timeout} s")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                continue

    # -- Observer hooks (called by the router) -----------------------------------------

    def on_invited(self, conv: Conversation) -> None:
        self._track(conv, "ringing")
        if self.auto_accept:
            self.sim.router.accept(conv)

    def on_connected(self, conv: Conversation) -> None:
        self._track(conv, "connected")

    def on_failed(self, conv: Conversation, reason: Reason) -> None:
        self.reasons[conv.id] = reason
        self._track(conv, "failed")

    def on_message(self, conv: Conversation, message: Message) -> None:
        self.received.append(ReceivedMessage(message.text, message.html, conv.remote.uri, conv.id))
        self._notify()

    def on_typing(self, conv: Conversation, typing: bool) -> None:
        self.remote_typing[conv.id] = typing
        self._notify()

    def on_ended(self, conv: Conversation) -> None:
        self._track(conv, "ended")

    # -- internals --------------------------------------------------------------------

    def _final(self, conv: Conversation) -> str:
        return "failed" if conv.id in self.reasons else self.states.get(conv.id, "ended")

    def _track(self, conv: Conversation, state: str) -> None:
        self._convs[conv.id] = conv
        if conv.id not in self.states or state != "connecting":
            self.states[conv.id] = state
        self._current = conv
        self._notify()

    def _notify(self) -> None:
        self._changed.set()

    def _conv(self, conv_id: str | None, needed: str | None) -> Conversation:
        conv = self._convs.get(conv_id) if conv_id else self._current
        if conv is None:
            raise LookupError(f"{self.user.uri} has no conversation {conv_id or ''}".strip())
        state = self.states.get(conv.id)
        if needed is not None and state != needed:
            raise RuntimeError(f"conversation {conv.id} is {state}, not {needed}")
        return conv

    def describe(self) -> list[dict[str, Any]]:
        out = []
        for conv_id, conv in self._convs.items():
            entry: dict[str, Any] = {
                "id": conv_id,
                "with": conv.remote.uri,
                "direction": conv.direction,
                "state": self.states.get(conv_id),
                "remoteTyping": self.remote_typing.get(conv_id, False),
            }
            if conv_id in self.reasons:
                entry["reason"] = self.reasons[conv_id].as_json()
            out.append(entry)
        return out


# -- control HTTP API ---------------------------------------------------------------------


def _vu(ctx: Ctx) -> VirtualUser:
    user = ctx.sim.find_user(ctx.params["user"])
    if user is None:
        raise not_found(f"No user {ctx.params['user']} on this simulator.")
    return ctx.sim.virtual_user(user.uri)


def _guard(action: Any) -> None:
    try:
        action()
    except LookupError as exc:
        raise not_found(str(exc)) from None
    except RuntimeError as exc:
        raise UcwaErrorResponse(409, "Conflict", None, str(exc)) from None


async def list_users(ctx: Ctx) -> Response:
    virtual = {vu.user.uri for vu in ctx.sim.virtual_users}
    apps: dict[str, int] = {}
    for app in ctx.sim.applications:
        apps[app.user.uri] = apps.get(app.user.uri, 0) + 1
    users = [
        {
            "uri": u.uri,
            "name": u.name,
            "password": u.password,
            "virtual": u.uri in virtual,
            "applications": apps.get(u.uri, 0),
        }
        for u in ctx.sim.users
    ]
    return json_response({"users": users})


async def make_virtual(ctx: Ctx) -> Response:
    body = await read_json(ctx.request)
    vu = _vu(ctx)
    if "auto_accept" in body:
        vu.auto_accept = bool(body["auto_accept"])
    return json_response({"uri": vu.uri, "auto_accept": vu.auto_accept})


async def conversations(ctx: Ctx) -> Response:
    vu = _vu(ctx)
    if ctx.request.method == "GET":
        return json_response({"conversations": vu.describe()})
    body = await read_json(ctx.request)
    to = body.get("to")
    message = body.get("message")
    if not isinstance(to, str) or not to:
        raise bad_request(["to"])
    if message is not None and not isinstance(message, str):
        raise bad_request(["message"])
    conv_id = await vu.start_conversation(
        to, message, subject=str(body.get("subject") or ""), html=bool(body.get("html"))
    )
    return json_response({"id": conv_id, "state": vu.state(conv_id)}, status=201)


async def conversation_action(ctx: Ctx) -> Response:
    vu = _vu(ctx)
    conv_id, action = ctx.params["conv"], ctx.params["action"].lower()
    if action == "messages":
        body = await read_json(ctx.request)
        text = body.get("text")
        if not isinstance(text, str) or not text:
            raise bad_request(["text"])
        _guard(lambda: vu.send(text, conv_id, html=bool(body.get("html"))))
    else:
        act = {
            "accept": vu.accept,
            "decline": vu.decline,
            "typing": vu.typing,
            "hangup": vu.hang_up,
        }[action]
        _guard(lambda: act(conv_id))
    return empty()


async def messages(ctx: Ctx) -> Response:
    vu = _vu(ctx)
    try:
        after = int(ctx.request.query_params.get("after", "0"))
    except ValueError:
        raise bad_request(["after"]) from None
    items = [
        {
            "index": i,
            "text": m.text,
            "html": m.html,
            "from": m.sender,
            "conversation": m.conversation,
        }
        for i, m in enumerate(vu.received)
        if i >= after
    ]
    return json_response({"messages": items})


async def faults(ctx: Ctx) -> Response:
    """What the random fault plan injected so far (``{"plan": null}`` without one)."""
    plan = ctx.sim.faults.plan
    return json_response({"plan": plan.report() if plan is not None else None})


_U = r"/_sim/users/(?P<user>[^/]+)"

ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    (r"/_sim/users", "public", {"GET": list_users}),
    (r"/_sim/faults", "public", {"GET": faults}),
    (_U + r"/virtual", "public", {"POST": make_virtual}),
    (_U + r"/conversations", "public", {"GET": conversations, "POST": conversations}),
    (
        _U + r"/conversations/(?P<conv>[^/]+)/(?P<action>messages|accept|decline|typing|hangup)",
        "public",
        {"POST": conversation_action},
    ),
    (_U + r"/messages", "public", {"GET": messages}),
]
