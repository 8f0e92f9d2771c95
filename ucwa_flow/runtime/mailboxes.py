"""Per-conversation mailboxes: each conversation's inputs run one at a time, in order.

:class:`Mailboxes` keeps a queue of jobs (the inputs of a conversation: a message, a timer,
an outcome) per conversation href. Jobs of one conversation run strictly one after another,
in the order they were posted; different conversations run concurrently. An idle
conversation keeps no mailbox. A job that raises is logged and the next one runs: a bug in
one conversation never stops the others. ``after(href)`` is called once each job is over
(a durable engine notes that the conversation may have changed).

A mailbox with jobs is one coroutine in a :class:`~ucwa_flow.runtime.runner.Runner`, not a
task: most steps never wait, and one task runs them in turns; a step that waits keeps a
task of its own until its mailbox is empty (:mod:`.runner`). When the runner is cancelled
(the engine closes), the mailboxes forget their jobs: nothing is left to wait for.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from functools import partial
from typing import Any

from ucwa_flow import logcontext
from ucwa_flow.runtime.runner import Runner

__all__ = ["NOTHING", "Job", "Mailboxes"]

log = logging.getLogger("ucwa_flow.runtime")

Job = Callable[[], Awaitable[None]]

#: jobs waiting in a conversation's mailbox past which it becomes a :class:`_Flood`
_LONG = 32


class _Flood(deque[Job]):
    """A flooded conversation's mailbox: ``pop(0)`` takes the next job in O(1), where a
        list's moves every job behind it (O(n²) for n jobs). ``append``, ``clear``, ``len`` and
    truth are a list's; ``pop`` gives the first or the last job only."""

    __slots__ = ()

    def pop(self, index: int = -1) -> Job:
        if index == 0:
            return self.popleft()
        if index == -1:
            return super().pop()
        raise IndexError("a flooded mailbox gives its first or last job only")


_Box = list[Job] | _Flood


class _Nothing:
    """An awaitable already done: what a job with nothing to do may return."""

    __slots__ = ()

    def __await__(self) -> Generator[Any, None, None]:
        yield from ()


#: a job returns it when it finds nothing to do (a job need not be a coroutine of its own)
NOTHING: Awaitable[None] = _Nothing()


class Mailboxes:
    """The mailboxes of every conversation (see the module docstring); ``runner`` runs
    their jobs (:mod:`.runner`: one task in turns, not a task per step)."""

    def __init__(self, after: Callable[[str], None], runner: Runner | None = None) -> None:
        self._after = after
        self._runner = runner or Runner()
        # a conversation's jobs: a list, not a deque (a new deque costs a block of 64, a
        # malloc, and one is made per message to an idle conversation), until it is long
        self._boxes: dict[str, _Box] = {}
        #: conversations whose jobs wait with no drain under way (it was cancelled)
        self._stalled: set[str] = set()
        self._active = 0  # mailboxes running
        self._drained: asyncio.Future[None] | None = None
        self._runner.on_cancel(self._clear)

    def post(self, href: str, job: Job) -> None:
        """Queue ``job`` as the next input of conversation ``href``."""
        box = self._boxes.get(href)
        if box is not None:
            box.append(job)
            if href not in self._stalled:  # its drain is queued or running: it takes the job
                return
            self._stalled.discard(href)
        else:
            box = self._boxes[href] = [job]
        self._active += 1
        self._runner.start(self._drain(href, box))

    def running(self) -> list[asyncio.Future[None]]:
        """What to wait for until every job posted so far has run (empty when none is
        queued). A conversation whose drain was cancelled (stalled) counts only once a
        post starts it again."""
        if not self._active:
            return []
        if self._drained is None:
            self._drained = asyncio.get_running_loop().create_future()
        return [self._drained]

    @property
    def busy(self) -> bool:
        """Whether any conversation has a drain under way (see :meth:`running`)."""
        return self._active > 0

    async def drained(self) -> None:
        """Wait until every job posted so far (and every job those post) has run.

        Each call waits on a future of its own that the shared one (:meth:`running`'s)
        resolves: cancelling one waiter cancels nothing another waits on."""
        while self._active:
            loop = asyncio.get_running_loop()
            shared = self._drained
            if shared is None:
                shared = self._drained = loop.create_future()
            waiter = loop.create_future()
            wake = partial(_wake, waiter)
            shared.add_done_callback(wake)
            try:
                await waiter
            except asyncio.CancelledError:
                shared.remove_done_callback(wake)
                raise

    def _clear(self) -> None:
        """The runner dropped what was queued (:meth:`Runner.cancel`): forget every job."""
        for box in self._boxes.values():
            box.clear()
        self._boxes.clear()  # a cancelled drain's ``finally`` then leaves the counts alone
        self._stalled.clear()
        self._active = 0
        self._done()

    def _done(self) -> None:
        if not self._active and self._drained is not None:
            if not self._drained.done():
                self._drained.set_result(None)
            self._drained = None

    def _flooded(self, href: str, box: list[Job]) -> _Box:
        """``href``'s mailbox as a :class:`_Flood` (unless :meth:`_clear` forgot it)."""
        if self._boxes.get(href) is not box:
            return box
        flood = self._boxes[href] = _Flood(box)
        return flood

    async def _drain(self, href: str, box: _Box) -> None:
        # runs in its own copy of the context (the runner's): the binding goes with it
        logcontext.bind_one("conversation", href)  # what a step logs names it
        after = self._after  # (an attribute holding a function: slow to call as a method)
        try:
            while box:
                job = box.pop(0)
                try:
                    step = job()
                    if step is not NOTHING:  # (awaiting it makes a generator)
                        await step
                except Exception:  # a bug must not kill the other conversations
                    log.exception("%s: unexpected error in the flow runtime", href)
                except asyncio.CancelledError:  # its own (a cancelled future), not the task's
                    if _cancelling():
                        raise
                    log.exception("%s: unexpected error in the flow runtime", href)
                try:
                    after(href)
                except Exception:
                    log.exception("%s: unexpected error in the flow runtime", href)
                if box and len(box) > _LONG and type(box) is list:  # (box: nearly always empty)
                    box = self._flooded(href, box)
        finally:
            if self._boxes.get(href) is box:  # not forgotten by :meth:`_clear` meanwhile
                if box:  # cancelled: the next post starts a drain for the jobs left
                    self._stalled.add(href)
                else:  # an idle conversation keeps no mailbox
                    del self._boxes[href]
                self._active -= 1
                if self._drained is not None:  # someone waits (a call less when nobody does)
                    self._done()


def _wake(waiter: asyncio.Future[None], shared: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def _cancelling() -> bool:
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0
