"""Read a file as it was at a git revision, for ``ucwa-flow diff --rev``.

The file is looked up in the repository it lives in (``git -C <its folder> show
REV:./<name>``), so the command works from any directory. Every failure is one
:class:`~ucwa_flow.errors.UnreadableFileError` line: git missing, not a repository, no
such revision, or no such file at that revision.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from ucwa_flow.errors import UnreadableFileError

__all__ = ["read_at_revision"]


def read_at_revision(path: Path, revision: str) -> str:
    """The text of ``path`` at ``revision`` of its git repository."""
    folder = path.resolve().parent
    if not folder.is_dir():
        raise UnreadableFileError(f"{path}: no such folder, cannot look up revision {revision}")
    if not revision.strip() or revision.startswith("-"):
        # "" would read the index (git show :./FILE), "-p" would be an option
        raise UnreadableFileError(f"{path}: {revision!r} is not a git revision")
    try:
        done = subprocess.run(
            ["git", "-C", str(folder), "show", f"{revision}:./{path.name}"],
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        raise UnreadableFileError("git is not installed: --rev needs the git command") from None
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip().splitlines()
        reason = detail[0].removeprefix("fatal: ") if detail else f"git exit {done.returncode}"
        raise UnreadableFileError(f"{path}: cannot read revision {revision}: {reason}")
    try:
        return done.stdout.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise UnreadableFileError(f"{path}@{revision}: the file is not UTF-8 text") from None
