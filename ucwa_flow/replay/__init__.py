"""Replaying recorded conversations against a flow, to see what a change does to them.

``ucwa-flow replay FLOW RECORDINGS...`` (``docs/replay.md``) reads recordings (the JSON
lines of ``ucwa-flow transcripts export``, or the one-line-per-conversation replay format
that a team can write by hand), plays each one's caller side against FLOW on a virtual
clock (no server, no network: invites and webhooks are answered as recorded), and
compares what the flow does with what the bot did.

Public API::

    from ucwa_flow.replay import Compare, read_recordings, replay

    recordings = read_recordings("last-week.jsonl")
    results = asyncio.run(replay(flow, recordings, Compare.parse("loose")))
    diverged = [r for r in results if r.diverged]

* :func:`read_lines` / :func:`read_recordings` -> :class:`Recording` (a bad line is a
  :class:`RecordingError`, ``file:line:col``); :func:`from_export` and
  :func:`recording_line` convert the export's lines to a recording and a recording to the
  replay format;
* :func:`play` replays one recording -> :class:`Played` (what the flow did);
* :func:`replay` -> one :class:`Result` per recording (``first``: the first
  :class:`Difference`; ``stop``: why the replay ended early, a :class:`Stop`);
* :mod:`ucwa_flow.replay._report` (:func:`summary_lines`, :func:`detail_lines`,
  :func:`as_json`) formats them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.flow import Flow
from ucwa_flow.replay._compare import NOT_SET, Compare, Difference, Result, compare
from ucwa_flow.replay._driver import Played, Stop, play
from ucwa_flow.replay._reader import RecordingError, from_export, read_lines, recording_line
from ucwa_flow.replay._recording import Event, Recording
from ucwa_flow.replay._report import as_json, detail_lines, summary_lines
from ucwa_flow.runtime import FlowMachine

__all__ = [
    "NOT_SET",
    "Compare",
    "Difference",
    "Event",
    "Played",
    "Recording",
    "RecordingError",
    "Result",
    "Stop",
    "as_json",
    "detail_lines",
    "from_export",
    "play",
    "read_lines",
    "read_recordings",
    "recording_line",
    "replay",
    "summary_lines",
]


def read_recordings(path: str | Path) -> list[Recording]:
    """Every recording in the file ``path`` (``UnreadableFileError`` when it cannot be read)."""
    try:
        with open(path, encoding="utf-8") as handle:
            return list(read_lines(str(path), handle))
    except OSError as exc:
        raise UnreadableFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise RecordingError(f"{path}: not UTF-8 text: {exc.reason}") from None


async def replay(
    flow: Flow,
    recordings: Iterable[Recording],
    how: Compare | None = None,
    progress: Callable[[Result], None] | None = None,
) -> list[Result]:
    """Replay each recording against ``flow`` and compare; ``progress`` sees each result.

    An invitation the bot turned away (``declined``, as a store keeps one) is skipped: no
    flow ran in it, so there is nothing to replay (it has no result).
    """
    how = how or Compare()
    machine = FlowMachine(flow)
    results: list[Result] = []
    for recording in recordings:
        if recording.declined:
            continue
        played = await play(flow, machine, recording)
        result = compare(recording, played, flow, how)
        results.append(result)
        if progress is not None:
            progress(result)
    return results
