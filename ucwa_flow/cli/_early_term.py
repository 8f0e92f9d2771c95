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
from types import FrameType

__all__ = ["asked", "hold"]

_noted: list[int] = []


def hold() -> None:
    """From now until the loop's handler: a SIGTERM is noted, not fatal (no-op where
    there are no signals, or off the main thread)."""
    with contextlib.suppress(ValueError, OSError):  # not the main thread
        signal.signal(signal.SIGTERM, _note)


def asked() -> bool:
    """A SIGTERM came while :func:`hold`'s handler was on."""
    return bool(_noted)


def _note(number: int, frame: FrameType | None) -> None:
    _noted.append(number)
