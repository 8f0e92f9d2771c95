"""The simulated server's core: users, tokens, applications, expiry, routing.

:class:`Simulator` owns all state and the rules that do not depend on HTTP; the ASGI
layer (:mod:`ucwa_flow.simulator.app`) translates requests into calls on it. Tests and
load generators use it directly for virtual users, fault injection and expiry.
"""

from __future__ import annotations

import math
import random
import secrets
import uuid
from typing import TYPE_CHECKING, Any

from ucwa_flow.clock import Clock, SystemClock
from ucwa_flow.simulator import resources as res
from ucwa_flow.simulator.config import SimulatorConfig, SimulatorUser
from ucwa_flow.simulator.errors import UcwaErrorResponse, bad_request, conflict
from ucwa_flow.simulator.eventqueue import EventChannel, Priority
from ucwa_flow.simulator.faults import Faults
from ucwa_flow.simulator.im import Router
from ucwa_flow.simulator.presence import PresenceDirectory, preferred
from ucwa_flow.simulator.state import APPLICATIONS_PATH, Application, Observer, Token

if TYPE_CHECKING:
    from ucwa_flow.simulator.control import VirtualUser

__all__ = ["Simulator"]

_MODALITIES = {"Messaging", "PhoneAudio"}


class Simulator:
    """A simulated Skype for Business front end.

    ``Simulator(config, clock)``: ``.app`` is the ASGI application to serve;
    ``.faults`` injects failures; :meth:`virtual_user` gives a user driven from Python.
    Every timer (invitation answer time, typing, long-poll holds, expiry) runs on
    ``clock``, so a :class:`~ucwa_flow.clock.ManualClock` makes time jumps instant.
    """

    def __init__(self, config: SimulatorConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimulatorConfig()
        self.clock: Clock = clock or SystemClock()
        self.faults = Faults(self)
        self._rng = random.Random(self.config.seed)
        self._users = {u.uri.lower(): u for u in self.config.users}
        self._tokens: dict[str, Token] = {}
        self._refusals: dict[str, int] = {}  # user -> new tokens to refuse (refuse_fresh_token)
        self._apps: dict[str, Application] = {}
        self._apps_by_user: dict[str, dict[str, Application]] = {}
        self._virtual: dict[str, VirtualUser] = {}
        self.router = Router(self.clock, self.config, self.find_user, self._endpoints, self._guid)
        self.presence = PresenceDirectory(
            self.clock, self._available_apps, lambda u: u.uri.lower() in self._virtual
        )
        self._asgi: Any = None

    # -- directory --------------------------------------------------------------------

    @property
    def users(self) -> list[SimulatorUser]:
        return list(self.config.users)

    def find_user(self, name: str) -> SimulatorUser | None:
        """Resolve ``sip:a@b``, ``a@b`` or ``DOMAIN\\a`` to a user (case-insensitive)."""
        key = name.strip().lower()
        if "\\" in key:
            local = key.split("\\", 1)[1]
            for user in self.config.users:
                if user.address.lower().split("@")[0] == local:
                    return user
            return None
        if not key.startswith("sip:"):
            key = "sip:" + key
        return self._users.get(key)

    def user(self, name: str) -> SimulatorUser:
        found = self.find_user(name)
        if found is None:
            raise KeyError(f"unknown user {name!r}")
        return found

    @property
    def app(self) -> Any:
        """The ASGI application serving discovery, WebTicket, UCWA and ``/_sim/``."""
        if self._asgi is None:
            from ucwa_flow.simulator.app import SimulatorApp

            self._asgi = SimulatorApp(self)
        return self._asgi

    # -- tokens -----------------------------------------------------------------------

    def issue_token(self, user: SimulatorUser, host: str) -> Token:
        token = Token(
            value="cwt=" + secrets.token_urlsafe(36),
            user=user,
            host=host.lower(),
            expires_at=self.clock.monotonic() + self.config.token_lifetime,
            issued_at=self.clock.monotonic(),
        )
        self._tokens[token.value] = token
        return token

    def authenticate(self, authorization: str | None, host: str) -> SimulatorUser | None:
        """The user of a valid ``Bearer cwt=...`` header for ``host``, else ``None``.

        The simulator is one pool: by default its tokens are good under every name it is
        reached by (``lyncweb.<domain>``, the pool FQDN, ``127.0.0.1``, ``localhost``...),
        as a real pool accepts a token of its own WebTicket service under each of its
        names. With ``tokens_per_host`` a token is good only on the host it was issued on.
        """
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return None
        token = self._tokens.get(value.strip())
        if token is None:
            return None
        if self.config.tokens_per_host and token.host != host.lower():
            return None
        if self.clock.monotonic() >= token.expires_at:
            return None
        key = token.user.uri.lower()
        if not token.uses and self._refusals.get(key):
            self._refusals[key] -= 1
            token.expires_at = self.clock.monotonic()
            return None
        token.uses += 1
        return token.user

    def token_of(self, authorization: str | None) -> Token | None:
        """The token a ``Bearer`` header carries, valid or not (``None`` if unknown)."""
        if not authorization:
            return None
        scheme, _, value = authorization.strip().partition(" ")
        return self._tokens.get(value.strip()) if scheme.lower() == "bearer" else None

    def expire_token(self, user: str | SimulatorUser | None = None) -> int:
        """Expire the tokens of ``user`` (all users when ``None``); returns how many."""
        target = self._as_user(user) if user is not None else None
        count = 0
        for token in self._tokens.values():
            if target is None or token.user is target:
                token.expires_at = min(token.expires_at, self.clock.monotonic())
                count += 1
        return count

    def refuse_fresh_token(self, user: str | SimulatorUser, times: int = 1) -> None:
        """Refuse the next ``times`` new tokens of ``user`` the first time each is shown.

        The request gets 401 and the challenge, and the token is dead: what a client sees of
        a pool whose front end does not accept its token service's keys yet, or of an
        account changed during the grant. Each refusal is used up by one token.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        self._refusals[self._as_user(user).uri.lower()] = times

    # -- HTTP requests ------------------------------------------------------------------

    @property
    def requests_in_progress(self) -> int:
        """HTTP requests received and not answered yet, held P-GETs and slowed ones too."""
        return self._asgi.in_progress if self._asgi is not None else 0

    @property
    def requests_waiting(self) -> int:
        """Requests in progress that wait on the clock or on an event: held P-GETs, answers
        slowed by a fault. The others are being worked on; a test that paces a virtual clock
        moves it only when there are none (this equals :attr:`requests_in_progress`)."""
        held = sum(1 for app in self._apps.values() if app.channel.held)
        return held + (self._asgi.delayed if self._asgi is not None else 0)

    # -- applications -----------------------------------------------------------------

    def create_application(
        self, user: SimulatorUser, endpoint_id: str, user_agent: str, culture: str
    ) -> tuple[Application, bool]:
        """The user's live application for ``endpoint_id``, or a new one (``True``)."""
        mine = self._apps_by_user.setdefault(user.uri.lower(), {})
        existing = mine.get(endpoint_id.lower())
        if existing is not None and existing.expired_at is None:
            return existing, False
        app_id = str(self._rng.randrange(10**10, 10**12))
        while app_id in self._apps:
            app_id = str(self._rng.randrange(10**10, 10**12))
        app = Application(
            id=app_id,
            user=user,
            endpoint_id=endpoint_id,
            user_agent=user_agent,
            culture=culture,
            channel=None,  # type: ignore[arg-type]  # set just below
            put_marker=self._guid(),
            etag=str(self._rng.randrange(10**9, 4 * 10**9)),
            last_activity=self.clock.monotonic(),
        )
        app.channel = EventChannel(
            f"{APPLICATIONS_PATH}/{app_id}/events",
            self.clock,
            self.config,
            on_absence=lambda: self._absent(app),
        )
        self._apps[app_id] = app
        mine[endpoint_id.lower()] = app
        self._schedule_expiry(app)
        return app, True

    def find_application(self, app_id: str, user: SimulatorUser) -> Application:
        """A live application of ``user``; raises 404 ApplicationNotFound / 410."""
        app = self._apps.get(app_id)
        if app is not None and app.expired_at is None and self._due(app) <= self.clock.monotonic():
            self._expire(app)
        if app is None or app.user is not user:
            raise UcwaErrorResponse(
                404, "NotFound", "ApplicationNotFound", "The application does not exist."
            )
        if app.expired_at is not None:
            raise UcwaErrorResponse(
                410,
                "Gone",
                "InactiveApplicationExpired",
                "The application was terminated because it was inactive.",
            )
        return app

    def application_by_id(self, app_id: str) -> Application | None:
        """The application with this id, live or expired, if the server still has it."""
        return self._apps.get(app_id)

    @property
    def applications(self) -> list[Application]:
        return list(self._apps.values())

    def delete_application(self, app: Application) -> None:
        """DELETE: end its conversations, close its channel and forget it."""
        self.router.end_application(app)
        app.channel.close()
        if app.expiry_timer is not None:
            app.expiry_timer.cancel()
        self._forget(app)
        self.presence.forget_application(app)
        self.presence.publish(app.user)

    def make_me_available(self, app: Application, body: dict[str, Any]) -> None:
        if app.available:
            raise conflict("AlreadyExists", "Multiple invocations of this operation is not valid.")
        modalities = body.get("supportedmodalities") or []
        formats = body.get("supportedmessageformats") or ["Plain"]
        if not isinstance(modalities, list) or not all(isinstance(m, str) for m in modalities):
            raise bad_request(["SupportedModalities"])
        if not isinstance(formats, list) or not all(f in ("Plain", "Html") for f in formats):
            raise bad_request(["SupportedMessageFormats"])
        if set(modalities) - _MODALITIES:
            raise UcwaErrorResponse(
                403, "Forbidden", None, "Only Messaging and PhoneAudio modalities are allowed."
            )
        sign_in_as = body.get("signinas")
        if sign_in_as is not None and preferred(sign_in_as) is None:
            raise bad_request(["signInAs"])
        app.available = True
        app.modalities = list(dict.fromkeys(modalities))
        app.formats = ["Plain"] + (["Html"] if "Html" in formats else [])
        app.last_activity = self.clock.monotonic()
        me_href = f"{app.base}/me"
        push = app.channel.push
        push(
            "me",
            me_href,
            {"link": {"rel": "me", "href": me_href}, "type": "updated"},
            Priority.MEDIUM,
        )
        for rel in ("presence", "note", "location"):
            event = {"link": {"rel": rel, "href": f"{me_href}/{rel}"}, "type": "added"}
            push("me", me_href, event, Priority.MEDIUM)
        comm = f"{app.base}/communication"
        event = {
            "link": {"rel": "communication", "href": comm},
            "_embedded": {"communication": res.communication(app)},
            "type": "updated",
        }
        push("communication", comm, event, Priority.MEDIUM)
        if sign_in_as is not None:
            self.presence.set(app.user, sign_in_as, confirm=False, skip=app)
        else:
            self.presence.publish(app.user, skip=app)

    def report_activity(self, app: Application) -> None:
        if not app.available:
            raise conflict("MakeMeAvailableRequired", "Call makeMeAvailable first.")
        app.last_activity = self.clock.monotonic()

    def set_availability(self, user: str | SimulatorUser, availability: str | None) -> None:
        """Set (``None``: reset) the availability a user chose, as ``POST me/presence`` does.

        For virtual users and tests; one of ``Online``, ``Busy``, ``DoNotDisturb``,
        ``BeRightBack``, ``Away``, ``Offwork`` (``ValueError`` otherwise). A user who is
        not signed in (no available application, not a virtual user) stays ``Offline``
        and the choice is dropped, as at sign-out.
        """
        self.presence.set(self._as_user(user), availability)

    def touch(self, app: Application) -> None:
        """A user operation (send, start, accept...) counts as activity."""
        app.last_activity = self.clock.monotonic()

    def expire_application(self, target: Application | str | SimulatorUser) -> int:
        """Expire an application, or every application of a user, right now."""
        if isinstance(target, Application):
            apps = [target]
        else:
            user = self._as_user(target)
            apps = [a for a in self._apps.values() if a.user is user]
        apps = [a for a in apps if a.expired_at is None]
        for app in apps:
            self._expire(app)
        return len(apps)

    def duplicate_next_batch(
        self, target: Application | str | SimulatorUser, times: int = 1
    ) -> None:
        """The events of the next ``times`` batches are sent once more in the batch after."""
        if isinstance(target, Application):
            apps = [target]
        else:
            user = self._as_user(target)
            apps = [a for a in self._apps.values() if a.user is user]
        for app in apps:
            app.channel.duplicate_next += times

    # -- virtual users ----------------------------------------------------------------

    def virtual_user(self, uri: str, *, auto_accept: bool = False) -> VirtualUser:
        """The virtual user for ``uri`` (created on first use); see :mod:`.control`."""
        from ucwa_flow.simulator.control import VirtualUser

        user = self.user(uri)
        vu = self._virtual.get(user.uri.lower())
        if vu is None:
            vu = VirtualUser(self, user, auto_accept=auto_accept)
            self._virtual[user.uri.lower()] = vu
            self.presence.publish(user)
        else:
            vu.auto_accept = auto_accept or vu.auto_accept
        return vu

    @property
    def virtual_users(self) -> list[VirtualUser]:
        return list(self._virtual.values())

    # -- lifecycle --------------------------------------------------------------------

    def close(self) -> None:
        """Release every held P-GET (empty batch) and stop all timers."""
        for app in list(self._apps.values()):
            app.channel.close()
            if app.expiry_timer is not None:
                app.expiry_timer.cancel()
        for chat in list(self.router.live_chats.values()):
            if chat.timer is not None:
                chat.timer.cancel()

    # -- internals --------------------------------------------------------------------

    def _available_apps(self, user: SimulatorUser) -> list[Application]:
        mine = self._apps_by_user.get(user.uri.lower(), {}).values()
        return [a for a in mine if a.available and a.expired_at is None]

    def _absent(self, app: Application) -> None:
        """The client came back too late: its transient state (conversations, subscriptions)
        is reset."""
        self.router.end_application(app)
        self.presence.forget_application(app)

    def _endpoints(self, user: SimulatorUser) -> tuple[list[Application], Observer | None]:
        apps = [a for a in self._apps_by_user.get(user.uri.lower(), {}).values() if a.receives_im]
        return apps, self._virtual.get(user.uri.lower())

    def _guid(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _as_user(self, value: str | SimulatorUser) -> SimulatorUser:
        return value if isinstance(value, SimulatorUser) else self.user(value)

    def _due(self, app: Application) -> float:
        due = math.inf
        if not app.channel.held:
            due = app.channel.last_release + self.config.pget_expiry
        if app.available:
            due = min(due, app.last_activity + self.config.activity_expiry)
        return due

    def _schedule_expiry(self, app: Application) -> None:
        now = self.clock.monotonic()
        due = self._due(app)
        delay = self.config.pget_expiry if math.isinf(due) else max(0.0, due - now)
        app.expiry_timer = self.clock.call_later(delay, self._check_expiry, app)

    def _check_expiry(self, app: Application) -> None:
        app.expiry_timer = None
        if app.expired_at is not None or self._apps.get(app.id) is not app:
            return
        if self._due(app) <= self.clock.monotonic():
            self._expire(app)
        else:
            self._schedule_expiry(app)

    def _expire(self, app: Application) -> None:
        app.expired_at = self.clock.monotonic()
        if app.expiry_timer is not None:
            app.expiry_timer.cancel()
        self.router.end_application(app)
        app.channel.close()
        self.presence.forget_application(app)
        self.presence.publish(app.user)
        app.expiry_timer = self.clock.call_later(self.config.expired_retention, self._forget, app)

    def _forget(self, app: Application) -> None:
        if self._apps.get(app.id) is app:
            del self._apps[app.id]
        mine = self._apps_by_user.get(app.user.uri.lower(), {})
        if mine.get(app.endpoint_id.lower()) is app:
            del mine[app.endpoint_id.lower()]
