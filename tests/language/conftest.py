"""Shared fixtures of the flow language round-two tests."""

from __future__ import annotations

from tests.testing.conftest import write

__all__ = ["write"]
