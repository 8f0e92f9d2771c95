""".ci/run installs Debian's Chromium and its ChromeDriver only when they are missing, with
sudo only when not root and sudo exists, before the README's test command.

The script runs from a copy whose two browser paths point into ``tmp_path`` (present or
not as each case needs) with ``PATH`` holding only stubs: ``apt-get``, ``sudo``, ``id`` and
``python3`` record what they were asked to do, so nothing is installed and no test runs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.guards import WAIT

ROOT = Path(__file__).resolve().parent.parent
LOG = "calls.log"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    path.chmod(0o755)


def _run_ci(
    tmp_path: Path, *, uid: int, sudo: bool, browser: bool
) -> subprocess.CompletedProcess[str]:
    clone = tmp_path / "clone"
    (clone / ".ci").mkdir(parents=True)
    usr_bin = tmp_path / "usr-bin"
    usr_bin.mkdir()
    if browser:
        for name in ("chromium", "chromedriver"):
            _stub(usr_bin, name, "exit 0")
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert script.count("/usr/bin/chromium ") == 1
    assert script.count("/usr/bin/chromedriver ") == 1
    script = script.replace("/usr/bin/chromium ", f"{usr_bin}/chromium ")
    script = script.replace("/usr/bin/chromedriver ", f"{usr_bin}/chromedriver ")
    (clone / ".ci" / "run").write_text(script, encoding="utf-8")
    log = tmp_path / LOG
    stubs = tmp_path / "bin"
    stubs.mkdir()
    for tool in ("dirname", "env", "mkdir", "chmod"):
        found = shutil.which(tool)
        assert found is not None
        (stubs / tool).symlink_to(found)
    _stub(stubs, "id", f"echo {uid}")
    _stub(stubs, "apt-get", f'echo "apt-get $*" >> {log}')
    if sudo:
        _stub(stubs, "sudo", f'echo "sudo $1" >> {log}\nexec "$@"')
    _stub(
        stubs,
        "python3",
        f'echo "python3 $*" >> {log}\nmkdir -p .venv/bin\n'
        f"printf '#!/bin/sh\\necho \"pip $*\" >> {log}\\n' > .venv/bin/pip\n"
        f"printf '#!/bin/sh\\necho \"pytest $*\" >> {log}\\n' > .venv/bin/pytest\n"
        "chmod +x .venv/bin/pip .venv/bin/pytest",
    )
    return subprocess.run(
        ["/bin/bash", str(clone / ".ci" / "run")],
        env={"PATH": str(stubs), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


def _calls(tmp_path: Path) -> list[str]:
    log = tmp_path / LOG
    return log.read_text(encoding="utf-8").splitlines() if log.exists() else []


TESTS = ["python3 -m venv .venv", "pip install -e .[test]", "pytest "]
INSTALL = [
    "apt-get update",
    "apt-get install -y --no-install-recommends chromium chromium-driver",
]


def test_a_present_browser_is_not_installed_again(tmp_path: Path) -> None:
    done = _run_ci(tmp_path, uid=0, sudo=True, browser=True)
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == TESTS


def test_root_installs_the_browser_without_sudo_before_the_tests(tmp_path: Path) -> None:
    done = _run_ci(tmp_path, uid=0, sudo=True, browser=False)
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == INSTALL + TESTS


def test_a_user_installs_the_browser_through_sudo(tmp_path: Path) -> None:
    done = _run_ci(tmp_path, uid=1000, sudo=True, browser=False)
    assert done.returncode == 0, done.stderr
    assert _calls(tmp_path) == [
        "sudo apt-get",
        INSTALL[0],
        "sudo env",
        INSTALL[1],
        *TESTS,
    ]


def test_a_user_without_sudo_gets_one_line_and_no_tests(tmp_path: Path) -> None:
    done = _run_ci(tmp_path, uid=1000, sudo=False, browser=False)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1
    assert "apt-get install chromium chromium-driver" in done.stderr
    assert _calls(tmp_path) == []
