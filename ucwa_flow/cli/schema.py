"""``ucwa-flow schema [flow|deploy|test]``: print a JSON Schema (draft 2020-12).

``flow`` (the default) prints the flow schema, byte-identical to
``schemas/flow.schema.json``; ``deploy`` the deployment file's, identical to
``schemas/deploy.schema.json``; ``test`` the conversation test script's, identical to
``schemas/test.schema.json``. Editors that use the YAML language server pick them up from
a file's first line: ``# yaml-language-server: $schema=../schemas/flow.schema.json``.
"""

from __future__ import annotations

import click

__all__ = ["command"]


@click.command("schema")
@click.argument("which", type=click.Choice(["flow", "deploy", "test"]), default="flow")
def command(which: str) -> None:
    """Print the flow JSON Schema (or, with `deploy`, the deployment file's; with `test`,
    the test script's)."""
    if which == "deploy":
        from ucwa_flow.deploy._schema import deploy_schema_text

        click.echo(deploy_schema_text(), nl=False)
        return
    if which == "test":
        from ucwa_flow.testing._schema import schema_text as test_schema_text

        click.echo(test_schema_text(), nl=False)
        return
    from ucwa_flow.flow._schema import schema_text

    click.echo(schema_text(), nl=False)
