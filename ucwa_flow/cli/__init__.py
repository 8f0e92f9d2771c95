"""The ``ucwa-flow`` command line.

Each subcommand lives in its own module of this package and is imported only when it is
invoked, so ``ucwa-flow validate`` does not pay for starting the HTTP stack. A module
registers by exporting a :class:`click.Command` named ``command``; :data:`COMMANDS` maps
subcommand names to those modules. The group itself (``cli``, in ``_group``) and click are
imported on first use: ``ucwa-flow validate [-q] [--format F] FILE...`` runs without them.

:func:`main` is the console-script entry point. It turns every deliberate error
(:class:`~ucwa_flow.errors.UcwaFlowError`) into one line on stderr and a non-zero exit,
never a traceback: 2 for a file that cannot be read (as ``validate``, ``graph`` and ``test``
report theirs), 1 otherwise; Ctrl-C exits with status 130. For ``run`` and ``serve`` it
holds SIGTERM from its first line (:mod:`ucwa_flow.cli._early_term`).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

from ucwa_flow.errors import UcwaFlowError, UnreadableFileError

if TYPE_CHECKING:
    from ucwa_flow.cli._group import cli

__all__ = ["COMMANDS", "cli", "main"]

#: subcommand name -> (module, one-line help shown by ``ucwa-flow --help``)
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("ucwa_flow.cli.run", "Run a flow as a bot (on the embedded simulator by default)."),
    "serve": (
        "ucwa_flow.cli.serve",
        "Serve every bot account of a deployment file (a long-lived service).",
    ),
    "validate": ("ucwa_flow.cli.validate", "Check flow and deploy files, report every problem."),
    "graph": ("ucwa_flow.cli.graph", "Draw a flow or a UCWA lifecycle as a graph."),
    "diff": ("ucwa_flow.cli.diff", "Show what changed between two versions of a flow."),
    "review": (
        "ucwa_flow.cli.review",
        "Review flows in the browser: graph, source, coverage, live conversations.",
    ),
    "schema": ("ucwa_flow.cli.schema", "Print the flow, deployment or test script JSON Schema."),
    "test": ("ucwa_flow.cli.test", "Run conversation test scripts against flows."),
    "replay": (
        "ucwa_flow.cli.replay",
        "Replay recorded conversations against a flow and show what changed.",
    ),
    "simulate": ("ucwa_flow.cli.simulate", "Serve the simulated Skype for Business server."),
    "transcripts": (
        "ucwa_flow.cli.transcripts",
        "List, show, export and prune stored conversations.",
    ),
    "workers": (
        "ucwa_flow.cli.workers",
        "List the workers sharing a PostgreSQL store and the accounts each owns.",
    ),
}


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI, and turn deliberate errors into one line."""
    # httpx imports its own command line (rich, pygments: 50-100 ms of CPU) whenever they
    # are installed, and rich is (replay's progress bar); this process never runs httpx's
    # command line, so it is marked absent, and httpx defines its stand-in for it instead
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["run"], ["serve"]):  # a SIGTERM from here on is their clean stop
        from ucwa_flow.cli import _early_term
        from ucwa_flow.cli._group import run_click

        previous = _early_term.hold()
        try:
            return run_click(argv)
        finally:
            _early_term.release(previous)
    if args[:1] == ["validate"]:
        from ucwa_flow.cli._validate_run import parse, run

        parsed = parse(args[1:])
        if parsed is not None:  # the common case, without click (see _validate_run)
            try:
                sys.exit(run(*parsed))
            except KeyboardInterrupt:
                sys.exit(130)
            except BrokenPipeError:  # `validate ... | head`: quiet, as click's main is
                sys.stdout = None  # nothing left to flush
                sys.exit(1)
            except UcwaFlowError as exc:
                _fail(exc)
    from ucwa_flow.cli._group import run_click

    return run_click(argv)


def _fail(exc: UcwaFlowError) -> NoReturn:
    import click

    click.echo(f"ucwa-flow: error: {exc}", err=True)
    sys.exit(2 if isinstance(exc, UnreadableFileError) else 1)


def __getattr__(name: str) -> Any:
    if name == "cli":
        from ucwa_flow.cli._group import cli

        return cli
    raise AttributeError(f"module 'ucwa_flow.cli' has no attribute {name!r}")
