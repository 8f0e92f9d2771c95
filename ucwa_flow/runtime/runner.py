"""One task runs the engine's short work in turns, instead of a task for each piece.

A conversation's step (:mod:`.mailboxes`) and a conversation's sends (:mod:`.outbox`) are
coroutines that almost always finish without waiting for anything: the flow matches,
renders, decides. A task each costs the event loop several rounds per message. The
:class:`Runner` keeps a queue of such coroutines and one task that runs them one after
another, each in the :mod:`contextvars` context of the moment it was started (as a task
would have copied it):

* :meth:`Runner.start` only queues: nothing runs before the caller's next ``await``, as
  with a new task (the channel may poll again before any step runs);
* the runner task takes turns with the rest of the event loop: at most :data:`ROUND`
  coroutines, then a loop round, so a long queue never starves I/O;
* once the queue is empty the runner task stays, waiting for the next :meth:`Runner.start`
  (a future it sets): waking a task costs the loop less than a new task per batch. A
  runner task waiting so is not among :attr:`Runner.tasks` (it has no work), and one
  dropped with its engine is not reported as "destroyed but pending";
* a coroutine that does wait (a webhook, a real HTTP request) keeps the task it started
  in, to its end: that task becomes its own task, as if it had been created for it
  (:func:`asyncio.current_task`, cancel scopes and timeouts see one task throughout), and
  a new runner task takes over the queue, so a slow step never holds up the others.

A coroutine that raises is logged (in its own context: what it bound names it), and the next
one runs; so is one that raises :class:`asyncio.CancelledError` of its own (it awaited a
cancelled future) while the runner task itself is not being cancelled. :meth:`Runner.cancel`
drops what is queued, and tells the owners of those coroutines (:meth:`Runner.on_cancel`) so
they forget them: a dropped coroutine never runs its ``finally``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import types
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

__all__ = ["ROUND", "Runner"]

log = logging.getLogger("ucwa_flow.runtime")

#: coroutines run per turn of the runner task before it lets the event loop go round
ROUND = 256

_Item = tuple[contextvars.Context, Coroutine[Any, Any, None]]
_DONE: Any = object()  # what a coroutine's first step gives when it ended in it


class Runner:
    """Runs coroutines in turns in one task (see the module docstring)."""

    __slots__ = ("_cleared", "_quiet", "_ready", "_serving", "_task", "_tasks", "_wake")

    def __init__(self) -> None:
        self._ready: deque[_Item] = deque()
        self._task: asyncio.Task[None] | None = None  # the one serving the queue, if any
        #: what the task serving the queue awaits while the queue is empty
        self._wake: asyncio.Future[None] | None = None
        #: every task of the runner not done yet: the one serving the queue, and those
        #: that each carry a coroutine that waited
        self._tasks: set[asyncio.Task[None]] = set()
        self._cleared: list[Callable[[], None]] = []
        #: the task serving the queue is running a coroutine now (this one is calling
        #: :meth:`start`): what is queued gets served before it waits
        self._serving = False
        #: the serving task is marked not to be reported as destroyed while pending
        self._quiet = False

    @property
    def tasks(self) -> set[asyncio.Task[None]]:
        """The runner's tasks with work not done yet: the one serving the queue, unless it
        waits for work, and those that each carry a coroutine that waited."""
        idle = self._task if self._wake is not None else None
        return {task for task in self._tasks if task is not idle}

    def on_cancel(self, clear: Callable[[], None]) -> None:
        """Have :meth:`cancel` call ``clear`` once it dropped what is queued: an owner of
        coroutines started here forgets them (their ``finally`` blocks will not run)."""
        self._cleared.append(clear)

    def start(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run ``coro`` after what is queued, in a copy of the current context."""
        self._ready.append((contextvars.copy_context(), coro))
        if self._serving:  # (no method call on a task or future: they are slow to look up)
            return
        wake = self._wake
        if wake is not None:  # the runner task waits for work: wake it
            self._wake = None
            try:
                wake.set_result(None)
                return
            except asyncio.InvalidStateError:  # cancelled with its task: a new one serves
                pass
        if self._task is None or self._task.done():  # done: cancelled before its first step
            self._task = self._new_task()

    def cancel(self) -> None:
        """Cancel every task of the runner and drop what is queued (the engine closes); the
        owners forget what was dropped (:meth:`on_cancel`). A later :meth:`start` gets a new
        task, even when called from a coroutine the runner runs: the serving task stops
        serving once that coroutine's step is done."""
        self._task = self._wake = None
        self._serving = False
        while self._ready:
            self._ready.popleft()[1].close()
        for task in self._tasks:
            task.cancel()
        for clear in self._cleared:
            clear()

    def _new_task(self) -> asyncio.Task[None]:
        # a context of its own: it outlives the job that started it (each job runs in its own)
        task = asyncio.get_running_loop().create_task(self._serve(), context=contextvars.Context())
        self._quiet = False  # (a new task is reported if dropped while pending)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)  # even if cancelled before its first step
        return task

    async def _serve(self) -> None:
        ready = self._ready
        me = asyncio.current_task()
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._serving = True
                for _ in range(ROUND):
                    if not ready:
                        break
                    ctx, coro = ready.popleft()
                    try:  # next(), not send(): an end raises no StopIteration
                        waited = ctx.run(next, coro.__await__(), _DONE)
                    except BaseException as exc:
                        _failed(ctx, exc)
                        if self._task is not me:
                            return
                        continue
                    if waited is _DONE:
                        if self._task is not me:  # cancelled by this coroutine: stop
                            return
                        continue
                    # ``coro`` waits: this task is its own from now on; another serves
                    self._serving = False
                    self._loud(me)
                    if self._task is me:  # (not cancelled by this coroutine's step)
                        self._task = self._new_task() if ready else None
                    try:
                        await _carry(ctx, coro, waited)
                    except BaseException as exc:
                        _failed(ctx, exc)
                    return
                self._serving = False
                if ready:
                    self._loud(me)
                    await asyncio.sleep(0)
                else:  # wait for work (:meth:`start` wakes this task)
                    wake = self._wake = loop.create_future()
                    if not self._quiet:  # (a task's attribute is slow to set: when it changes)
                        # dropped with its engine while idle, it has lost nothing: no warning
                        me._log_destroy_pending = False  # type: ignore[union-attr]
                        self._quiet = True
                    await wake
        finally:
            self._serving = False
            if self._task is me:  # cancelled: what is still queued gets a task
                self._wake = None
                self._task = self._new_task() if ready else None

    def _loud(self, me: Any) -> None:
        """The serving task ``me`` is about to wait for something else than work: dropped
        then, asyncio reports it ("destroyed but pending") as any task."""
        if self._quiet:
            me._log_destroy_pending = True
            self._quiet = False


def _failed(ctx: contextvars.Context, exc: BaseException) -> None:
    """A coroutine raised ``exc``: log it in the coroutine's context, unless it is the
    task's own cancellation (or ``KeyboardInterrupt``, ``SystemExit``), raised again."""
    if not isinstance(exc, Exception):
        task = asyncio.current_task()
        if not isinstance(exc, asyncio.CancelledError) or task is None or task.cancelling():
            raise exc
    ctx.run(log.exception, "unexpected error in the flow runtime", exc_info=exc)


@types.coroutine
def _carry(
    ctx: contextvars.Context, coro: Coroutine[Any, Any, None], waited: Any
) -> Generator[Any, Any, None]:
    """Go on with ``coro``, which is waiting for ``waited``, in the task that awaits this
    (as ``await coro`` would, had it not started already), each step in ``ctx``."""
    while True:
        try:
            sent = yield waited
        except BaseException as exc:  # a cancellation (or a throw) goes to the coroutine
            try:
                waited = ctx.run(coro.throw, exc)
            except StopIteration:
                return
            continue
        try:
            waited = ctx.run(coro.send, sent)
        except StopIteration:
            return
