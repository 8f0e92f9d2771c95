"""``Flow.digest``: which version of a flow a conversation ran, as a content hash.

The digest is the sha256 of the text the loader read; these tests compute it
independently (``hashlib`` on the file's bytes), in another process with another hash
seed, and show what changes it (any edit) and what does not (the file's name, the way
the flow was loaded, a byte-order mark).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.guards import WAIT
from ucwa_flow.flow import load_flow, load_flow_text

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
FULL = HERE / "flows" / "full.flow.yaml"


def test_the_digest_is_the_sha256_of_the_file_and_not_the_language_version() -> None:
    flow = load_flow(FULL).raise_for_errors()
    assert flow.digest == hashlib.sha256(FULL.read_bytes()).hexdigest()
    assert len(flow.digest) == 64
    assert flow.version == 1  # the language's version, whatever the flow's content


def test_every_example_flow_has_its_own_digest() -> None:
    paths = [*sorted((ROOT / "flows").glob("*.flow.yaml")), FULL]
    digests = {load_flow(path).raise_for_errors().digest for path in paths}
    assert len(digests) == len(paths)


def test_the_same_text_has_the_same_digest_however_and_wherever_it_is_loaded(
    tmp_path: Path,
) -> None:
    digest = load_flow(FULL).raise_for_errors().digest
    copy = tmp_path / "elsewhere.flow.yaml"
    shutil.copy(FULL, copy)
    assert load_flow(copy).raise_for_errors().digest == digest
    text = FULL.read_text("utf-8")
    assert load_flow_text(text).raise_for_errors().digest == digest
    assert load_flow_text(text, "other-name").raise_for_errors().digest == digest
    bom = tmp_path / "bom.flow.yaml"
    bom.write_bytes(b"\xef\xbb\xbf" + FULL.read_bytes())
    assert load_flow(bom).raise_for_errors().digest == digest


def test_any_edit_changes_the_digest() -> None:
    text = FULL.read_text("utf-8")
    digest = load_flow_text(text).raise_for_errors().digest
    edits = [
        text + "# a comment\n",
        text.replace("Got {{ employee_id }}", "Got {{ employee_id }}!"),
        text.replace("\n", "\r\n"),
    ]
    for edited in edits:
        assert edited != text
        assert load_flow_text(edited).raise_for_errors().digest != digest


def test_another_process_with_another_hash_seed_computes_the_same_digest() -> None:
    script = (
        "import sys\n"
        "from ucwa_flow.flow import load_flow\n"
        "print(load_flow(sys.argv[1]).raise_for_errors().digest)\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(FULL)],
        capture_output=True,
        text=True,
        env=env,
        timeout=WAIT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == load_flow(FULL).raise_for_errors().digest
