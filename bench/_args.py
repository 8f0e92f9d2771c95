"""The positional arguments of a bench module run as ``python -m bench.X [ARG ...]``.

Each module's docstring starts with its usage; ``-h``/``--help`` prints that docstring, and
an argument that is not what it should be ends the run with one line (exit status 2), not
a traceback.
"""

from __future__ import annotations

import sys

__all__ = ["arguments", "number"]


def arguments(doc: str | None, argv: list[str] | None = None) -> list[str]:
    """The arguments after the module's name; the module's ``doc`` and exit 0 for ``-h``."""
    args = sys.argv[1:] if argv is None else argv
    if "-h" in args or "--help" in args:
        print((doc or "").strip())
        raise SystemExit(0)
    return args


def number(args: list[str], index: int, name: str, default: int) -> int:
    """Argument ``index`` as a whole number of at least 1 (``default`` when not given)."""
    if len(args) <= index:
        return default
    try:
        value = int(args[index])
    except ValueError:
        value = 0
    if value < 1:
        print(f"error: {name} must be a whole number of at least 1, not {args[index]!r}")
        raise SystemExit(2)
    return value
