"""A value a flow sets cannot nest without bound: ``ucwa-flow run`` as a person runs it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_cli import ucwa_flow
from tests.guards import WAIT

#: each message wraps ``v`` in 20 more lists: 60 levels after three messages, then a
#: fourth would be 80, deeper than the 64 a value may nest
GROW = """\
version: 1
name: grow
start: a
variables: {v: 0}
settings: {idle_timeout: 1h}
states:
  a:
    messages:
      - any: true
        do:
          - set: {v: "{{ OPEN v CLOSE }}"}
          - say: "ok {{ v | tojson | length }}"
""".replace("OPEN", "[" * 20).replace("CLOSE", "]" * 20)


@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
def test_a_set_nested_too_deeply_fails_and_the_conversation_goes_on(
    tmp_path: Path, durable: bool
) -> None:
    """The ``set`` fails as one whose template fails does: one line, the variable as it
    was, the next action run. Before, ``v`` grew on; with ``--state`` the store's commit
    (``copy.deepcopy``) ended the bot in a RecursionError traceback after ~490 levels."""
    flow = tmp_path / "grow.flow.yaml"
    flow.write_text(GROW, encoding="utf-8")
    state = ["--state", str(tmp_path / "s.db")] if durable else []
    done = ucwa_flow("run", str(flow), *state, stdin="m\n" * 40, timeout=4 * WAIT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("bot: ")]
    deepest = len("[" * 60 + "0" + "]" * 60)
    assert said == ["bot: ok 41", "bot: ok 81"] + [f"bot: ok {deepest}"] * 38
    refused = [line for line in done.stdout.splitlines() if "nested too deeply" in line]
    assert len(refused) == 37
    assert refused[0].startswith(f"! {flow}:11:")
    assert "the value is nested too deeply (more than 64 levels)" in refused[0]


#: what a template can make that is no JSON data: Jinja's own helpers
ODD = """\
version: 1
name: odd
start: a
variables: {v: 0}
settings: {idle_timeout: 1h}
states:
  a:
    messages:
      - any: true
        do:
          - set: {v: "{{ MAKE }}"}
          - say: "ok {{ v }}"
"""


@pytest.mark.parametrize("make", ["namespace(x=1)", "range(3)", "[cycler(1, 2)]"])
@pytest.mark.parametrize("durable", [False, True], ids=["memory", "sqlite"])
def test_a_set_of_what_is_no_json_data_fails_and_the_conversation_goes_on(
    tmp_path: Path, durable: bool, make: str
) -> None:
    """Before, the bot ended: a ``copy.Error`` traceback (``namespace()``), or "cannot be
    stored: it is not JSON data" (``range(3)``), exit status 1."""
    flow = tmp_path / "odd.flow.yaml"
    flow.write_text(ODD.replace("MAKE", make), encoding="utf-8")
    state = ["--state", str(tmp_path / "s.db")] if durable else []
    done = ucwa_flow("run", str(flow), *state, stdin="m\nm\n", timeout=2 * WAIT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stdout + done.stderr
    said = [line for line in done.stdout.splitlines() if line.startswith("bot: ")]
    assert said == ["bot: ok 0", "bot: ok 0"]
    refused = [line for line in done.stdout.splitlines() if "not JSON data" in line]
    assert len(refused) == 2, done.stdout
