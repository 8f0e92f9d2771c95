"""A :class:`~ucwa_flow.store.Store` that times every operation of the store it wraps.

Every public operation of a store runs one program in one transaction through
``Store._run``; :class:`TimedStore` is a store whose ``_run`` hands the program to the
wrapped store's and observes how long it took, labelled with the operation's name (the
program's: ``commit``, ``load``, ``transcript``...). A failed operation is counted by
error class and re-raised unchanged. The runtime sees a plain ``Store``.
"""

from __future__ import annotations

import time
from typing import TypeVar

from ucwa_flow.observe._families import Families
from ucwa_flow.store import Changes, CommitResult, Store
from ucwa_flow.store._sql import Program

__all__ = ["TimedStore"]

T = TypeVar("T")


class TimedStore(Store):
    """``inner`` with each operation timed into ``families`` (see the module docstring)."""

    def __init__(self, inner: Store, families: Families) -> None:
        super().__init__(inner.target)
        self.backend = inner.backend
        self.inner = inner
        self._f = families

    def commit_now(self, account: str, changes: Changes) -> CommitResult | None:
        """The wrapped store's commit on the caller's thread (SQLite's small commits),
        timed as a ``commit`` when it was made."""
        began = time.perf_counter()
        try:
            result = self.inner.commit_now(account, changes)
        except Exception as exc:
            self._f.store_errors.labels("commit", type(exc).__name__).inc()
            raise
        if result is not None:
            self._f.store_latency.labels("commit").observe(time.perf_counter() - began)
        return result

    async def _run(self, program: Program[T], *, write: bool, rows: int | None = None) -> T:
        operation = getattr(program, "__name__", "other")
        began = time.perf_counter()
        try:
            result = await self.inner._run(program, write=write, rows=rows)
        except BaseException as exc:
            if isinstance(exc, Exception):
                self._f.store_errors.labels(operation, type(exc).__name__).inc()
            raise
        finally:
            self._f.store_latency.labels(operation).observe(time.perf_counter() - began)
        return result

    async def aclose(self) -> None:
        await self.inner.aclose()
