"""Reading a deployment file: :func:`load_deployment`, and the flows it names.

The stages, each reporting every problem it finds, located at ``file:line:col``:

1. YAML, by the flow language's strict loader (:mod:`ucwa_flow.flow._loader`: positions,
   no duplicate keys, anchors, aliases or tags): ``Y`` codes. A YAML error stops here.
2. Literal secrets: ``password:`` in an account (``D103``) or ``token:`` in ``admin``
   (``D104``) is refused, and dropped so that it is reported once.
3. ``${NAME}`` substitution in string values (:mod:`ucwa_flow.deploy._substitute`):
   ``D101``, ``D102``.
4. The JSON Schema (:mod:`ucwa_flow.deploy._schema`): ``S`` codes, after a value that was
   one substitution and nothing else is read as the number or boolean the schema wants
   there, when its text is one. A schema error stops here: the later checks trust the
   shapes.
5. Meaning, and the model (:mod:`ucwa_flow.deploy._builder`): ``D105``-``D113``,
   ``D115``, ``D116``, ``D117``, ``D118``.

Any problem raises :class:`DeploymentError` with all of them. The flows themselves are
not loaded: :func:`check_deployment_flows` does that, for ``validate`` and for a reload.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ucwa_flow._deploy_sniff import (
    DEPLOYMENT_KEYS,
    FLOW_KEYS,
    deployment_by_keys,
    deployment_by_lines,
    may_be_deployment,
)
from ucwa_flow.deploy._builder import build_deployment
from ucwa_flow.deploy._errors import DeploymentError, DeploymentFileError, problem
from ucwa_flow.deploy._model import AccountSpec, Deployment, FlowSpec, SourceSpot
from ucwa_flow.deploy._schema import check_deploy_schema, typed
from ucwa_flow.deploy._substitute import substitute
from ucwa_flow.flow import (
    PART_SUFFIXES,
    Diagnostic,
    FlowFileError,
    LoadResult,
    Location,
    load_flow,
)
from ucwa_flow.flow._loader import Document, not_utf8, read_document

__all__ = [
    "DeploymentFlows",
    "check_deployment_flows",
    "deployment_flow_diagnostics",
    "is_deployment_file",
    "load_deployment",
    "load_deployment_flows",
]


def load_deployment(
    path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None
) -> Deployment:
    """Read, substitute, validate and check the deployment file at ``path``.

    ``environ`` is where ``${NAME}`` looks (default :data:`os.environ`). Raises
    :class:`DeploymentError` carrying every problem, or :class:`DeploymentFileError`
    (one line) when the file cannot be read at all.
    """
    source = Path(path)
    text = _read(source)
    document, found = read_document(text, str(source), kind="deployment")
    if document is None:
        raise DeploymentError(found)
    other = _other_kind(source, document.data)
    if other is not None:  # its keys would be a screenful of S001 "unknown key"
        raise DeploymentFileError(other)
    problems, refused = _refuse_literal_secrets(document)
    substitution = substitute(document, text, os.environ if environ is None else environ)
    problems += substitution.problems
    failed = {document.locate(where) for where in substitution.failed}
    typed(document, substitution.whole)  # max_conversations: ${MAX:-500} is a number
    schema_problems = _without_reported(check_deploy_schema(document), refused, failed)
    if schema_problems:
        raise DeploymentError(problems + schema_problems)
    deployment, meaning = build_deployment(document, source.resolve(), substitution.failed)
    problems += meaning
    if problems or deployment is None:
        raise DeploymentError(problems)
    return deployment


def _other_kind(source: Path, data: object) -> str | None:
    """The line for a flow or a test script given where a deployment file is expected."""
    if not isinstance(data, dict):
        return None
    keys = {key for key in data if isinstance(key, str)}
    if keys & DEPLOYMENT_KEYS:
        return None
    if {"flow", "scenarios"} <= keys:
        return (
            f"{source}: is a test script, not a deployment file: run it with "
            f"`ucwa-flow test {source}`"
        )
    if keys & FLOW_KEYS and source.name.endswith(PART_SUFFIXES):
        return (
            f"{source}: is a part of a flow, not a deployment file: name a flow that uses it "
            "in an account of a deployment file (docs/deploy.md)"
        )
    if keys & FLOW_KEYS:
        return (
            f"{source}: is a flow, not a deployment file: run it with `ucwa-flow run "
            f"{source}`, or name it in an account of a deployment file (docs/deploy.md)"
        )
    return None


def is_deployment_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a deployment file: YAML whose top level has ``accounts:`` (a
    flow never has), or a key only deployment files have (``store:``, ``server:``, ...)
    and none of a flow's. A file that cannot be read is not one; one whose YAML is broken
    is when its lines that start a top-level key say so."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    if not may_be_deployment(text):
        return False  # the common case, a flow: no second parse
    document, _ = read_document(text, str(path), kind="deployment")
    if document is None:  # broken YAML: report it as a deployment file if it says so
        return deployment_by_lines(text)
    return isinstance(document.data, dict) and deployment_by_keys(document.data)


@dataclass
class DeploymentFlows:
    """Every flow file a deployment names, loaded once however many accounts name it
    (``None``: it could not be read), and every diagnostic of them (see
    :func:`deployment_flow_diagnostics`)."""

    loaded: dict[Path, LoadResult | None] = field(default_factory=dict)
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        """The errors as ``file:line:col: CODE error: message`` lines (warnings left out)."""
        return [str(d) for d in self.diagnostics if d.is_error]


def load_deployment_flows(deployment: Deployment) -> DeploymentFlows:
    """Load every flow file ``deployment`` names, each once (see :class:`DeploymentFlows`)."""
    found = DeploymentFlows()
    for account in deployment.accounts:
        for spec in account.flows:
            if spec.path not in found.loaded:
                result = _load(spec)
                found.loaded[spec.path] = result if isinstance(result, LoadResult) else None
                found.diagnostics.extend(
                    result.diagnostics if isinstance(result, LoadResult) else result
                )
        found.diagnostics.extend(_undeclared(account, found.loaded, deployment))
    return found


def deployment_flow_diagnostics(deployment: Deployment) -> list[Diagnostic]:
    """Every diagnostic (errors and warnings) of every flow file the deployment names,
    each file once, then ``D114`` for a variable in ``vars`` that no flow of its account
    declares. A flow file that cannot be read is a ``D113`` at its line in the deployment
    file."""
    return load_deployment_flows(deployment).diagnostics


def check_deployment_flows(deployment: Deployment) -> list[str]:
    """The errors of every flow the deployment names, one ``file:line:col: CODE error:
    message`` line each; an empty list when every flow can run. Warnings are left out
    (:func:`deployment_flow_diagnostics` has them)."""
    return load_deployment_flows(deployment).errors


def _load(spec: FlowSpec) -> LoadResult | list[Diagnostic]:
    try:
        return load_flow(spec.path)
    except FlowFileError as exc:
        return [problem(_at(spec.spot, spec.path), "D113", f"flow {spec.name!r}: {exc}")]


def _undeclared(
    account: AccountSpec, loaded: Mapping[Path, LoadResult | None], deployment: Deployment
) -> list[Diagnostic]:
    flows = [loaded[spec.path] for spec in account.flows]
    if any(result is None or result.flow is None for result in flows):
        return []  # a flow with errors: its variables are not known
    declared = {
        name for result in flows if result and result.flow for name in result.flow.variables
    }
    problems = []
    for name in account.variables:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            message = (
                f"vars.{name}: no flow of account {account.id!r} has a variable {name!r} "
                f"(their variables: {known})"
            )
            at = _at(account.variable_spots.get(name) or account.spot, deployment.source)
            problems.append(problem(at, "D114", message))
    return problems


def _at(spot: SourceSpot | None, fallback: Path) -> Location:
    if spot is None:
        return Location(str(fallback), 1, 1)
    return Location(spot.file, spot.line, spot.column)


def _read(source: Path) -> str:
    try:
        raw = source.read_bytes()
    except FileNotFoundError:
        raise DeploymentFileError(f"{source}: no such deployment file") from None
    except IsADirectoryError:
        raise DeploymentFileError(f"{source}: is a directory, not a deployment file") from None
    except OSError as exc:
        raise DeploymentFileError(f"{source}: cannot read: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DeploymentError([not_utf8(exc, str(source))]) from None


def _refuse_literal_secrets(doc: Document) -> tuple[list[Diagnostic], set[Location]]:
    """``D103``/``D104`` for a literal ``password:``/``token:``, the key dropped; and where
    the accounts whose password was refused start."""
    problems: list[Diagnostic] = []
    refused: set[Location] = set()
    data = doc.data
    if not isinstance(data, dict):
        return problems, refused
    places: list[tuple[tuple[str | int, ...], object, str, str]] = []
    accounts = data.get("accounts")
    if isinstance(accounts, list):
        places.extend((("accounts", i), a, "password", "D103") for i, a in enumerate(accounts))
    places.append((("admin",), data.get("admin"), "token", "D104"))
    for path, mapping, key, code in places:
        if isinstance(mapping, dict) and key in mapping:
            del mapping[key]
            refused.add(doc.locate(path))
            hint = (
                "password_env: NAME (an environment variable) or password_file: PATH"
                if key == "password"
                else "token_env: NAME (an environment variable) or token_file: PATH"
            )
            message = f"a literal {key} is refused in a deployment file; write {hint}"
            problems.append(problem(doc.locate((*path, key), key=True), code, message))
    return problems, refused


def _without_reported(
    schema: list[Diagnostic], refused: set[Location], failed: set[Location]
) -> list[Diagnostic]:
    """Schema problems, less those that say again what is reported already: "needs one of:
    password_env, password_file" for an account whose ``password:`` was refused, and any
    problem of a value whose substitution failed (it kept its ``${...}`` text)."""
    kept = []
    for d in schema:
        at = Location(d.file, d.line, d.col)
        if at in failed or (d.code == "S005" and "password_env" in d.message and at in refused):
            continue
        kept.append(d)
    return kept
