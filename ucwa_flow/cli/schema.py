"""``ucwa-flow schema``: print the flow JSON Schema (draft 2020-12).

The output is byte-identical to ``schemas/flow.schema.json``; editors that use the YAML
language server pick it up from a flow's first line:
``# yaml-language-server: $schema=../schemas/flow.schema.json``.
"""

from __future__ import annotations

import click

__all__ = ["command"]


@click.command("schema")
def command() -> None:
    """Print the flow JSON Schema."""
    from ucwa_flow.flow._schema import schema_text

    click.echo(schema_text(), nl=False)
