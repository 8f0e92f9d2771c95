"""The scale curve as a PNG: CPU per message, messages per second and resident memory of
each bot against the number of concurrent conversations (log scale), the quartiles as
error bars. Needs matplotlib (``pip install 'ucwa-flow[bench]'``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.report import http_layout

__all__ = ["scale"]

PANELS = (
    ("cpu_ms_per_message", "bot CPU per message (ms)"),
    ("messages_per_second", "messages per second, all conversations"),
    ("rss_mb", "bot resident memory (MB)"),
    ("kb_per_conversation", "bot memory per added conversation (KB)"),
)


def scale(result: dict[str, Any], path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("the plot needs matplotlib: pip install 'ucwa-flow[bench]'") from None
    figures = result["figures"]
    bots, levels, _ = http_layout(figures)
    fig, grid = plt.subplots(2, 2, figsize=(11, 8), layout="constrained")
    axes = list(grid.flat)
    for ax, (measure, title) in zip(axes, PANELS, strict=True):
        for bot in bots:
            xs, ys, low, high = [], [], [], []
            for n in levels:
                f = figures.get(f"http.{bot}.{n}.{measure}")
                if f is None or "missing" in f:
                    continue
                xs.append(n)
                ys.append(f["median"])
                low.append(f["median"] - f["q1"])
                high.append(f["q3"] - f["median"])
            ax.errorbar(xs, ys, yerr=[low, high], marker="o", capsize=3, label=bot)
        ax.set_xscale("log")
        ax.set_xticks(levels, [f"{n:,}" for n in levels])
        ax.minorticks_off()
        ax.set_xlabel("concurrent conversations")
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
    axes[0].legend()
    m = result.get("machine", {})
    load = m.get("load_during", {})
    fig.suptitle(
        f"ucwa-flow bench, {m.get('date', '')[:16]}, {m.get('nproc', '?')} cores, "
        f"load {load.get('min', 0):.1f}-{load.get('max', 0):.1f}; median and quartiles",
        fontsize=10,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
