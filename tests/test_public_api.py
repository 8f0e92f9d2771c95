"""The package's public API resolves lazily and completely."""

from __future__ import annotations

import subprocess
import sys

import ucwa_flow


def test_every_public_name_resolves() -> None:
    for name in ucwa_flow.__all__:
        assert getattr(ucwa_flow, name) is not None
    assert sorted(ucwa_flow.__all__) == ucwa_flow.__all__


def test_importing_the_package_loads_no_http_stack() -> None:
    heavy = ("httpx", "starlette", "prometheus_client", "uvicorn")
    code = f"import sys, ucwa_flow; print(*[m in sys.modules for m in {heavy!r}])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"] * len(heavy)
