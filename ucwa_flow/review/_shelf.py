"""The flows of one review, reloaded when their file changes.

A reviewer edits the YAML while the review runs; the next page load shows the edit
(the modification time and size of each file of the flow, its includes and sub-flows
too, are checked on each lookup, one ``stat`` per file). A file that became unreadable
keeps its last good picture.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from ucwa_flow.errors import OperationalError, UnreadableFileError
from ucwa_flow.flow import resolve_flow_path
from ucwa_flow.review._flows import ReviewedFlow, review_flow

__all__ = ["FlowShelf"]


class FlowShelf:
    """The reviewed flows, in the order given; see the module's docstring."""

    def __init__(self, flows: Sequence[ReviewedFlow]) -> None:
        self._flows = list(flows)
        self._stamps = [_stamps(flow) for flow in flows]

    @classmethod
    def load(cls, paths: Sequence[str | Path]) -> FlowShelf:
        """Load every file, once however many times it is named
        (:class:`~ucwa_flow.flow.FlowFileError` for one that cannot be read, the CLI's one
        line; :class:`~ucwa_flow.errors.OperationalError` for two files with flows of one
        name: a page is a flow's name)."""
        unique: dict[Path, str | Path] = {}
        for path in paths:
            unique.setdefault(_same_file(path), path)
        flows = [review_flow(path) for path in unique.values()]
        named: dict[str, ReviewedFlow] = {}
        for flow in flows:
            other = named.setdefault(flow.name, flow)
            if other is not flow:
                raise OperationalError(
                    f"{other.path} and {flow.path} are both flows named {flow.name!r}: "
                    "review them one at a time"
                )
        return cls(flows)

    def all(self) -> list[ReviewedFlow]:
        """Every flow, each fresh."""
        for index in range(len(self._flows)):
            self._fresh(index)
        return list(self._flows)

    def get(self, name: str) -> ReviewedFlow | None:
        """The flow called ``name`` (fresh), or ``None``."""
        for flow in self.all():
            if flow.name == name:
                return flow
        return None

    def _fresh(self, index: int) -> None:
        flow = self._flows[index]
        stamp = _stamps(flow)
        if stamp == self._stamps[index] or stamp[0] is None:
            return
        try:
            self._flows[index] = review_flow(flow.path)
        except (OSError, UnreadableFileError):
            return
        self._stamps[index] = stamp


def _same_file(path: str | Path) -> Path:
    """What tells two names of one flow file apart from two files: ``flows/x.yaml`` and
    ``./flows/x.flow.yaml`` are one."""
    return resolve_flow_path(path).resolve()


def _stamps(flow: ReviewedFlow) -> tuple[tuple[int, int] | None, ...]:
    """The stamp of every file of ``flow``, its own first."""
    return tuple(_stamp(path) for path in flow.files)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size)
