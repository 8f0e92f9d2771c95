"""The flows of one review, reloaded when their file changes.

A reviewer edits the YAML while the review runs; the next page load shows the edit
(the modification time and size of each file of the flow, its includes and sub-flows
too, are checked on each lookup, one ``stat`` per file), and a flow renamed in its file is
found by its new name. A file that became unreadable keeps its last good picture. The
live routes, asked on every update of a conversation, only need to know that a name is one
of the review's flows (:meth:`FlowShelf.knows`): they look at no file for a name already
known.

A folder given to the review (``review flows/``) stands for the flow files below it as they
are at each lookup, not only at the start (:mod:`ucwa_flow.flow._folders`: hidden files left
out): a flow file saved there since is shown, one deleted is no longer (a file named on its
own keeps its last good picture, as an unreadable one does). A new file that cannot be read
at all yet is left out until it can, and one whose flow has the name of a flow already
reviewed is left out (a warning says so once: a page is a flow's name). The folders are
listed again only on a lookup that loads (a page), never by :meth:`FlowShelf.knows` for a
known name.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path

from ucwa_flow.errors import OperationalError, UnreadableFileError
from ucwa_flow.flow import resolve_flow_path
from ucwa_flow.flow._folders import expand_folder, flow_files
from ucwa_flow.review._flows import ReviewedFlow, review_flow

__all__ = ["FlowShelf"]

log = logging.getLogger(__name__)


class FlowShelf:
    """The reviewed flows, in the order given; see the module's docstring.

    ``folders``: the folders among the paths given, listed again on each lookup, and
    ``given``: every path given, in order (the flows' own paths when not given)."""

    def __init__(
        self,
        flows: Sequence[ReviewedFlow],
        *,
        given: Sequence[str | Path] | None = None,
        folders: Sequence[str | Path] = (),
    ) -> None:
        self._flows = list(flows)
        self._stamps = [_stamps(flow) for flow in flows]
        self._keys = [_same_file(flow.path) for flow in flows]
        self._given = list(given) if given is not None else [flow.path for flow in flows]
        self._folders = frozenset(str(folder) for folder in folders)
        # a file given on its own is the file it was at the start, even once it is gone
        self._named = {
            str(path): _same_file(path) for path in self._given if str(path) not in self._folders
        }
        # files left out for their flow's name (said once), with the name and their stamp:
        # not read again while they have not changed and the name is still taken
        self._doubles: dict[Path, tuple[str, tuple[int, int] | None]] = {}

    @classmethod
    def load(cls, paths: Sequence[str | Path]) -> FlowShelf:
        """Load every file, once however many times it is named, and the flow files below
        each folder named (:func:`~ucwa_flow.flow._folders.expand_folder`: one without any
        is :class:`~ucwa_flow.errors.UnreadableFileError`)
        (:class:`~ucwa_flow.flow.FlowFileError` for one that cannot be read, the CLI's one
        line; :class:`~ucwa_flow.errors.OperationalError` for two files with flows of one
        name: a page is a flow's name)."""
        folders = [path for path in paths if Path(path).is_dir()]
        unique: dict[Path, str | Path] = {}
        for path in paths:
            for file in expand_folder(str(path)):  # a file is itself; `nw/` a typo said so
                unique.setdefault(_same_file(file), file)
        flows = [review_flow(path) for path in unique.values()]
        named: dict[str, ReviewedFlow] = {}
        for flow in flows:
            other = named.setdefault(flow.name, flow)
            if other is not flow:
                raise OperationalError(
                    f"{other.path} and {flow.path} are both flows named {flow.name!r}: "
                    "review them one at a time"
                )
        return cls(flows, given=paths, folders=folders)

    def all(self) -> list[ReviewedFlow]:
        """Every flow, each fresh (and the folders' flows as they now are)."""
        if self._folders:
            self._listed()
        for index in range(len(self._flows)):
            self._fresh(index)
        return list(self._flows)

    def get(self, name: str) -> ReviewedFlow | None:
        """The flow called ``name`` (fresh), or ``None``."""
        for flow in self.all():
            if flow.name == name:
                return flow
        return None

    def knows(self, name: str) -> bool:
        """Whether ``name`` is a flow of this review: one of the names as last loaded (no
        file looked at: the live routes ask on every update), else after a fresh look, for
        a flow renamed in its file since or new in a folder."""
        return any(flow.name == name for flow in self._flows) or self.get(name) is not None

    def _listed(self) -> None:
        """Take the flow files the given paths now stand for: the ones known kept as they
        are, a new one loaded, one gone from its folder dropped."""
        unique: dict[Path, str | Path] = {}
        for given in self._given:
            if str(given) not in self._folders:
                unique.setdefault(self._named[str(given)], given)
                continue
            for found in _folder_files(given):
                unique.setdefault(_same_file(found), found)
        known = dict(zip(self._keys, zip(self._flows, self._stamps, strict=True), strict=True))
        # a page is a flow's name: a new file's flow of a name taken keeps out, the first
        # file of a name keeps its page
        taken = {known[key][0].name for key in unique if key in known}
        flows, stamps, keys = [], [], []
        for key, file in unique.items():
            if key in known:
                flow, stamp = known[key]
            else:
                started, own = time.time_ns(), _stamp(Path(file))
                left = self._doubles.get(key)
                if left is not None and left[1] == own and left[0] in taken:
                    continue
                try:
                    flow = review_flow(file)
                except (OSError, UnreadableFileError):
                    continue  # not readable (yet): looked at again next time
                # its own file stamped before it was read, the others as _fresh does
                stamp = (own, *(_stamp_after(path, started) for path in flow.files[1:]))
                if flow.name in taken:
                    if key not in self._doubles:
                        log.warning(
                            "%s: left out: a flow named %r is already reviewed", file, flow.name
                        )
                    self._doubles[key] = (flow.name, own)
                    continue
                taken.add(flow.name)
            flows.append(flow)
            stamps.append(stamp)
            keys.append(key)
        self._flows, self._stamps, self._keys = flows, stamps, keys

    def _fresh(self, index: int) -> None:
        flow = self._flows[index]
        stamp = _stamps(flow)
        if stamp == self._stamps[index] or stamp[0] is None:
            return
        started = time.time_ns()
        try:
            fresh = self._flows[index] = review_flow(flow.path)
        except (OSError, UnreadableFileError):
            return
        # the files of the flow as it now is: each one it had stamped before it was read (a
        # change meanwhile is seen next time), one it includes or calls now after
        before = dict(zip(flow.files, stamp, strict=True))
        self._stamps[index] = tuple(
            before[path] if path in before else _stamp_after(path, started) for path in fresh.files
        )


def _folder_files(folder: str | Path) -> list[Path]:
    """The flow files now below ``folder``: none when it is gone or cannot be listed."""
    try:
        return flow_files(Path(folder)) if Path(folder).is_dir() else []
    except OSError:
        return []


def _same_file(path: str | Path) -> Path:
    """What tells two names of one flow file apart from two files: ``flows/x.yaml`` and
    ``./flows/x.flow.yaml`` are one. A name that cannot be resolved (a loop of links) stands
    for itself: reading it says what is wrong, in one line."""
    try:
        return resolve_flow_path(path).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop of symbolic links (3.11)
        return Path(os.path.abspath(path))


#: how long before a load a new file's change may have been written and still be missed
#: (a file system's coarse times): such a file is looked at again on the next lookup
_UNSURE_NS = 1_000_000_000


def _stamp_after(path: Path, started: int) -> tuple[int, int] | None:
    """The stamp of ``path``, first read by a load that started at ``started`` (ns): one
    that may have changed while it was read is stamped as never seen, so the next lookup
    loads the flow again rather than keep the older picture."""
    stamp = _stamp(path)
    if stamp is not None and stamp[0] >= started - _UNSURE_NS:
        return (-1, -1)
    return stamp


def _stamps(flow: ReviewedFlow) -> tuple[tuple[int, int] | None, ...]:
    """The stamp of every file of ``flow``, its own first."""
    return tuple(_stamp(path) for path in flow.files)


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return (found.st_mtime_ns, found.st_size)
