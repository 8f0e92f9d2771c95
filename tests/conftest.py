"""Session-wide settings of the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from typing import Any

import pytest

#: The tests that take longest, with about how many seconds each took in a whole run on two
#: cores (three workers, a load average of 3 to 9): a node id or the start of one (a module,
#: a parametrized test's name without its id; each test it names counts that much). Only
#: their order and sizes relative to each other matter, for :func:`pytest_collection_modifyitems`.
LONGEST: tuple[tuple[str, float], ...] = (
    ("tests/e2e/test_failover.py::test_three_workers_survive_a_kill_and_a_freeze", 78),
    ("tests/e2e/test_kill.py::", 58),
    ("tests/e2e/test_serve.py::test_overload_serves_the_limit", 25),
    ("tests/flow/test_flow_all_errors.py::test_10000_mutations", 24),
    ("tests/e2e/test_load.py::", 22),
    ("tests/store/test_sqlite_file.py::test_the_wal_starts_over", 16),
    ("tests/service/test_workers.py::test_a_paused_worker_is_taken_over", 12),
    ("tests/e2e/test_soak.py::", 10),
    ("tests/testing/explore/test_explore.py::test_every_example_flow_is_explored", 6),
)


def pytest_configure(config: pytest.Config) -> None:
    """Let the suite's child processes take Ctrl-C as a person's terminal gives it.

    A shell starts a background job (``pytest &``, ``nohup``, CI runners) with SIGINT
    ignored, and an ignored signal stays ignored across ``exec``: a ``ucwa-flow run`` that
    a test stops with SIGINT (or a ``^C`` typed on its terminal) would then never stop.
    A Python handler is reset to the default in a child, so installing one here gives
    every child the disposition an interactive user's program has.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    # before any test module is imported: environments captured at import time get it too
    # (a test's own folder replaces it for the test: _private_state_home)
    folder = tempfile.mkdtemp(prefix="ucwa-flow-tests-state-")
    config.add_cleanup(lambda: shutil.rmtree(folder, ignore_errors=True))
    os.environ["XDG_STATE_HOME"] = folder
    _compiled_once()


def _compiled_once() -> None:
    """Under ``PYTHONDONTWRITEBYTECODE``, compile each module once, not in every process.

    With it set (some shells and sandboxes do), every pytest-xdist worker rewrote and compiled
    every test module again (5 to 6 s of CPU each), and every ``ucwa-flow`` process the tests
    start (hundreds) compiled the package again (0.2 s of CPU each). The wish behind it, no
    ``__pycache__`` folders in the checkout, is kept: the bytecode goes to a folder of the
    user's own under the temporary directory (``sys.pycache_prefix``, for this process and
    through ``PYTHONPYCACHEPREFIX`` for its children), checked against the source as always.
    """
    if not sys.dont_write_bytecode or sys.pycache_prefix is not None:
        return
    prefix = os.path.join(tempfile.gettempdir(), f"ucwa-flow-tests-pycache-{os.getuid()}")
    sys.pycache_prefix = prefix
    sys.dont_write_bytecode = False
    os.environ["PYTHONPYCACHEPREFIX"] = prefix
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


#: the ``--dist`` mode, told to each worker (whose own option says ``no``)
_DIST = "ucwa_flow_dist"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's hook, in the main process: tell a worker how tests are dealt out."""
    node.workerinput[_DIST] = node.config.getoption("dist")


def _weight(item: pytest.Item) -> float:
    return next((w for start, w in LONGEST if item.nodeid.startswith(start)), 0.0)


def _shares(count: int, workers: int) -> list[int]:
    """How many of ``count`` tests each worker is given at first by ``--dist worksteal``:
    pytest-xdist hands out the collection in ``workers`` consecutive slices, each of the
    tests still undealt divided by the workers still without any (``WorkStealingScheduling``).
    """
    shares: list[int] = []
    for k in range(workers):
        shares.append((count - sum(shares)) // (workers - k))
    return shares


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The :data:`LONGEST` tests first, spread over the workers; the others as collected.

    Under ``--dist worksteal`` each worker starts on a slice of the collection in order
    (:func:`_shares`) and a worker that runs out takes the far end of another's queue. The
    long tests all at the front (as they once were) all went to the first worker, which ran
    them one after another (about five minutes) while the others shared the rest. So each
    long test, the longest first, goes to the front of the slice that has the least of them
    so far (longest processing time first), and the short tests fill the slices in their
    order, keeping a module's tests together. Each worker collects and sorts the same way,
    so they agree on the order. Without workers, or another ``--dist``: the long tests
    first, the longest first.
    """
    long = sorted((i for i in items if _weight(i) > 0), key=_weight, reverse=True)
    short = [i for i in items if _weight(i) == 0]
    given: dict[str, Any] = getattr(config, "workerinput", {})
    workers = int(given.get("workercount", 1))
    if workers < 2 or given.get(_DIST) != "worksteal":
        items[:] = long + short
        return
    fronts: list[list[pytest.Item]] = [[] for _ in range(workers)]
    loads = [0.0] * workers
    for item in long:
        k = loads.index(min(loads))
        fronts[k].append(item)
        loads[k] += _weight(item)
    ordered: list[pytest.Item] = []
    rest = iter(short)
    for front, share in zip(fronts, _shares(len(items), workers), strict=True):
        ordered += front
        ordered += [next(rest) for _ in range(max(0, share - len(front)))]
    ordered += list(rest)
    items[:] = ordered


@pytest.fixture(autouse=True)
def _private_state_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every test, and every process it starts, keeps default stores in a folder of its own.

    ``ucwa-flow run`` and ``serve`` on a real server keep conversations under
    ``$XDG_STATE_HOME/ucwa-flow`` by default. Without this a test that runs them would write
    into the user's home, and tests (or branches) would share one store: a store left by one
    run changes what the next one sees.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
