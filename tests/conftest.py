"""Session-wide settings of the test suite."""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile

import pytest

from tests import zygote

#: The tests that take longest (tens of seconds on two cores), run first: one of them started
#: last would keep one core busy for that long while the other has nothing left to do.
#: A node id or the start of one (a module, a parametrized test's name without its id).
LONGEST = (
    "tests/e2e/test_kill.py::",
    "tests/e2e/test_failover.py::test_three_workers_survive_a_kill_and_a_freeze",
    "tests/service/test_workers.py::test_a_paused_worker_is_taken_over",
    "tests/flow/test_flow_all_errors.py::test_10000_mutations",
    "tests/e2e/test_load.py::",
    "tests/e2e/test_serve.py::test_overload_serves_the_limit",
    "tests/testing/explore/test_explore.py::test_every_example_flow_is_explored",
    "tests/e2e/test_soak.py::",
    "tests/replay/test_recorded.py::",
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
    zygote.install()


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The :data:`LONGEST` tests first, in their order; the others after them, as collected.

    Every pytest-xdist worker collects and sorts the same way, so they agree on the order.
    """

    def rank(item: pytest.Item) -> int:
        return next(
            (i for i, start in enumerate(LONGEST) if item.nodeid.startswith(start)), len(LONGEST)
        )

    items.sort(key=rank)


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
