"""Simulator settings and the users it knows.

:class:`SimulatorConfig` gathers every knob of the simulated server: the user
directory, the protocol timers (invitation answer time, token lifetime, application
expiry, long-poll ranges, aggregation holds) and a few fidelity switches. The defaults
follow ``ucwa-protocol.md`` section 10; values the documentation leaves open are the
simulator's own choices and are listed in ``docs/simulator.md``.

:func:`load_users` reads a users file (YAML or JSON)::

    users:
      - uri: sip:toshm@contoso.com
        name: Tosh Meston
        password: pass@word1
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from ucwa_flow import bounded_json
from ucwa_flow.errors import OperationalError, UnreadableFileError

__all__ = ["DEFAULT_PASSWORD", "SimulatorConfig", "SimulatorUser", "default_users", "load_users"]

#: The password of the default users (the one the Microsoft samples use).
DEFAULT_PASSWORD = "pass@word1"


@dataclass(frozen=True)
class SimulatorUser:
    """One account on the simulated server.

    ``uri`` is the SIP URI (``sip:lenea@contoso.com``); ``name`` the display name.
    """

    uri: str
    name: str
    password: str = DEFAULT_PASSWORD

    def __post_init__(self) -> None:
        if not self.uri.startswith("sip:") or "@" not in self.uri:
            raise ValueError(f"user uri must look like sip:user@domain, got {self.uri!r}")

    @property
    def address(self) -> str:
        """The URI without ``sip:``, as used in hrefs (``lenea@contoso.com``)."""
        return self.uri[4:]

    @property
    def domain(self) -> str:
        return self.uri.rsplit("@", 1)[1]


def default_users() -> list[SimulatorUser]:
    """The three users of the Microsoft "Send/Receive an IM" samples."""
    return [
        SimulatorUser("sip:toshm@contoso.com", "Tosh Meston"),
        SimulatorUser("sip:lenea@contoso.com", "Lene Aaling"),
        SimulatorUser("sip:adrianag@contoso.com", "Adriana Giorgi"),
    ]


@dataclass
class SimulatorConfig:
    """Everything the simulated server can be told. All times are in seconds.

    * ``invitation_timeout``: an unanswered messaging invitation fails after this.
    * ``token_lifetime``: ``expires_in`` of WebTicket tokens (8 hours by default).
    * ``pget_expiry``: an application without a new P-GET this long after the previous
      one was released expires (15 minutes, as documented).
    * ``activity_expiry``: after makeMeAvailable, an application with no
      reportMyActivity (or other user operation) this long expires. The real value is
      undocumented; 30 minutes is the simulator's choice.
    * ``expired_retention``: how long an expired application answers 410 before it is
      cleaned up and answers 404.
    * ``resume_after``: a client absent from the event channel this long (but less than
      ``pget_expiry``) gets a ``resume`` link; its conversations are ended.
    * ``typing_expiry``: how long one setIsTyping keeps a participant typing.
    * ``pget_timeout_min``/``pget_timeout_max``/``pget_timeout_default``: range and
      default of the event channel's ``timeout`` parameter (180-1800, 180).
    * ``medium_hold``/``low_hold``: default aggregation holds (5 and 15).
    * ``redeliver_first_message``: the invitation's first text also arrives as a
      message event after accept, as in the Microsoft sample.
    * ``server_fqdn``: the ``X-MS-Server-Fqdn`` header.
    * ``applications_host``: serve the applications resource on another host name (same
      port); ``None`` keeps the request's. With ``tokens_per_host`` clients must fetch a
      new token there.
    * ``tokens_per_host``: a token is valid only on the host name it was issued on, to
      test a client's re-authentication. By default (``False``) a token is valid under
      every name of the simulated pool, as on a real pool reached under several names.
    * ``discovery_redirect``: ``GET /`` answers with a ``redirect`` link first.
    * ``seed``: seeds the id generator so runs are reproducible.
    """

    users: list[SimulatorUser] = field(default_factory=default_users)
    invitation_timeout: float = 30.0
    token_lifetime: float = 28800.0
    pget_expiry: float = 900.0
    activity_expiry: float = 1800.0
    expired_retention: float = 300.0
    resume_after: float = 600.0
    typing_expiry: float = 10.0
    pget_timeout_min: float = 180.0
    pget_timeout_max: float = 1800.0
    pget_timeout_default: float = 180.0
    medium_hold: float = 5.0
    low_hold: float = 15.0
    redeliver_first_message: bool = True
    server_fqdn: str = "W15-LYNC-SE1.contoso.com"
    ucwa_version: str = "1.0"
    applications_host: str | None = None
    tokens_per_host: bool = False
    discovery_redirect: bool = False
    seed: int | None = None

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for user in self.users:
            key = user.uri.lower()
            if key in seen:
                raise ValueError(f"user {user.uri} is listed twice")
            seen.add(key)


def load_users(path: str | Path) -> list[SimulatorUser]:
    """Read a users file (YAML or JSON) and return its users.

    The file holds ``{"users": [{"uri", "name", "password"?}, ...]}`` or just the list.
    ``uri`` may omit ``sip:``; ``password`` defaults to :data:`DEFAULT_PASSWORD`.
    Raises :class:`~ucwa_flow.errors.OperationalError` with a one-line reason.
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UnreadableFileError(f"{file}: no such users file") from None
    except IsADirectoryError:
        raise UnreadableFileError(f"{file}: is a directory, not a users file") from None
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise UnreadableFileError(f"{file}: cannot read the users file: {why}") from None
    try:
        if file.suffix.lower() == ".json":
            data: Any = bounded_json.loads(text)
        else:
            data = _yaml().load(text)
    except (ValueError, YAMLError) as exc:
        raise OperationalError(_syntax_error(file, exc)) from None
    if isinstance(data, dict):
        data = data.get("users")
    if not isinstance(data, list) or not data:
        raise OperationalError(f"users file {file} must hold a non-empty 'users' list")
    users: list[SimulatorUser] = []
    for index, entry in enumerate(data, 1):
        users.append(_user_from(entry, f"{file}: user {index}"))
    try:
        SimulatorConfig(users=users)
    except ValueError as exc:
        raise OperationalError(f"users file {file}: {exc}") from None
    return users


