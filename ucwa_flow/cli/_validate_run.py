"""What ``ucwa-flow validate`` does, without the command line parser.

:func:`run` checks the files and prints the report; ``validate.py`` wraps it in a
:class:`click.Command`. :func:`parse` reads the command's common arguments
(``validate [-q] [--format text|json] FILE...``) so that :func:`ucwa_flow.cli.main` can
run it without importing click (about 13 ms of a run that takes 0.2 s): anything else
(``--help``, an unknown option, a bad value, no file) gets ``None`` and goes to click,
which words the usage error or prints the help. The report goes through ``click.echo``
whenever there is something to report; only the summary of a clean run, plain ASCII, is
written without it.
"""

from __future__ import annotations

import contextlib
import gc
import json
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from ucwa_flow.errors import UnreadableFileError

if TYPE_CHECKING:
    from ucwa_flow.flow import Diagnostic

__all__ = ["parse", "run"]

_FORMATS = ("text", "json")


def parse(args: list[str]) -> tuple[tuple[str, ...], str, bool] | None:
    """``(files, output, quiet)`` from the arguments after ``validate``, as click reads
    them; ``None`` for anything this does not read (click then does)."""
    files: list[str] = []
    output, quiet = "text", False
    rest = iter(args)
    for arg in rest:
        if arg == "--":
            files.extend(rest)
        elif arg in ("-q", "--quiet"):
            quiet = True
        elif arg == "--format":
            output = next(rest, "")
            if output not in _FORMATS:
                return None
        elif arg.startswith("--format="):
            output = arg.removeprefix("--format=")
            if output not in _FORMATS:
                return None
        elif arg.startswith("-"):
            return None  # --help, -h, an unknown or combined option, a file named "-"
        else:
            files.append(arg)
    if not files:
        return None
    return tuple(files), output, quiet


def run(files: tuple[str, ...], output: str, quiet: bool) -> int:
    """Check ``files`` and print the report; the exit status (0, 1 or 2)."""
    from ucwa_flow.flow import FlowFileError, load_flow

    diagnostics: list[Diagnostic] = []
    unreadable: list[str] = []
    expanded: list[str] = []
    for given in files:
        try:
            expanded += _expand(given)
        except UnreadableFileError as exc:
            unreadable.append(str(exc))
    files = tuple(expanded)
    for file in files:
        try:
            with _without_cyclic_gc():
                if _is_deployment_file(file):
                    diagnostics.extend(_deployment(file))
                elif file.endswith(".test.yaml"):  # named: a folder means its flows
                    diagnostics.extend(_test_script(file))
                else:
                    diagnostics.extend(load_flow(file).diagnostics)
        except (FlowFileError, UnreadableFileError) as exc:
            unreadable.append(str(exc))
    diagnostics = _once(diagnostics)
    errors = sum(1 for d in diagnostics if d.is_error)
    echo = _echo_function(output == "json" or bool(diagnostics or unreadable))
    if output == "json":
        report = {
            "files": len(files),
            "errors": errors,
            "warnings": len(diagnostics) - errors,
            "unreadable": unreadable,
            "diagnostics": [d.to_json() for d in diagnostics],
        }
        echo(json.dumps(report, indent=2))
    else:
        for diagnostic in diagnostics:
            echo(str(diagnostic))
        for message in unreadable:
            echo(f"ucwa-flow: error: {message}", err=True)
        if not quiet and not unreadable:
            warnings = len(diagnostics) - errors
            summary = f"{len(files)} file(s) checked: {errors} error(s), {warnings} warning(s)"
            echo(summary, err=True)
    return 2 if unreadable else 1 if errors else 0


def _echo_function(reporting: bool) -> Callable[..., None]:
    """``click.echo`` when there is a report to print (it words any text as before);
    for the summary of a clean run (ASCII), a plain write to stderr."""
    if reporting:
        import click

        return click.echo
    return _plain_echo


def _plain_echo(message: str, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(message + "\n")
    stream.flush()


@contextlib.contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """No cyclic garbage collection while one file is checked.

    Loading a flow builds a few hundred thousand objects that all stay alive (the
    document, its positions, the model), and almost no cycles; the collector still walked
    the growing heap again and again: a fifth of the time on a 5,000-state flow.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _expand(given: str) -> list[str]:
    """``given``, or the flows and parts of flows below it when it is a folder."""
    from ucwa_flow.flow._folders import expand_folder

    return expand_folder(given, parts=True)


def _once(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Each problem once, however many files found it: a sub-flow's (or included part's)
    problem is found through each flow that calls it and again checked on its own, and a
    flow's through a deployment file and on its own. A copy that only adds where it was
    called or included from (``(called at one.flow.yaml:5:29)``) goes when the file's
    own check found it too; copies from different callers alone stay, each naming its
    caller."""
    import dataclasses
    import re

    site = re.compile(r" \((?:called|included) at ")
    unique = list(dict.fromkeys(diagnostics))
    present = set(unique)
    kept = []
    for diagnostic in unique:
        message = diagnostic.message
        found = list(site.finditer(message)) if message.endswith(")") else []
        bare = message[: found[-1].start()] if found else message  # a path may hold "("
        if bare != message and dataclasses.replace(diagnostic, message=bare) in present:
            continue
        kept.append(diagnostic)
    return kept


def _is_deployment_file(file: str) -> bool:
    """Whether ``file`` is a deployment file; the deployment loader (which brings in the
    store and the service) is imported only for a file that may be one."""
    from pathlib import Path

    from ucwa_flow._deploy_sniff import deployment_by_name, may_be_deployment
    from ucwa_flow.flow import resolve_flow_path

    try:
        text = Path(file).read_bytes().decode("utf-8-sig")
    except OSError:  # missing, say: its name tells what it was meant to be (X.flow.yaml
        # beside a missing X.yaml is that flow)
        return deployment_by_name(file) and resolve_flow_path(file) == Path(file)
    except UnicodeDecodeError:
        return False  # not one; loading it as a flow says why it cannot be read
    if not may_be_deployment(text):  # the content cannot tell when it holds nothing
        return deployment_by_name(file) and _holds_nothing(text, file)
    from ucwa_flow.deploy import is_deployment_file

    return is_deployment_file(file)


def _holds_nothing(text: str, file: str) -> bool:
    """Whether YAML reads ``text`` as no value: empty, only comments, only ``~``."""
    from ucwa_flow.flow._loader import read_document

    document, problems = read_document(text, file, kind="deployment")
    return document is None and any(p.code == "Y007" for p in problems)


def _test_script(file: str) -> list[Diagnostic]:
    """The problems of a conversation test script, as ``ucwa-flow test`` reports them
    before it runs anything (it was checked as a flow: "unknown key 'flow'")."""
    from ucwa_flow.testing import ScriptFileError, load_script

    try:
        return load_script(file).diagnostics
    except ScriptFileError as exc:
        raise UnreadableFileError(str(exc)) from None


def _deployment(file: str) -> list[Diagnostic]:
    """The problems of a deployment file, then (if it has none) of the flows it names."""
    from ucwa_flow.deploy import DeploymentError, deployment_flow_diagnostics, load_deployment

    try:
        deployment = load_deployment(file)
    except DeploymentError as exc:
        if not exc.diagnostics:  # cannot be read at all
            raise UnreadableFileError(str(exc)) from None
        return exc.diagnostics
    return deployment_flow_diagnostics(deployment)
