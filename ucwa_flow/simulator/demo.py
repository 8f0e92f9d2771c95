"""The outside world of a demo: a ticket service and agents who answer the bot.

``ucwa-flow run`` on the embedded simulator has no ticket system to call and no person to
hand a caller over to. This module plays both, so that every branch of a flow can be
tried from a terminal:

* :class:`TicketService` is a tiny JSON ticket system (an ASGI app, served in process on a
  free loopback port with :func:`~ucwa_flow.simulator.server.serve_app`). ``POST`` to any
  path opens a ticket and answers 201 with it: the posted fields plus ``id``
  (``INC0001001``, ``INC0001002`` ...), ``number`` (the same), ``status`` (``new``) and
  ``created``. ``GET`` on the path lists the tickets, ``GET`` on ``path/ID`` returns one.
* :class:`DemoAgent` plays a person the bot invites (a help desk's agents, say). It is a
  :class:`~ucwa_flow.simulator.control.VirtualUser` of the simulator that answers every
  invitation after ``delay`` seconds (accept, decline or, with ``"ignore"``, never) and,
  having accepted, says ``greeting``. Bridged by a handoff (``done``: its command), it
  answers the caller's first message with ``answer_text`` and then types ``done``, giving
  the caller back to the bot. It reports what it does as lines for a transcript.

Both use real time: they are for people, not for tests on a virtual clock (those script
webhooks and invitees in their test files instead).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from ucwa_flow import bounded_json
from ucwa_flow.clock import Clock, SystemClock
from ucwa_flow.simulator.control import VirtualUser

__all__ = ["Answer", "DemoAgent", "TicketService"]

Answer = Literal["accept", "decline", "ignore"]

_FIRST_TICKET = 1001


@dataclass
class TicketService:
    """A JSON ticket system in memory (see the module docstring); an ASGI application."""

    clock: Clock = field(default_factory=SystemClock)
    tickets: dict[str, dict[str, Any]] = field(default_factory=dict)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and the like: nothing to do
            return
        response = await self._answer(Request(scope, receive))
        await response(scope, receive, send)

    def open(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Open a ticket with ``fields``; returns it."""
        number = f"INC{_FIRST_TICKET + len(self.tickets):07d}"
        ticket = {
            **fields,
            "id": number,
            "number": number,
            "status": "new",
            "created": self.clock.now().isoformat(timespec="seconds"),
        }
        self.tickets[number] = ticket
        return ticket

    async def _answer(self, request: Request) -> Response:
        path = request.url.path.rstrip("/")
        if request.method == "POST":
            try:
                body = bounded_json.loads(await request.body() or b"{}")
            except ValueError:
                return _error(400, "the body is not JSON")
            fields = body if isinstance(body, dict) else {"data": body}
            ticket = self.open(fields)
            headers = {"Location": f"{path}/{ticket['id']}"}
            return JSONResponse(ticket, status_code=201, headers=headers)
        if request.method in ("GET", "HEAD"):
            last = path.rsplit("/", 1)[-1]
            if last in self.tickets:
                return JSONResponse(self.tickets[last])
            if last.upper().startswith("INC"):
                return _error(404, f"no ticket {last}")
            return JSONResponse({"tickets": list(self.tickets.values())})
        return _error(405, f"{request.method} is not supported; POST opens a ticket")


def _error(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status)


class DemoAgent:
    """A person the bot invites, played by the simulator (see the module docstring).

    ``report`` receives one line per thing the agent does (invited, accepted and what
    it read, what it says). :attr:`answering` is true from the moment an invitation
    rings until the agent has answered it, so a runner can wait for the answer.
    """

    def __init__(
        self,
        vu: VirtualUser,
        *,
        report: Callable[[str], None],
        delay: float = 2.0,
        answer: Answer = "accept",
        greeting: str = "Hi, I'm taking over from the bot. How can I help?",
        done: str | None = None,
        answer_text: str = "Thanks, I have noted that and will follow up by e-mail today.",
    ) -> None:
        self.vu = vu
        self.report = report
        self.delay = delay
        self.answer = answer
        self.greeting = greeting
        self.done = done
        self.answer_text = answer_text
        self.answering = False
        self._task: asyncio.Task[None] | None = None

    @property
    def uri(self) -> str:
        return self.vu.uri

    def start(self) -> None:
        """Answer invitations from now on (in a task of the running loop)."""
        self._task = asyncio.create_task(self._run())

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                conversation = await self.vu.wait_for_state("ringing", timeout=3600.0)
            except TimeoutError:
                continue
            if self.answer == "ignore":
                self.report(f"* {self.uri} (simulated agent) is invited and does not answer")
                await self._wait_until_answered(conversation)
                continue
            self.answering = True
            try:
                await asyncio.sleep(self.delay)
                accepted = self._answer(conversation)
            finally:
                self.answering = False
            if accepted and self.done is not None:
                await self._hand_back(conversation, self.done)

    def _answer(self, conversation: str) -> bool:
        """Answer the invitation to ``conversation``: ``True`` when it was accepted."""
        read = len(self.vu.received)
        try:
            if self.answer == "decline":
                self.vu.decline(conversation)
            else:
                self.vu.accept(conversation)
        except (LookupError, RuntimeError):  # withdrawn while the agent took its time
            self.report(f"* {self.uri} (simulated agent) was invited, but it was withdrawn")
            return False
        if self.answer == "decline":
            self.report(f"* {self.uri} (simulated agent) declined the bot's invitation")
            return False
        self.report(f"* {self.uri} (simulated agent) accepted the bot's invitation")
        for message in self.vu.received[read:]:  # the invitation's text comes with the accept
            self.report(f"* {self.uri} (simulated agent) read: {message.text.rstrip()}")
        with contextlib.suppress(LookupError, RuntimeError):  # the bot left already
            self.vu.send(self.greeting, conversation)
            self.report(f"agent: {self.greeting}")
            return True
        return False

    async def _hand_back(self, conversation: str, done: str) -> None:
        """Bridged by a handoff: answer the caller's first message, then type ``done``."""
        read = len(self.vu.received)

        def heard() -> bool:
            return any(m.conversation == conversation for m in self.vu.received[read:])

        with contextlib.suppress(TimeoutError, LookupError, RuntimeError):
            await self.vu.wait_until(heard, timeout=3600.0, what="the caller's message")
            self.answering = True  # a runner waits for the answer, as for an invitation's
            try:
                await asyncio.sleep(self.delay)
                for text in (self.answer_text, done):
                    self.vu.send(text, conversation)
                    self.report(f"agent: {text}")
            finally:
                self.answering = False

    async def _wait_until_answered(self, conversation: str) -> None:
        # an unanswered invitation fails: it times out, or the bot withdraws it
        with contextlib.suppress(TimeoutError):
            await self.vu.wait_for_state("failed", conversation, timeout=3600.0)
