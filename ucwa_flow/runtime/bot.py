"""A bot: one signed-in UCWA identity running one flow for every conversation.

:class:`Bot` wires the layers together: a :class:`~ucwa_flow.ucwa.UcwaClient` signs in and
makes itself available, its :class:`~ucwa_flow.ucwa.EventChannel` feeds the
:class:`~ucwa_flow.runtime.engine.Engine`, and a keep-alive reports activity so that the
server keeps the application. :meth:`Bot.aclose` ends cleanly: open conversations are
stopped from the bot's side, the event channel is closed, the application deleted.

Use it as an async context manager::

    async with Bot(flow, client, clock=SystemClock(), sink=print) as bot:
        await bot.run()          # until cancelled (Ctrl-C)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from types import TracebackType

import httpx

from ucwa_flow.clock import Clock
from ucwa_flow.errors import UcwaFlowError
from ucwa_flow.flow import Flow
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.engine import Engine
from ucwa_flow.runtime.port import UcwaPort
from ucwa_flow.ucwa import EventChannel, UcwaClient
from ucwa_flow.ucwa.errors import MalformedEventBody

__all__ = ["Bot"]

log = logging.getLogger("ucwa_flow.runtime")


class Bot:
    """Runs ``flow`` as ``client``'s identity (see the module docstring).

    ``hold`` is the event channel's long-poll time; ``keep_alive`` the reportMyActivity
    interval in seconds (the server wants one at least every 4 minutes).
    """

    def __init__(
        self,
        flow: Flow,
        client: UcwaClient,
        *,
        clock: Clock,
        sink: t.TraceSink | None = None,
        http: httpx.AsyncClient | None = None,
        hold: float = 180.0,
        keep_alive: float = 120.0,
    ) -> None:
        self.flow = flow
        self.client = client
        self.clock = clock
        self.engine = Engine(flow, UcwaPort(client), clock, sink, http=http)
        self._hold = hold
        self._keep_alive_interval = keep_alive
        self._channel: EventChannel | None = None
        self._keep_alive: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Bot:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Sign in, make the bot available for IM, and open the event channel."""
        await self.client.sign_in()
        await self.client.make_me_available()
        self._keep_alive = self.client.start_keep_alive(self._keep_alive_interval)
        self._channel = EventChannel(self.client, hold=self._hold, clock=self.clock)
        self.engine.invitations.start_outbound()

    async def run(self) -> None:
        """Serve conversations until cancelled; channel errors other than a bad body end it."""
        if self._channel is None:
            await self.start()
        assert self._channel is not None
        while True:
            try:
                async for item in self._channel:
                    self.engine.handle(item)
                return
            except MalformedEventBody as exc:
                # the channel asked for it again first, and carries on after it; say what
                # was lost
                log.error("refused an event-channel body (its events are lost): %s", exc)

    async def aclose(self) -> None:
        """Stop open conversations, close the channel, delete the application."""
        try:
            await self.engine.aclose()
        finally:
            if self._keep_alive is not None:
                self._keep_alive.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._keep_alive
            if self._channel is not None:
                await self._channel.aclose()
            with contextlib.suppress(UcwaFlowError, httpx.HTTPError):
                await self.client.delete_application()
