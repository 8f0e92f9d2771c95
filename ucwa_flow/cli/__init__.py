"""The ``ucwa-flow`` command line.

Each subcommand lives in its own module of this package and is imported only when it is
invoked, so ``ucwa-flow validate`` does not pay for starting the HTTP stack. A module
registers by exporting a :class:`click.Command` named ``command``; :data:`COMMANDS` maps
subcommand names to those modules.

:func:`main` is the console-script entry point. It turns every deliberate error
(:class:`~ucwa_flow.errors.UcwaFlowError`) into one line on stderr and a non-zero exit,
never a traceback: 2 for a file that cannot be read (as ``validate``, ``graph`` and ``test``
report theirs), 1 otherwise; Ctrl-C exits with status 130.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from ucwa_flow.errors import UcwaFlowError, UnreadableFileError

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
    "schema": ("ucwa_flow.cli.schema", "Print the flow (or deployment) JSON Schema."),
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


class _LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name, (module, _) in COMMANDS.items() if _available(module))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None or not _available(entry[0]):
            return None
        command = importlib.import_module(entry[0]).command
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _available(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ucwa-flow", prog_name="ucwa-flow")
def cli() -> None:
    """Declarative state-machine bots for Skype for Business (UCWA)."""


def main(argv: list[str] | None = None) -> Any:
    """Console entry point: run the CLI, and turn deliberate errors into one line."""
    try:
        return cli.main(args=argv, prog_name="ucwa-flow", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        sys.exit(130)
    except UcwaFlowError as exc:
        click.echo(f"ucwa-flow: error: {exc}", err=True)
        sys.exit(2 if isinstance(exc, UnreadableFileError) else 1)
