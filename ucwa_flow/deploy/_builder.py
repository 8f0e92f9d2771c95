"""From a schema-valid deployment document to a :class:`Deployment`, checking its meaning.

The schema has checked every shape (types, keys, patterns, "exactly one of"); what is
left needs more than one value or a look outside the document: flow names that routes,
schedules and ``default_flow`` use (``D105``, ``D106``), regular expressions
(``D107``), unique ids and users (``D108``, ``D109``), durations of zero (``D110``), the
admin address (``D111``), the store (``D112``), the flow files themselves (``D113``), the
CA bundle (``D116``: it exists, can be read and holds a PEM certificate), the server URL
(``D117``) and the trusted sign-in hosts (``D118``).
(``D114``, a variable no flow of the account declares, needs the flows loaded:
:func:`~ucwa_flow.deploy.check_deployment_flows`.)

Paths in the file (flows, secrets, the CA bundle, a store folder) are relative to the
file's folder; the model holds them absolute. A flow written ``flow: flows/x.flow.yaml``
is named ``x`` (the file name without ``.flow.yaml``, ``.yaml`` or ``.yml``); ``X.yaml``
means ``X.flow.yaml`` when only the latter exists, as on the command line.
"""

from __future__ import annotations

import math
import re
import ssl
import stat
from pathlib import Path as FsPath
from typing import Any

from ucwa_flow._host_names import trusted_host_problem
from ucwa_flow._listen import parse_listen
from ucwa_flow._server_url import server_url_problem
from ucwa_flow.deploy._errors import problem
from ucwa_flow.deploy._model import (
    AccountSpec,
    AdminSpec,
    Deployment,
    FlowSpec,
    LimitsSpec,
    LoggingSpec,
    RouteSpec,
    ScheduleSpec,
    SecretSource,
    ServerSpec,
    SourceSpot,
    WorkersSpec,
)
from ucwa_flow.durations import parse_duration
from ucwa_flow.flow import PART_SUFFIXES, Diagnostic, resolve_flow_path
from ucwa_flow.flow._loader import Document, Path
from ucwa_flow.store import postgres_url_problem

__all__ = ["build_deployment", "flow_name"]

_POSTGRES = ("postgresql://", "postgres://")


def flow_name(path: str) -> str:
    """The name of the flow in ``path``: its file name without ``.flow.yaml``/``.yaml``."""
    name = FsPath(path).name
    for suffix in (".yaml", ".yml"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".flow") or name


def build_deployment(
    doc: Document, source: FsPath, skip: set[Path]
) -> tuple[Deployment | None, list[Diagnostic]]:
    """The deployment in ``doc`` (read from ``source``) and the problems of its meaning.

    ``skip`` holds paths already reported (a failed substitution): they are not checked
    again. The deployment is ``None`` when there is a problem.
    """
    builder = _Builder(doc, source, skip)
    deployment = builder.build()
    return (None if builder.problems else deployment), builder.problems


