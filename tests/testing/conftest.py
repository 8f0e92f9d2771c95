"""Helpers for the conversation-test tests: write a script next to a flow in tmp_path."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLOWS = ROOT / "flows"


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write("x.test.yaml", text)``: a file in tmp_path (text is dedented)."""

    def writer(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return writer
