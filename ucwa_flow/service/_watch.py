"""``serve --watch``: a reload when a flow file (or a file it includes or calls) or the
deployment file changes.

The folders of the watched files are watched (an editor often saves by writing a new
file and renaming it over the old one, which a watch on the file itself would lose) and
changes to other files in them are ignored (watchfiles logs each change it sees, of any
file, at info: :func:`~ucwa_flow.observe.logs.configure_logging`, which ``serve`` calls,
keeps those lines out; the watch itself changes no logger). watchfiles groups the changes of
``debounce`` milliseconds into one set, so saving several files at once is one reload.

The files follow the flows (:meth:`Watcher.follow`, after each reload): a file a flow
includes since the reload is watched from then on, one it no longer includes is not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path

__all__ = ["Watcher"]

log = logging.getLogger("ucwa_flow.service")


class Watcher:
    """Calls ``on_change`` with the paths changed, after each group of changes to
    ``files``, until :meth:`aclose`."""

    def __init__(
        self,
        files: Iterable[Path],
        on_change: Callable[[list[Path]], Awaitable[object]],
        *,
        debounce: int = 500,
    ) -> None:
        self.files = _resolved(files)
        self._on_change = on_change
        self._debounce = debounce
        self._stop = asyncio.Event()
        self._round = asyncio.Event()  # ends the watch of the current folders
        self._task: asyncio.Task[None] | None = None

    def follow(self, files: Iterable[Path]) -> None:
        """Watch ``files`` from now on (the folders too, when they are others)."""
        files = _resolved(files)
        moved = _folders(files) != _folders(self.files)
        self.files = files
        if moved:
            self._round.set()

    def start(self) -> None:
        # watchfiles' own "N changes detected" lines are quietened where ucwa-flow sets up
        # the process's logging (observe.logs.configure_logging), not here: a program that
        # embeds the watch keeps its logging as it set it
        self._task = asyncio.create_task(self._watch(), name="watch")

    async def _watch(self) -> None:
        while not self._stop.is_set():
            self._round = asyncio.Event()
            folders = _folders(self.files)
            try:
                await self._watch_round(folders)
            except OSError as exc:  # a folder gone since: watched again at the next follow
                log.warning("the watch of %s stopped: %s", ", ".join(folders), exc)
                await self._round.wait()

    async def _watch_round(self, folders: list[str]) -> None:
        from watchfiles import awatch

        async for changes in awatch(
            *folders, debounce=self._debounce, stop_event=self._round, recursive=False
        ):
            touched = sorted({Path(p) for _, p in changes if Path(p) in self.files})
            if touched:
                log.info("changed: %s; reloading", ", ".join(map(str, touched)))
                try:
                    await self._on_change(touched)
                except Exception:  # the watch goes on: the next change is reloaded too
                    log.exception("the reload after a change failed")

    async def aclose(self) -> None:
        """Stop watching (the watch thread notices within its step, 50 ms)."""
        self._stop.set()
        self._round.set()
        task, self._task = self._task, None
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


def _resolved(files: Iterable[Path]) -> frozenset[Path]:
    return frozenset(Path(f).resolve() for f in files)


def _folders(files: frozenset[Path]) -> list[str]:
    return sorted({str(f.parent) for f in files})
