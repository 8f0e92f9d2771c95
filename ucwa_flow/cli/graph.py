"""``ucwa-flow graph``: draw a flow, or a UCWA lifecycle, for review.

``ucwa-flow graph FLOW [--format mermaid|dot|svg|png|html] [-o OUT]`` draws the states
and transitions of a flow file; ``ucwa-flow graph --lifecycle conversation|invitation|messaging``
draws one of the lifecycle machines that track UCWA conversations.

Mermaid and DOT are plain text. SVG and PNG use Graphviz's ``dot`` when it is on ``PATH``
and the built-in layout otherwise (``--engine graphviz|builtin`` chooses); HTML is one
self-contained page (the built-in SVG inline, a legend, no script). None of them needs
a system package or the network. The output goes to stdout unless ``-o`` names a file;
the format defaults to the file's extension (``.mmd``, ``.dot``/``.gv``, ``.svg``,
``.png``, ``.html``/``.htm``), else Mermaid; an image or document format it cannot draw
(``.jpg``, ``.pdf`` ...) is a usage error rather than a file of Mermaid text. A PNG is
kept within 16384 pixels a side and 25 megapixels: a bigger picture is drawn scaled down,
with one line on stderr that says so (SVG has no such limit).

A flow with errors is not drawn: its diagnostics are printed to stderr exactly as
``ucwa-flow validate`` prints them, and the exit status is 1 (2 when the file cannot be
read).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, NoReturn

import click

__all__ = ["LIFECYCLES", "command"]

FORMATS = ("mermaid", "dot", "svg", "png", "html")
_BY_SUFFIX = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot"}
_BY_SUFFIX |= {".svg": "svg", ".png": "png", ".html": "html", ".htm": "html"}
_NOT_DRAWN = {".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".pdf", ".eps"}

#: the lifecycles --lifecycle draws (:data:`ucwa_flow.graph.LIFECYCLES`, kept here too so
#: that the CLI starts without importing the graph package)
LIFECYCLES = ("conversation", "invitation", "messaging")


@click.command("graph")
@click.argument("flow_file", metavar="FLOW", required=False, type=click.Path())
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default=None,
    help="Output format [default: from OUT's extension, else mermaid].",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    default=None,
    help="Write to this file instead of stdout.",
)
@click.option(
    "--engine",
    type=click.Choice(("auto", "graphviz", "builtin")),
    default="auto",
    show_default=True,
    help="Who draws svg/png: Graphviz's dot if on PATH (auto), dot only, or the built-in layout.",
)
@click.option(
    "--lifecycle",
    type=click.Choice(sorted(LIFECYCLES)),
    default=None,
    help="Draw a UCWA lifecycle machine instead of a flow.",
)
def command(
    flow_file: str | None,
    output_format: str | None,
    output: str | None,
    engine: str,
    lifecycle: str | None,
) -> None:
    """Draw a flow's states and transitions (or a UCWA lifecycle) as a graph.

    Edges are labelled with their triggers: patterns, words and choices, timeouts
    ("after 2m"), no-match steps, global commands (from "any state"), invitation and
    webhook outcomes, "caller left".

    FLOW may be written X.yaml for X.flow.yaml.
    """
    if (flow_file is None) == (lifecycle is None):
        raise click.UsageError("give either a FLOW file or --lifecycle NAME (one of them)")
    fmt = output_format or _format_for(output)
    if output is not None and flow_file is not None:
        _refuse_overwriting(flow_file, output)
    graph = _lifecycle_graph(lifecycle) if lifecycle else _flow_graph(flow_file or "")
    if fmt == "png" and output is None and sys.stdout.isatty():
        raise click.UsageError("PNG is binary: write it to a file with -o FILE.png")
    content = _render(graph, fmt, engine)
    _write(content, output)


def _format_for(output: str | None) -> str:
    if output is None:
        return "mermaid"
    suffix = Path(output).suffix.lower()
    if suffix in _NOT_DRAWN:
        raise click.UsageError(
            f"{output}: cannot draw {suffix}; write .svg, .png, .html, .dot or .mmd "
            "(or give --format)"
        )
    return _BY_SUFFIX.get(suffix, "mermaid")


def _refuse_overwriting(flow_file: str, output: str) -> None:
    """A usage error for ``-o`` naming the flow file itself (it was replaced by the graph)."""
    from ucwa_flow.flow import resolve_flow_path

    try:
        same = Path(output).samefile(resolve_flow_path(flow_file))
    except OSError:  # either is missing: nothing to overwrite, or the load says why
        return
    if same:
        raise click.UsageError(f"-o {output} is the flow file itself: write the graph elsewhere")
    from ucwa_flow.cli._flow_loading import refuse_yaml_output

    refuse_yaml_output(output, "the graph")


def _flow_graph(path: str) -> Any:
    from ucwa_flow.flow import FlowFileError, load_flow
    from ucwa_flow.graph import extract_flow

    try:
        result = load_flow(path)
    except FlowFileError as exc:
        _fail(str(exc), status=2)
    for diagnostic in result.diagnostics:
        click.echo(str(diagnostic), err=True)
    if result.flow is None and not result.errors:
        from ucwa_flow.cli._flow_loading import part_of_a_flow

        _fail(part_of_a_flow(path, "draw"), status=1)
    if result.flow is None:
        errors = len(result.errors)
        _fail(f"{path}: not drawn, the flow has {errors} error(s)", status=1)
    return extract_flow(result.flow)


def _lifecycle_graph(name: str) -> Any:
    from ucwa_flow.graph import lifecycle_graph

    return lifecycle_graph(name)


def _render(graph: Any, fmt: str, engine: Any) -> str | bytes:
    from ucwa_flow.graph import (
        GraphvizError,
        render_dot,
        render_html,
        render_image,
        render_mermaid,
    )

    if fmt == "mermaid":
        return render_mermaid(graph)
    if fmt == "dot":
        return render_dot(graph)
    if fmt == "html":
        return render_html(graph)
    try:
        return render_image(graph, "svg" if fmt == "svg" else "png", engine=engine, notice=_note)
    except GraphvizError as exc:
        _fail(str(exc), status=1)


def _note(line: str) -> None:
    click.echo(f"ucwa-flow: note: {line}", err=True)


def _write(content: str | bytes, output: str | None) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        Path(output).write_bytes(data)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}", status=2)


def _fail(message: str, *, status: int) -> NoReturn:
    click.echo(f"ucwa-flow: error: {message}", err=True)
    sys.exit(status)
