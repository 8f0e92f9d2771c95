"""The flow files a folder stands for, read the same way by every command given one.

A folder named where flows are expected (``validate flows/``, ``test flows/``, ``review
flows/``) stands for the flow files below it, at any depth and sorted: every
``*.flow.yaml`` and, for ``validate``, which checks the parts of flows on their own as well,
every ``*.subflow.yaml`` and ``*.states.yaml`` (:data:`~ucwa_flow.flow.PART_SUFFIXES`).
Other ``*.yaml`` files are not read: a folder holds test scripts and deployment files too.
Hidden files and folders (a name that starts with ``.``: an editor's lock file such as
Emacs' ``.#x.flow.yaml``, a dangling link while the file is open) and anything that is not
a file are left out.
A folder without any is :class:`~ucwa_flow.errors.UnreadableFileError` (one line, exit
status 2), with a hint for a flow named ``*.yml``; so is a path that does not exist and is
no YAML file's name (``flow/``: a folder, misspelt), with the nearest name beside it.
"""

from __future__ import annotations

import os
from pathlib import Path

from ucwa_flow.errors import UnreadableFileError
from ucwa_flow.flow._api import PART_SUFFIXES, _exists
from ucwa_flow.flow._missing import no_such_file

__all__ = ["FLOW_SUFFIX", "expand_folder", "flow_files"]

#: the end of a flow file's name
FLOW_SUFFIX = ".flow.yaml"


def flow_files(folder: Path, *, parts: bool = False) -> list[Path]:
    """The flow files below ``folder`` (with ``parts``, the parts of flows too), sorted."""
    suffixes = (FLOW_SUFFIX, *PART_SUFFIXES) if parts else (FLOW_SUFFIX,)
    found = []
    # os.walk, not rglob: a hidden folder (.git, .venv, a cache) is not even entered, and a
    # review lists its folders on each page load
    for top, folders, files in os.walk(folder):  # a folder it cannot list is left out
        folders[:] = [name for name in folders if not name.startswith(".")]
        for name in files:
            if name.endswith(suffixes) and not name.startswith("."):
                path = Path(top, name)
                if path.is_file():
                    found.append(path)
    return sorted(found)


def expand_folder(given: str, *, parts: bool = False) -> list[str]:
    """``given``, or the flow files below it when it is a folder (see the module)."""
    folder = Path(given)
    if not folder.is_dir():
        if folder.suffix not in (".yaml", ".yml") and not _exists(folder):  # `flow/`, `nw`
            raise UnreadableFileError(no_such_file(given, "flow file or folder", folders=True))
        return [given]
    found = flow_files(folder, parts=parts)
    if found:
        return [str(p) for p in found]
    suffixes = (FLOW_SUFFIX, *PART_SUFFIXES) if parts else (FLOW_SUFFIX,)
    named = ", ".join(f"*{suffix}" for suffix in suffixes)
    yml = sorted(p.name for p in folder.rglob("*.yml"))
    hint = f" ({yml[0]}: end its name in .yaml, not .yml)" if yml else ""
    raise UnreadableFileError(f"{given}: no flows ({named}) in it{hint}")
