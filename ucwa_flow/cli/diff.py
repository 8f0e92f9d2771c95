"""``ucwa-flow diff``: the semantic differences of two versions of a flow.

``ucwa-flow diff OLD NEW`` compares two files; ``ucwa-flow diff FILE --rev REV`` compares
FILE at a git revision with the working copy, ``--rev A --rev B`` two revisions. The
report lists flow-wide changes, then states added, removed, renamed (by similarity of
content) and changed, with each handler, timeout, no-match rung, text and goto that
differs (``ucwa_flow.diff``). ``--format json`` is one JSON document, ``--format html``
one self-contained page with a merged graph (added parts green, removed red, changed
amber) and the same list; without ``--format``, ``-o`` names the format by its extension
(``.html``, ``.htm``, ``.json``; anything else is text).

Exit status: 0 when the versions do not differ, 1 when they do, 2 when a version cannot
be read or has errors (its diagnostics are printed as ``validate`` prints them).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

if TYPE_CHECKING:
    from ucwa_flow.flow import Flow, LoadResult

__all__ = ["command"]

# -o review.html writes the page, as `graph -o x.html` does (it wrote the text list)
_BY_SUFFIX = {".html": "html", ".htm": "html", ".json": "json"}


@click.command("diff")
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="[NEW]", required=False)
@click.option(
    "--rev",
    "revisions",
    multiple=True,
    metavar="REV",
    help="Compare OLD at this git revision with the working copy; twice: two revisions.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(("text", "json", "html")),
    default=None,
    help="A text list, one JSON document, or a self-contained HTML page with the graph "
    "[default: from OUT's extension (.html, .htm, .json), else text].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of stdout.",
)
def command(
    old: str,
    new: str | None,
    revisions: tuple[str, ...],
    output_format: str | None,
    output: str | None,
) -> None:
    """Show what changed between two versions of a flow (states, handlers, texts...).

    OLD NEW compares two files; FILE --rev REV compares FILE at a git revision with the
    working copy; FILE --rev A --rev B compares two revisions. Exit status 0: no
    difference, 1: differences, 2: a version cannot be read or has errors.
    """
    from ucwa_flow.diff import diff_flows, format_text, render_diff_html

    if revisions and new is not None:
        raise click.UsageError("give either OLD NEW, or one FILE with --rev")
    if not revisions and new is None:
        raise click.UsageError("give two flow files (OLD NEW), or one FILE with --rev REV")
    if len(revisions) > 2:
        raise click.UsageError("--rev is given at most twice")
    if output is not None:
        _refuse_overwriting((old, new or ""), output)
    if revisions:
        old_flow = _load_revision(old, revisions[0])
        new_flow = _load_revision(old, revisions[1]) if len(revisions) == 2 else _load_file(old)
    else:
        old_flow, new_flow = _load_file(old), _load_file(new or "")
    diff = diff_flows(old_flow, new_flow)
    output_format = output_format or _BY_SUFFIX.get(Path(output or "").suffix.lower(), "text")
    if output_format == "json":
        content = json.dumps(diff.to_json(), indent=2, ensure_ascii=False) + "\n"
    elif output_format == "html":
        content = render_diff_html(old_flow, new_flow, diff)
    else:
        content = format_text(diff)
    if output is None:
        click.echo(content, nl=False)
    else:
        try:
            Path(output).write_text(content, encoding="utf-8")
        except OSError as exc:
            _fail(f"{output}: cannot write: {exc.strerror or exc}")
    sys.exit(1 if diff.has_differences else 0)


def _refuse_overwriting(inputs: tuple[str, ...], output: str) -> None:
    """A usage error for ``-o`` naming a flow being compared (it was replaced by the
    report)."""
    from ucwa_flow.flow import resolve_flow_path

    for path in inputs:
        try:
            same = Path(output).samefile(resolve_flow_path(path))
        except OSError:  # either is missing: nothing to overwrite, or the load says why
            continue
        if same:
            raise click.UsageError(
                f"-o {output} is a flow being compared: write the report elsewhere"
            )
    from ucwa_flow.cli._flow_loading import refuse_yaml_output

    refuse_yaml_output(output, "the report")


def _load_file(path: str) -> Flow:
    from ucwa_flow.flow import FlowFileError, load_flow

    try:
        result = load_flow(path)
    except FlowFileError as exc:
        _fail(str(exc))
    return _checked(result, path)


def _load_revision(path: str, revision: str) -> Flow:
    from ucwa_flow.cli._git import read_at_revision
    from ucwa_flow.errors import UnreadableFileError
    from ucwa_flow.flow import load_flow_text, resolve_flow_path

    resolved = resolve_flow_path(path)
    try:
        text = read_at_revision(resolved, revision)
    except UnreadableFileError as exc:
        _fail(str(exc))
    name = f"{resolved}@{revision}"
    flow = _checked(load_flow_text(text, name), name)
    parts = {state.location.file for state in flow.states.values()} - {name}
    if parts or flow.subflows:
        # its includes and sub-flows would be read from the working copy, not the revision
        _fail(
            f"{name}: includes or calls other files; --rev compares flows of one file only "
            "(check the revision out into a folder and compare the two flow files)"
        )
    return flow


def _checked(result: LoadResult, name: str) -> Flow:
    if result.flow is None and not result.errors:
        from ucwa_flow.cli._flow_loading import part_of_a_flow

        _fail(part_of_a_flow(name, "compare"))
    if result.flow is None:
        for diagnostic in result.diagnostics:
            click.echo(str(diagnostic), err=True)
        _fail(f"{name}: not compared, the flow has {len(result.errors)} error(s)")
    return result.flow


def _fail(message: str) -> NoReturn:
    click.echo(f"ucwa-flow: error: {message}", err=True)
    sys.exit(2)
