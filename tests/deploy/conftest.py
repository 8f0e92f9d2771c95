"""Deployment-file fixtures: a folder with two small flows, and a way to write a file."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: writes ``deploy.yaml`` (the given text) in a folder that holds echo and helpdesk flows
WriteDeployment = Callable[[str], Path]


@pytest.fixture
def write_deployment(tmp_path: Path) -> WriteDeployment:
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("echo", "helpdesk", "outbound-survey"):
        shutil.copy(ROOT / "flows" / f"{name}.flow.yaml", flows)

    def write(text: str) -> Path:
        path = tmp_path / "deploy.yaml"
        path.write_text(text, "utf-8")
        return path

    return write
