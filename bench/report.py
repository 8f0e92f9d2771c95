"""The tables ``python -m bench`` prints from a results dict (text or Markdown).

The headline first: the bot's CPU per message at each number of conversations, per bot,
with its ratio to the baseline's; then, beside it, the callers' latency, messages per
second and the bot's memory; then the engine-only and validate figures.
"""

from __future__ import annotations

from typing import Any

from bench.figures import Figure, cell

__all__ = ["grid", "http_layout", "tables"]

#: (measure, title) of the HTTP tables, the headline first
SECTIONS = (
    ("cpu_ms_per_message", "bot CPU per message, ms (the headline)"),
    ("p50_ms", "latency p50, ms (send to reply, as the caller sees it)"),
    ("p99_ms", "latency p99, ms"),
    ("messages_per_second", "messages per second (all conversations together)"),
    ("rss_mb", "bot resident memory, MB, after the window"),
    ("kb_per_conversation", "bot memory per conversation, KB (RSS growth since the first row)"),
    ("other_cores", "cores used beside the bot and the bench (other processes, steal)"),
)
LABELS = {
    "records_per_second": "records/s",
    "bytes_per_idle_conversation": "bytes per idle conversation",
    "ratio_to_raw_trigger": "time per record over a raw transitions trigger (paired)",
}


def grid(head: list[str], rows: list[list[str]], *, markdown: bool = False) -> list[str]:
    """Columns aligned (text) or a Markdown table."""
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        return lines + ["| " + " | ".join(row) + " |" for row in rows]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    fit = []
    for row in [head, *rows]:
        cells = zip(row, widths, strict=True)
        fit.append(
            "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells))
        )
    return [fit[0], "-" * len(fit[0]), *fit[1:]]


def http_layout(figures: dict[str, Figure]) -> tuple[list[str], list[int], list[str]]:
    """The bots, the numbers of conversations and the ratio pairs in ``figures``."""
    bots: list[str] = []
    levels: set[int] = set()
    pairs: list[str] = []
    for key in figures:
        part = key.split(".")
        if part[0] == "http" and len(part) == 4:
            if part[1] not in bots:
                bots.append(part[1])
            levels.add(int(part[2]))
        elif part[0] == "ratio" and part[1] not in pairs:
            pairs.append(part[1])
    return bots, sorted(levels), pairs


def tables(result: dict[str, Any], *, markdown: bool = False) -> str:
    figures: dict[str, Figure] = result["figures"]
    bots, levels, pairs = http_layout(figures)
    out: list[str] = []
    if bots:
        out.append("median [quartiles] of the measuring windows' slices, every run pooled")
    for measure, title in SECTIONS:
        if not bots:
            break
        shown = [p for p in pairs if any(f"ratio.{p}.{n}.{measure}" in figures for n in levels)]
        head = ["conversations", *bots, *shown]
        rows = []
        for n in levels:
            talk = next((figures[k] for b in bots if (k := f"http.{b}.{n}.talk") in figures), {})
            active = talk.get("active", n)
            row = [f"{n:,}" if active == n else f"{n:,} ({active:,} talk)"]
            row += [cell(figures.get(f"http.{b}.{n}.{measure}")) for b in bots]
            row += [cell(figures.get(f"ratio.{p}.{n}.{measure}")) for p in shown]
            rows.append(row)
        out += ["", f"{title}:", *grid(head, rows, markdown=markdown)]
    lost = [
        f"{key.split('.')[1]} at {int(key.split('.')[2]):,}: {f['lost']} of {f['sent']}"
        for key, f in figures.items()
        if key.endswith(".talk") and f["lost"]
    ]
    if lost:
        out += ["", "replies lost (no reply within the timeout): " + "; ".join(lost)]
    # (ratios of a missing figure, and the first level's memory per conversation, go
    # without saying: the JSON has them)
    missing = [
        f"{key}: {f['missing'] if 'missing' in f else f['note']}"
        for key, f in figures.items()
        if not key.endswith(".talk")
        and ("missing" in f or "note" in f)
        and not f.get("missing", "").startswith(("a side is missing", "the first level"))
    ]
    if missing:
        out += ["", "figures missing or incomplete:", *(f"  {line}" for line in missing)]
    rest = []
    for key, value in figures.items():
        part = key.split(".")
        if part[0] == "engine":
            label = f"engine, {int(part[1]):,} conv., {LABELS.get(part[2], part[2])}"
        elif part[0] == "engine_durable":
            label = f"engine+sqlite, {int(part[1]):,} conv., {part[2]}, records/s"
        elif part[0] == "validate":
            label = f"validate, {value.get('flow_lines', 1000):,}-line flow, s"
        else:
            continue
        rest.append([label, cell(value, unit=True)])
    if rest:
        out += [
            "",
            *grid(["engine only, validate", "median [quartiles] of runs"], rest, markdown=markdown),
        ]
    return "\n".join(out).strip("\n")
