"""How long one render of a flow's template may run, and the check that enforces it.

Message text is untrusted and flow authors write loops, so every render is bounded:
``with time_limit:`` around it sets the deadlines, and the sandbox calls
:func:`check_time` on every loop step, call, attribute read and operator. The bound is
on the thread's CPU time, so that a busy machine never fails a small template; the wall
clock (cheap to read, never behind CPU time) says when that is worth reading.

Reading a thread's CPU time is a system call, and a render is on the path of nearly
every step, so the CPU time a render starts from is read from the clock at most every
``_CPU_STALE`` seconds and estimated in between (see :func:`_cpu_time`).
"""

from __future__ import annotations

import math
import threading
import time

__all__ = ["RENDER_SECONDS", "check_time", "time_limit"]

#: how much CPU time one render may take: loops, calls and attribute reads check it
RENDER_SECONDS = 0.25

#: how old a reading of the thread's CPU time may be to start a render's bound from
_CPU_STALE = 0.01

# The deadlines of the render in progress (renders are synchronous: a nested one, such as
# ``settings.language`` rendered while a context is built, keeps the earlier deadline).
_deadline = math.inf
_cpu_deadline = math.inf
# the last reading of a thread's CPU time: the thread, the wall clock then, the reading
_seen_thread: int | None = None
_seen_wall = -math.inf
_seen_cpu = 0.0


def check_time() -> None:
    """Raise :class:`~jinja2.exceptions.SecurityError` once the render is past its bound."""
    if time.monotonic() > _deadline and time.thread_time() > _cpu_deadline:
        from jinja2.exceptions import SecurityError  # imported once a template is parsed

        raise SecurityError(f"a template may run at most {RENDER_SECONDS:g}s in flows")


class _TimeLimit:
    """``with time_limit:`` bounds the render inside (a class: cheaper than a generator
    context manager)."""

    __slots__ = ("_saved",)

    def __init__(self) -> None:
        self._saved: list[tuple[float, float]] = []

    def __enter__(self) -> None:
        global _deadline, _cpu_deadline
        self._saved.append((_deadline, _cpu_deadline))
        now = time.monotonic()
        _deadline = min(_deadline, now + RENDER_SECONDS)
        _cpu_deadline = min(_cpu_deadline, _cpu_time(now) + RENDER_SECONDS)

    def __exit__(self, *exc: object) -> None:
        global _deadline, _cpu_deadline
        _deadline, _cpu_deadline = self._saved.pop()


time_limit = _TimeLimit()


def _cpu_time(now: float) -> float:
    """The CPU time of this thread, or up to ``_CPU_STALE`` s more (``now`` is the wall
    clock). A reading less than ``_CPU_STALE`` s of wall time old, plus the wall time
    since, is never below the thread's CPU time now (it grows no faster than the wall
    clock): a render's CPU bound may start up to that much late, never early."""
    global _seen_thread, _seen_wall, _seen_cpu
    ident = threading.get_ident()
    since = now - _seen_wall
    if _seen_thread == ident and 0.0 <= since < _CPU_STALE:
        return _seen_cpu + since
    _seen_thread, _seen_wall, _seen_cpu = ident, now, time.thread_time()
    return _seen_cpu