def _yaml() -> YAML:
    """The users file's YAML reader: pure Python, its nesting bounded as a flow's is
    (Y004). libyaml's composer (``typ="safe"`` with ruamel's C extension) ignores
    ``max_depth`` and recurses on the C stack, not Python's: 30,000 nested ``[`` ended
    the simulator with a segmentation fault, not even a RecursionError."""
    yaml = YAML(typ="safe", pure=True)
    yaml.max_depth = bounded_json.MAX_DEPTH
    return yaml


def _syntax_error(file: Path, exc: Exception) -> str:
    """One line ``file:line:col: problem`` for a users file that does not parse."""
    if isinstance(exc, bounded_json.TooDeep):
        return f"{file}: users file is {exc}"
    if isinstance(exc, MaxDepthExceededError) and exc.problem_mark is not None:
        mark, depth = exc.problem_mark, bounded_json.MAX_DEPTH
        where = f"{file}:{mark.line + 1}:{mark.column + 1}"
        return f"{where}: users file is YAML nested deeper than {depth} levels"
    if isinstance(exc, json.JSONDecodeError):
        return f"{file}:{exc.lineno}:{exc.colno}: users file is not valid JSON: {exc.msg}"
    if isinstance(exc, MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        problem = exc.problem or exc.context or "syntax error"
        return f"{file}:{mark.line + 1}:{mark.column + 1}: users file is not valid YAML: {problem}"
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else "syntax error"
    return f"users file {file} is not valid: {first}"


def _user_from(entry: Any, where: str) -> SimulatorUser:
    if not isinstance(entry, dict):
        raise OperationalError(f"{where} must be a mapping with uri and name")
    uri = entry.get("uri")
    if not isinstance(uri, str) or "@" not in uri:
        raise OperationalError(f"{where} needs a 'uri' like sip:user@domain")
    if not uri.startswith("sip:"):
        uri = "sip:" + uri
    name = entry.get("name", uri[4:].split("@")[0])
    password = entry.get("password", DEFAULT_PASSWORD)
    if not isinstance(name, str) or not isinstance(password, str):
        raise OperationalError(f"{where}: 'name' and 'password' must be strings")
    return SimulatorUser(uri=uri, name=name, password=password)
