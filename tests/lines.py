"""A process's output read line by line on a thread, so that a test waits for a line
under :data:`~tests.guards.WAIT` instead of blocking on ``readline`` for ever."""

from __future__ import annotations

import queue
import threading

from tests.guards import WAIT

__all__ = ["Lines"]


class Lines:
    """The lines of a stream, read on a thread; :meth:`until` waits for one."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line)

    def until(self, text: str) -> str:
        """The next line holding ``text`` (those before it are in :attr:`seen` too)."""
        while True:
            line = self._queue.get(timeout=WAIT)
            self.seen.append(line)
            if text in line:
                return line
