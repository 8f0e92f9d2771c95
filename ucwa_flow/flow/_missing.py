"""The line for a path that does not exist, with the nearest name beside it.

``flows/helpdsk.flow.yaml: no such flow file; did you mean flows/helpdesk.flow.yaml?``.
A YAML name is compared with the files beside it that end the same way (``.flow.yaml``,
``.test.yaml``..., else ``.yaml``, and ``.flow.yaml`` for it: ``X.yaml`` names a flow
``X.flow.yaml`` too), by the part before that ending, so that the shared ending makes no
name look near; another name (``flow/``, ``nw``) with the folders beside
it, where a folder is taken.
"""

from __future__ import annotations

import difflib
import itertools
import os
from pathlib import Path

__all__ = ["no_such_file"]

#: the endings a name is compared without, longest first
_ENDINGS = (".flow.yaml", ".subflow.yaml", ".states.yaml", ".test.yaml", ".yaml", ".yml")
#: the entries of a folder looked at (a hint is not worth listing a huge folder)
_LOOKED_AT = 10_000


def no_such_file(path: str | os.PathLike[str], what: str, *, folders: bool = False) -> str:
    """``PATH: no such WHAT``, and the nearest name beside it if one is near (with
    ``folders``, a folder's too)."""
    given = Path(path)
    ending = next((e for e in _ENDINGS if given.name.endswith(e)), "")
    try:
        entries = list(itertools.islice(given.parent.iterdir(), _LOOKED_AT))
    except OSError:
        entries = []
    near: dict[str, str] = {}
    # X.yaml stands for X.flow.yaml too (a flow), not for X.test.yaml
    endings = {ending, ".flow.yaml"} if ending == ".yaml" else {ending}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        own = next((e for e in _ENDINGS if entry.name.endswith(e)), "")
        if ending and own in endings:
            near[entry.name.removesuffix(own)] = entry.name
        elif not ending and folders and entry.is_dir():
            near[entry.name] = entry.name + "/"
    close = difflib.get_close_matches(given.name.removesuffix(ending), list(near), n=1)
    if not close:
        return f"{path}: no such {what}"
    name = near[close[0]]  # (a Path would drop a folder's "/")
    hint = name if given.parent == Path() else os.path.join(given.parent, name)
    return f"{path}: no such {what}; did you mean {hint}?"
