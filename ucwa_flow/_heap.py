"""The heap of a long-running ``run`` or ``serve`` process, out of the collector's way.

CPython's cyclic garbage collector, on a full collection, visits every container object
the process holds; in a started bot most of them are its modules, functions, classes and
flows, which live as long as the process. Measured in ``ucwa-flow serve`` under issue 12's
burst (docs/performance.md, "Overload"): about 57,000 of its 72,000-80,000 objects were
there before it served anyone, and a full collection cost 30-50 ms of CPU, three to six
times in a 12-second window: each one a pause every caller's reply waits out. Moved to the
permanent generation (:func:`gc.freeze`, what the standard library offers for this), they
are never visited again: a full collection then visited 20,000-32,000 objects and took
4-25 ms.

Only the command that owns the process calls :func:`settle`, once, after its imports and
before its bot or service starts: never after a conversation exists, since a frozen
reference cycle that becomes garbage is never collected (work under way, an HTTP request
say, may hold one). A conversation itself forms no cycle: once the engine forgets it, it is
freed by reference counting (``tests/runtime/test_freed_at_end.py``), frozen or not. A flow
loaded later (a reload) is not frozen.
"""

from __future__ import annotations

import gc

__all__ = ["settle"]


def settle() -> None:
    """Collect what start-up left, then freeze every object alive now (see the module)."""
    gc.collect()
    gc.freeze()
