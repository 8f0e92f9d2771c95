"""What one measuring window saw, and its figures per slice (pure: no I/O, no clock).

A window is cut into slices at the times ``bounds`` (``perf_counter`` seconds); the bot's
CPU seconds are read at the same times (``cpu``). The callers report every message they
sent and what came of it (:meth:`Window.record`, :meth:`Window.lost`):

* a **latency** belongs to the slice in which its message was *sent*, whenever the reply
  came, so a reply that arrives after the window still counts (dropping it would keep the
  slowest replies out of the figures: at 1,000 conversations in a closed loop a reply takes
  seconds, and the late ones are the slow ones);
* a message whose reply never came (:meth:`Window.lost`) counts as slower than every reply
  in the percentiles: if the percentile falls among the lost ones, the slice has no value
  for it (reported as missing, never as a number or NaN);
* a **reply** counts for messages per second, and for CPU per message, in the slice in
  which it *arrived*;
* **other cores**: the CPU time that everything but the bot and the bench used in the
  slice (other processes, the kernel's interrupts, a hypervisor's steal), in cores. A
  closed loop of two processes on a 2-core machine slows down for the bot and the bench
  alike when a third takes CPU (one busy loop beside them took a 100-conversation window
  from about 2,300 to about 780 messages per second, for the in-memory and the durable
  bot alike): a slow slice with other cores near 1 says the machine, not the bot.

:func:`summarise` turns that into one value per slice and figure, ``None`` where a slice
has no sample, with the reason in :data:`MISSING`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

__all__ = ["MISSING", "Window", "censored_quantile", "summarise"]

#: why a slice has no value for a figure
MISSING = {
    "p50_ms": "no message sent in the slice, or half of them never answered",
    "p99_ms": "no message sent in the slice, or more than 1% of them never answered",
    "messages_per_second": "the slice has no length",
    "cpu_ms_per_message": "no reply arrived in the slice",
    "other_cores": "the machine's CPU time was not read (no /proc/stat)",
}


@dataclass
class Window:
    """Every message sent from ``start`` on: (sent, replied) or (sent, None) if lost."""

    start: float = math.inf
    samples: list[tuple[float, float | None]] = field(default_factory=list)

    def record(self, sent: float, replied: float) -> None:
        """A reply to a message sent at ``sent`` arrived at ``replied``."""
        if sent >= self.start or replied >= self.start:
            self.samples.append((sent, replied))

    def lost(self, sent: float) -> None:
        """The message sent at ``sent`` had no reply within the caller's timeout."""
        if sent >= self.start:
            self.samples.append((sent, None))


def censored_quantile(values: list[float], lost: int, q: float) -> float | None:
    """The ``q`` quantile (0..1, linear interpolation) of ``values`` and ``lost`` values
    known only to be larger than all of them; ``None`` if it falls among the lost ones or
    there is nothing at all."""
    ordered = sorted(values)
    n = len(ordered) + lost
    if n == 0:
        return None
    h = (n - 1) * q
    low = math.floor(h)
    high = min(low + 1, n - 1)
    if low >= len(ordered):
        return None
    if h == low:
        return ordered[low]
    if high >= len(ordered):
        return None
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def summarise(
    window: Window,
    bounds: list[float],
    cpu: list[float],
    others: list[float] | None = None,
) -> dict[str, list[float | None]]:
    """Per slice ``[bounds[i], bounds[i+1])``: latency p50/p99 (ms) of the messages sent in
    it, messages per second and bot CPU ms per message of the replies that arrived in it,
    and the cores that the machine's other processes used (``others``: their CPU seconds
    at each bound, see :func:`bench.load.other_cpu_seconds`; ``None`` when not read)."""
    if len(bounds) != len(cpu) or len(bounds) < 2:
        raise ValueError("need one CPU reading per bound, and at least two bounds")
    if others is not None and len(others) != len(bounds):
        raise ValueError("need one reading of the other processes' CPU per bound")
    out: dict[str, list[float | None]] = {key: [] for key in MISSING}
    for i in range(len(bounds) - 1):
        low, high = bounds[i], bounds[i + 1]
        latencies: list[float] = []
        lost = replies = 0
        for sent, replied in window.samples:
            if low <= sent < high:
                if replied is None:
                    lost += 1
                else:
                    latencies.append((replied - sent) * 1000)
            if replied is not None and low <= replied < high:
                replies += 1
        out["p50_ms"].append(censored_quantile(latencies, lost, 0.5))
        out["p99_ms"].append(censored_quantile(latencies, lost, 0.99))
        seconds = high - low
        out["messages_per_second"].append(replies / seconds if seconds > 0 else None)
        used = cpu[i + 1] - cpu[i]
        out["cpu_ms_per_message"].append(used / replies * 1000 if replies else None)
        busy = others[i + 1] - others[i] if others is not None else None
        out["other_cores"].append(
            max(0.0, busy / seconds) if busy is not None and seconds > 0 else None
        )
    return out
