"""The click group of the ``ucwa-flow`` command line (see :mod:`ucwa_flow.cli`).

Each subcommand's module is imported only when that subcommand is invoked (or listed).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import Any

import click

from ucwa_flow.cli import COMMANDS
from ucwa_flow.errors import UcwaFlowError, UnreadableFileError

__all__ = ["cli", "run_click"]


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


def run_click(argv: list[str] | None = None) -> Any:
    """Run the CLI through click, and turn deliberate errors into one line."""
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
