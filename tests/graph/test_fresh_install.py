"""``ucwa-flow graph --format svg|png`` needs nothing a fresh ``pip install ucwa-flow`` lacks.

``test_builtin.py`` draws the pictures with no Graphviz on the PATH, but in the test
suite's own environment, which also holds the test tools and their dependencies. A fresh
virtual environment holds only ucwa-flow's declared dependencies and theirs; building one
here would download them (the suite downloads nothing), so this test checks the same
thing from the other side: it runs the command with an empty PATH and lists every file it
imported from site-packages; each must belong to a distribution in the closure of the
``dependencies`` of pyproject.toml (extras left out). An import of anything else (a test
tool, a package that happens to be installed here) would fail on a fresh machine.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.guards import WAIT

ROOT = Path(__file__).resolve().parents[2]

_PROBE = """
import json, sys
before = set(sys.modules)  # what site's .pth files loaded (setuptools' _distutils_hack...)
from ucwa_flow.cli import main
sys.argv = ["ucwa-flow", "graph", "flows/helpdesk.flow.yaml", "--format", sys.argv[1],
            "-o", sys.argv[2]]
try:
    main()
    code = 0
except SystemExit as stop:
    code = stop.code or 0
loaded = [m for n, m in list(sys.modules.items()) if n not in before]
files = sorted({m.__file__ for m in loaded if getattr(m, "__file__", None)})
print(json.dumps({"code": code, "files": files}))
"""


def _declared_closure() -> set[str]:
    """Canonical names of the distributions a plain ``pip install ucwa-flow`` brings."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    todo = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in seen:
            continue
        seen.add(name)
        dist = importlib.metadata.distribution(name)
        for text in dist.requires or []:
            nested = Requirement(text)
            extras = requirement.extras or {""}
            if nested.marker is None or any(nested.marker.evaluate({"extra": e}) for e in extras):
                todo.append(nested)
    return seen


@functools.cache
def _owners() -> dict[Path, str]:
    """Every installed file in site-packages (its real path) -> its distribution's
    canonical name.

    The real path of a file that is no link is its real folder's and its name: each
    folder is resolved once (resolving each of some 12,000 files took seconds).
    """
    folders = functools.cache(Path.resolve)
    owners: dict[Path, str] = {}
    for dist in importlib.metadata.distributions():
        name = canonicalize_name(dist.metadata["Name"])
        for file in dist.files or []:
            located = Path(str(dist.locate_file(file)))
            if located.is_symlink():
                owners[located.resolve()] = name
            else:
                owners[folders(located.parent) / located.name] = name
    return owners


def _bytecode_setting() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if k in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")
    }


@pytest.mark.parametrize("fmt", ["svg", "png"])
def test_graph_imports_only_declared_dependencies(tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"helpdesk.{fmt}"
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, fmt, str(out)],
        cwd=ROOT,
        # no Graphviz's dot; the bytecode where the suite keeps it (tests/conftest.py: under
        # PYTHONDONTWRITEBYTECODE, outside the checkout), not in __pycache__ folders in it
        env={"PATH": str(tmp_path), "PYTHONPATH": str(ROOT), **_bytecode_setting()},
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["code"] == 0, done.stderr
    assert out.stat().st_size > 1000
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    owners = _owners()
    allowed = _declared_closure()
    used = {}
    for name in report["files"]:
        path = Path(name).resolve()
        if any(path.is_relative_to(s) for s in site) and path in owners:
            used[owners[path]] = name
    assert "pillow" in used or fmt == "svg"
    undeclared = {dist: file for dist, file in used.items() if dist not in allowed}
    assert undeclared == {}, f"imported from distributions a fresh install lacks: {undeclared}"
