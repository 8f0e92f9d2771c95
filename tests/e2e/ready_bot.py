"""``python -m tests.e2e.ready_bot ARGS``: ``python -m ucwa_flow ARGS`` once a line comes
on its standard input (an end of file instead: it was not needed, and it exits).

The kill tests keep one such process waiting beside the running bot, with what ``run``
imports on its way imported already (the flow's loader and templates, both stores, the
webhook client's httpcore: a third of a second that each restart would pay again), so that
a restart after a kill starts at once. Started from the tests' zygote (``tests/zygote``),
it has all of that imported before it is even forked.
"""

from __future__ import annotations

import runpy
import sys

import httpcore  # noqa: F401

import ucwa_flow.cli._group
import ucwa_flow.cli.run
import ucwa_flow.flow._builder
import ucwa_flow.flow._jinja_env
import ucwa_flow.store._postgres
import ucwa_flow.store._sqlite  # noqa: F401


def main() -> None:
    if not sys.stdin.readline():
        sys.exit(0)
    sys.argv[0] = "ucwa-flow"
    runpy.run_module("ucwa_flow", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
