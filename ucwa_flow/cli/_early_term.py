"""A SIGTERM during the start of ``run`` and ``serve``: a clean stop, as later.

The clean stop is the event loop's SIGTERM handler, and the loop runs only after the
imports, the loading of the flows and the checks (up to a second or so): a SIGTERM before
it (``systemctl stop`` just after a start) met SIGTERM's default action and the process
died of it (status 143). :func:`hold`, from the command's start, notes such a SIGTERM
instead of dying of it; where the loop's handler is installed, :func:`asked` says whether
one came before, and the command then stops before starting anything (what it did so far
only read files). Once the loop's handler is removed (asyncio puts the default action
back), :func:`hold` again keeps a late SIGTERM from cutting the last clean-up short.

What comes before :func:`hold`, the interpreter's own start and the import of
:mod:`ucwa_flow.cli`, still has the default action.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["asked", "hold", "release"]

_noted: list[int] = []
#: what :func:`hold` found first: the handler :func:`release` puts back
_Handler = Callable[[int, FrameType | None], Any] | int | None


def hold() -> _Handler:
    """From now until the loop's handler: a SIGTERM is noted, not fatal (no-op where
    there are no signals, or off the main thread). The handler it replaced."""
    with contextlib.suppress(ValueError, OSError):  # not the main thread
        return signal.signal(signal.SIGTERM, _note)
    return None


def release(previous: _Handler) -> None:
    """The command is over: SIGTERM's handler back to ``previous`` (what the first
    :func:`hold` replaced) and nothing noted, for a caller of ``main`` from Python that
    goes on (a handler left on would swallow its SIGTERMs)."""
    _noted.clear()
    with contextlib.suppress(ValueError, OSError, TypeError):
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def asked() -> bool:
    """A SIGTERM came while :func:`hold`'s handler was on."""
    return bool(_noted)


def _note(number: int, frame: FrameType | None) -> None:
    _noted.append(number)
