"""Per-conversation mailboxes: each conversation's inputs run one at a time, in order.

:class:`Mailboxes` keeps a queue of jobs (the inputs of a conversation: a message, a timer,
an outcome) per conversation href. Jobs of one conversation run strictly one after another,
in the order they were posted; different conversations run concurrently. An idle
conversation keeps no mailbox. A job that raises is logged and the next one runs: a bug in
one conversation never stops the others. ``after(href)`` is called once each job is over
(a durable engine notes that the conversation may have changed).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable

from ucwa_flow import logcontext

__all__ = ["Job", "Mailboxes"]

log = logging.getLogger("ucwa_flow.runtime")

Job = Callable[[], Awaitable[None]]


class _Mailbox:
    __slots__ = ("jobs", "task")

    def __init__(self) -> None:
        self.jobs: deque[Job] = deque()
        self.task: asyncio.Task[None] | None = None


class Mailboxes:
    """The mailboxes of every conversation (see the module docstring)."""

    def __init__(self, after: Callable[[str], None]) -> None:
        self._after = after
        self._boxes: dict[str, _Mailbox] = {}

    def post(self, href: str, job: Job) -> None:
        """Queue ``job`` as the next input of conversation ``href``."""
        box = self._boxes.get(href)
        if box is None:
            box = self._boxes[href] = _Mailbox()
        box.jobs.append(job)
        if box.task is None:
            box.task = asyncio.get_running_loop().create_task(self._drain(href, box))

    def running(self) -> list[asyncio.Task[None]]:
        """The tasks of the conversations that have jobs to run."""
        return [box.task for box in self._boxes.values() if box.task is not None]

    @property
    def busy(self) -> bool:
        """Whether any conversation has jobs to run (cheaper than :meth:`running`)."""
        return any(box.task is not None for box in self._boxes.values())

    async def drained(self) -> None:
        """Wait until every job posted so far (and every job those post) has run."""
        while busy := self.running():
            await asyncio.wait(busy)

    async def _drain(self, href: str, box: _Mailbox) -> None:
        token = logcontext.bind_one("conversation", href)  # what a step logs names it
        try:
            while box.jobs:
                job = box.jobs.popleft()
                try:
                    await job()
                except Exception:  # a bug must not kill the other conversations
                    log.exception("%s: unexpected error in the flow runtime", href)
                self._after(href)
        finally:
            box.task = None
            if not box.jobs:  # an idle conversation keeps no mailbox
                self._boxes.pop(href, None)
            logcontext.unbind(token)