class _Builder:
    def __init__(self, doc: Document, source: FsPath, skip: set[Path]) -> None:
        self.doc = doc
        self.source = source
        self.base = source.parent
        self.skip = skip
        self.problems: list[Diagnostic] = []

    # -- helpers --------------------------------------------------------------------------

    def error(self, path: Path, code: str, message: str, *, key: bool = False) -> None:
        if path not in self.skip:
            self.problems.append(problem(self.doc.locate(path, key=key), code, message))

    def spot(self, path: Path, *, key: bool = False) -> SourceSpot:
        at = self.doc.locate(path, key=key)
        return SourceSpot(at.file, at.line, at.col)

    def path(self, written: str) -> FsPath:
        return (self.base / FsPath(written).expanduser()).resolve()

    def duration(self, data: dict[str, Any], key: str, path: Path, default: float) -> float:
        value = data.get(key)
        if value is None:
            return default
        seconds = float(value) if not isinstance(value, str) else _seconds(value)
        if not 0 < seconds < math.inf:  # also NaN, which the schema's minimum lets through
            what = "is no time at all" if seconds <= 0 else "is not a duration"
            self.error((*path, key), "D110", f"{key}: {value!r} {what}")
            return default
        return seconds

    # -- the deployment -------------------------------------------------------------------

    def build(self) -> Deployment:
        data: dict[str, Any] = self.doc.data
        server = data.get("server", {})
        url = server.get("url")
        if url is not None and (why := server_url_problem(url)) is not None:
            # the schema's pattern lets a port out of range or an open '[' through
            self.error(("server", "url"), "D117", f"server.url: {url!r} {why}")
        ca_bundle = server.get("ca_bundle")
        if ca_bundle and ("server", "ca_bundle") not in self.skip:
            self.ca_bundle(ca_bundle)
        accounts = tuple(
            self.account(raw, ("accounts", i)) for i, raw in enumerate(data["accounts"])
        )
        self.unique(data["accounts"])
        return Deployment(
            source=self.source,
            server=ServerSpec(
                url=url,
                ca_bundle=self.path(ca_bundle) if ca_bundle else None,
                insecure=bool(server.get("insecure", False)),
                trusted_hosts=self.trusted_hosts(server.get("trusted_hosts", ())),
            ),
            accounts=accounts,
            store=self.store(data.get("store")),
            admin=self.admin(data.get("admin", {})),
            logging=LoggingSpec(**data.get("logging", {})),
            stop_timeout=self.duration(data, "stop_timeout", (), 10.0),
            retention=self.duration(data, "retention", (), 30 * 86400.0),
            workers=self.workers(data.get("workers", {})),
        )

    def trusted_hosts(self, written: list[str]) -> tuple[str, ...]:
        """``D118`` for a name the schema's pattern let through that is still no host name
        (an empty label, a name IDNA cannot encode)."""
        for i, name in enumerate(written):
            where = ("server", "trusted_hosts", i)
            if where not in self.skip and (why := trusted_host_problem(name)) is not None:
                self.error(where, "D118", f"server.trusted_hosts[{i}]: {name!r} {why}")
        return tuple(name.strip() for name in written)

    def ca_bundle(self, written: str) -> None:
        """``D116`` when the CA bundle cannot be used: missing, unreadable, or no PEM
        certificate in it (what ``serve`` would stop on when it first connects)."""
        bundle = self.path(written)
        kind = _kind(bundle)
        if isinstance(kind, OSError):
            why = f"cannot read {bundle}: {kind.strerror or kind}"
        elif kind is None:
            why = f"{written}: no such file (looked for {bundle})"
        elif kind == "dir":
            why = f"{bundle} is a directory, not a PEM file of CA certificates"
        else:
            try:
                ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(cafile=bundle)
                return
            except ssl.SSLError as exc:
                why = f"{bundle} holds no usable PEM certificate ({exc.reason or exc})"
            except OSError as exc:
                why = f"cannot read {bundle}: {exc.strerror or exc}"
        self.error(("server", "ca_bundle"), "D116", f"ca_bundle: {why}")

    def workers(self, data: dict[str, Any]) -> WorkersSpec:
        path = ("workers",)
        before = len(self.problems)
        lease = self.duration(data, "lease", path, 10.0)
        heartbeat = self.duration(data, "heartbeat", path, 2.0)
        # a refused one (D110) is its default: no heartbeat or lease anyone wrote
        if heartbeat * 3 > lease and len(self.problems) == before:
            message = (
                f"workers: a heartbeat of {heartbeat:g} s is too slow for a lease of "
                f"{lease:g} s; renew at least three times per lease"
            )
            self.error((*path, "heartbeat" if "heartbeat" in data else "lease"), "D115", message)
        return WorkersSpec(lease, heartbeat)

    def store(self, written: str | None) -> str | None:
        if written is None or ("store",) in self.skip:
            return written
        if "://" in written:
            if not written.lower().startswith(_POSTGRES):
                scheme = written.split("://", 1)[0]
                message = (
                    f"store: {scheme}:// is not a store; write a postgresql:// URL "
                    "or the path of a folder (one SQLite file per account)"
                )
                self.error(("store",), "D112", message)
            elif (problem := postgres_url_problem(written)) is not None:
                self.error(("store",), "D112", f"store: {problem}")
            return written
        folder = self.path(written)
        # a folder this user may not even look at (its parent not searchable) is said in
        # one line when serve opens the store; validate may run as another user
        if _kind(folder) == "file":
            message = (
                f"store: {folder} is a file; the store is a folder (one SQLite file per account)"
            )
            self.error(("store",), "D112", message)
        return str(folder)

    def admin(self, raw: dict[str, Any]) -> AdminSpec:
        host, port = AdminSpec.host, AdminSpec.port
        listen = raw.get("listen")
        if listen is not None and ("admin", "listen") not in self.skip:
            try:
                host, port = parse_listen(listen)
            except ValueError as exc:
                self.error(("admin", "listen"), "D111", f"admin.listen: {exc}")
        token = None
        if "token_env" in raw:
            token = SecretSource(env=raw["token_env"])
        elif "token_file" in raw:
            token = SecretSource(file=self.path(raw["token_file"]))
        allow_hosts = tuple(name.lower().rstrip(".") for name in raw.get("allow_hosts", ()))
        return AdminSpec(
            host=host,
            port=port,
            token=token,
            enabled=raw.get("enabled", True),
            allow_hosts=allow_hosts,
        )

    def unique(self, accounts: list[dict[str, Any]]) -> None:
        ids: dict[str, int] = {}
        users: dict[str, int] = {}
        for i, raw in enumerate(accounts):
            first = ids.setdefault(raw["id"], i)
            if first != i:
                line = self.doc.locate(("accounts", first, "id")).line
                message = f"account id {raw['id']!r} is used twice (first at line {line})"
                self.error(("accounts", i, "id"), "D108", message)
            user = _sip(raw["user"]).lower()
            first = users.setdefault(user, i)
            if first != i:
                line = self.doc.locate(("accounts", first, "user")).line
                message = f"user {raw['user']!r} has two accounts (first at line {line})"
                self.error(("accounts", i, "user"), "D109", message)

    # -- an account -----------------------------------------------------------------------

    def account(self, raw: dict[str, Any], at: Path) -> AccountSpec:
        flows = self.flows(raw, at)
        names = [spec.name for spec in flows]
        default = raw.get("default_flow")
        if default is not None:
            self.known(default, names, (*at, "default_flow"))
        elif len(flows) > 1:
            message = (
                f"account {raw['id']!r} has {len(flows)} flows ({', '.join(names)}): "
                "say which one answers when no route matches, with default_flow"
            )
            self.error((*at, "flows"), "D105", message, key=True)
        routes = tuple(
            self.route(r, (*at, "routes", i), names) for i, r in enumerate(raw.get("routes", []))
        )
        schedules = tuple(
            self.schedule(s, (*at, "schedules", i), names)
            for i, s in enumerate(raw.get("schedules", []))
        )
        if "password_file" in raw:
            password = SecretSource(file=self.path(raw["password_file"]))
        else:  # no key at all: a refused literal password, reported already
            password = SecretSource(env=raw.get("password_env", ""))
        return AccountSpec(
            id=raw["id"],
            user=_sip(raw["user"]),
            password=password,
            flows=flows,
            default_flow=default if default is not None else (names[0] if names else ""),
            routes=routes,
            variables=dict(raw.get("vars", {})),
            variable_spots={
                name: self.spot((*at, "vars", name), key=True) for name in raw.get("vars", {})
            },
            limits=LimitsSpec(**raw.get("limits", {})),
            schedules=schedules,
            spot=self.spot(at),
        )

    def flows(self, raw: dict[str, Any], at: Path) -> tuple[FlowSpec, ...]:
        if "flow" in raw:
            written = {flow_name(raw["flow"]): ((*at, "flow"), raw["flow"])}
        else:
            written = {name: ((*at, "flows", name), file) for name, file in raw["flows"].items()}
        specs = []
        for name, (path, file) in written.items():
            resolved = resolve_flow_path(self.path(file))
            kind = _kind(resolved)
            if path not in self.skip and kind != "file":
                if isinstance(kind, OSError):
                    what = f"cannot be read ({kind.strerror or kind})"
                elif kind is None:
                    what = "no such flow file"
                else:
                    what = "is a directory, not a flow file" if kind == "dir" else "is no file"
                self.error(path, "D113", f"{file}: {what} (looked for {resolved})")
            elif path not in self.skip and resolved.name.endswith(PART_SUFFIXES):
                what = "an included file, not a flow: name a flow that includes it"
                if resolved.name.endswith(".subflow.yaml"):
                    what = "a sub-flow, not a flow: name a flow that calls it"
                self.error(path, "D113", f"{file} is {what}")
            specs.append(FlowSpec(name, resolved, self.spot(path)))
        return tuple(specs)

    def known(self, name: str, names: list[str], path: Path) -> None:
        if name not in names:
            message = f"no flow named {name!r} in this account (its flows: {', '.join(names)})"
            self.error(path, "D106", message)

    def route(self, raw: dict[str, Any], at: Path, names: list[str]) -> RouteSpec:
        self.known(raw["flow"], names, (*at, "flow"))
        for key in ("caller", "subject", "first_message"):
            if key in raw:
                self.regex(raw[key], (*at, key))
        return RouteSpec(
            flow=raw["flow"],
            caller=raw.get("caller"),
            subject=raw.get("subject"),
            first_message=raw.get("first_message"),
            spot=self.spot(at),
        )

    def regex(self, pattern: str, path: Path) -> None:
        try:
            re.compile(pattern, re.IGNORECASE)
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            message = f"{path[-1]}: {pattern!r} does not compile: {exc.msg}{where}"
            self.error(path, "D107", message)
        except RecursionError:  # re's parser recurses: ((((...))))
            message = f"{path[-1]}: {pattern!r} does not compile: nested too deeply"
            self.error(path, "D107", message)

    def schedule(self, raw: dict[str, Any], at: Path, names: list[str]) -> ScheduleSpec:
        self.known(raw["flow"], names, (*at, "flow"))
        every = self.duration(raw, "every", at, 0.0)
        invitee = _sip(raw["invitee"]) if "invitee" in raw else None
        return ScheduleSpec(raw["flow"], invitee, every, self.spot(at))


def _seconds(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError:  # the schema has checked the shape; a failed substitution stays
        return 0.0


def _sip(address: str) -> str:
    return address if address.lower().startswith("sip:") else "sip:" + address


def _kind(path: FsPath) -> str | OSError | None:
    """``"file"``, ``"dir"`` (or ``"other"``), ``None`` when nothing is there, or the
    error that kept it from being looked at (a folder on the way not searchable)."""
    try:
        mode = path.stat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        return exc
    if stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_ISREG(mode) else "other"
