"""Every TLS test keeps its local CA in its own temporary folder (``UCWA_FLOW_TLS_DIR``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ucwa_flow.simulator.tls import TLS_DIR_ENV


@pytest.fixture(autouse=True)
def tls_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "tls"
    monkeypatch.setenv(TLS_DIR_ENV, str(folder))
    for name in ("SSL_CERT_FILE", "SSL_CERT_DIR", "UCWA_FLOW_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    return folder
