"""A store whose account writes all carry one fencing token: :class:`FencedStore`."""

from __future__ import annotations

from typing import Any, TypeVar

from ucwa_flow.store._changes import Changes, CommitResult
from ucwa_flow.store._errors import StoreFenced
from ucwa_flow.store._sql import Program
from ucwa_flow.store._store import Store

__all__ = ["FencedStore"]

T = TypeVar("T")


class FencedStore(Store):
    """``inner`` with ``fence`` (a lease token) on every :meth:`commit` and
    :meth:`forget_application`: what a worker hands the bot of an account it holds the
    lease of, so the runtime writes fenced without knowing about leases. Reads and
    :meth:`aclose` go to ``inner`` (closing is the owner's business: this one does not)."""

    def __init__(self, inner: Store, fence: int) -> None:
        super().__init__(inner.target)
        self.backend = inner.backend
        self.inner = inner
        self.fence = fence
        self.revoked: str | None = None

    def revoke(self, why: str) -> None:
        """Refuse every write from now on without asking the database (the worker can no
        longer prove it holds the lease): :class:`StoreFenced` with ``why``."""
        self.revoked = why

    async def _write(
        self, account: str, program: Program[T], fence: int | None, rows: int | None = None
    ) -> T:
        # every account write (commit, forget_application) comes through here
        if self.revoked is not None:
            program.close()
            raise StoreFenced(f"a write of {account} was refused: {self.revoked}")
        return await super()._write(account, program, self.fence if fence is None else fence, rows)

    def commit_now(self, account: str, changes: Changes) -> CommitResult | None:
        """Never inline: a fenced write always goes through the checking transaction of
        :meth:`commit` (``None`` tells the caller to use it)."""
        return None

    async def _run(self, program: Program[T], *, write: bool, **options: Any) -> T:
        # options: whatever else the backends take (passed through unchanged)
        return await self.inner._run(program, write=write, **options)

    async def aclose(self) -> None:
        """The inner store stays open (it is shared with the next owner of the token)."""
