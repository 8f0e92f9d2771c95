"""Presence: each user's availability, presence subscriptions and the events they cause.

One :class:`PresenceDirectory` per simulator. A user's *effective* presence is

* ``Offline`` while the user has no live application that did makeMeAvailable and is not
  a virtual user;
* otherwise the availability the user chose (``POST me/presence``, or ``signInAs`` on
  makeMeAvailable), else ``Online``. ``Offwork`` is shown as ``Away`` with the activity
  ``off-work`` (the well-known activity string of the contactPresence reference).

The choice is forgotten when the user's last available application goes (sign-out), so the
next makeMeAvailable starts ``Online`` again. Idle states (``IdleOnline``...) are not
simulated.

Events (all Medium, as documented): the user's own available applications get ``me`` /
``presence`` updated on every accepted ``POST me/presence`` (the docs: "an event will
confirm") and whenever the effective presence changes for another reason; every
application subscribed to the user gets ``people`` / ``contactPresence`` updated (``in``
the contact) when the effective presence changes, and once for each contact when it is
added to a subscription (the current state). A pending event of the same resource is
replaced by the newer one ("several presence updates collapse into the latest state").
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ucwa_flow.clock import Clock, TimerHandle
from ucwa_flow.simulator.config import SimulatorUser
from ucwa_flow.simulator.eventqueue import Priority
from ucwa_flow.simulator.state import Application

__all__ = [
    "AVAILABILITIES",
    "MAX_MINUTES",
    "MIN_MINUTES",
    "PresenceDirectory",
    "Subscription",
    "preferred",
]

#: Values ``POST me/presence`` and ``signInAs`` accept (PreferredAvailability).
AVAILABILITIES = ("Online", "Busy", "DoNotDisturb", "BeRightBack", "Away", "Offwork")
_CANONICAL = {name.lower(): name for name in AVAILABILITIES}
#: Documented range of a subscription's ``duration`` (minutes).
MIN_MINUTES, MAX_MINUTES = 10, 30
#: A subscription's ``presenceSubscription updated`` ("about to expire") comes this early.
EXPIRY_WARNING = 60.0


def preferred(value: object) -> str | None:
    """The canonical PreferredAvailability for ``value`` (any case); ``None`` if invalid."""
    if not isinstance(value, str):
        return None
    return _CANONICAL.get(value.strip().lower())


def _key(user: SimulatorUser) -> str:
    return user.uri.lower()


@dataclass(eq=False)
class Subscription:
    """A presence subscription of one application to a set of contacts."""

    id: str
    app: Application
    expires_at: float
    members: dict[str, SimulatorUser] = field(default_factory=dict)
    timer: TimerHandle | None = None

    @property
    def href(self) -> str:
        return f"{self.app.base}/people/presenceSubscriptions/{self.id}"

    def membership_href(self, user: SimulatorUser) -> str:
        return f"{self.app.base}/people/presenceSubscriptionMemberships/{self.id},{user.address}"


class PresenceDirectory:
    """Presence of every user and the subscriptions of every application.

    ``apps_of(user)`` lists the user's live applications that did makeMeAvailable;
    ``is_virtual(user)`` says whether the simulator plays the user.
    """

    def __init__(
        self,
        clock: Clock,
        apps_of: Callable[[SimulatorUser], list[Application]],
        is_virtual: Callable[[SimulatorUser], bool],
    ) -> None:
        self._clock = clock
        self._apps_of = apps_of
        self._is_virtual = is_virtual
        self._chosen: dict[str, str] = {}
        self._shown: dict[str, tuple[str, str | None]] = {}
        self._subs: dict[str, dict[str, Subscription]] = {}
        self._ids = itertools.count(1)  # unique over all applications, so never reused
        self._watchers: dict[str, dict[Subscription, None]] = {}

    # -- state ------------------------------------------------------------------------

    def of(self, user: SimulatorUser) -> tuple[str, str | None]:
        """``(availability, activity or None)`` as others see ``user`` right now."""
        if not self._apps_of(user) and not self._is_virtual(user):
            return "Offline", None
        chosen = self._chosen.get(_key(user), "Online")
        if chosen == "Offwork":
            return "Away", "off-work"
        return chosen, None

    def set(
        self,
        user: SimulatorUser,
        availability: str | None,
        *,
        confirm: bool = True,
        skip: Application | None = None,
    ) -> None:
        """Set (or, with ``None``, reset) the availability ``user`` chose.

        ``availability`` must be one of :data:`AVAILABILITIES` (any case), else
        ``ValueError``. ``confirm`` sends ``presence updated`` to the user's own
        applications even when nothing changed, as a POST on ``me/presence`` does;
        ``skip`` as for :meth:`publish`.
        """
        if availability is None:
            self._chosen.pop(_key(user), None)
        else:
            value = preferred(availability)
            if value is None:
                raise ValueError(f"unknown availability {availability!r}")
            self._chosen[_key(user)] = value
        self.publish(user, confirm=confirm, skip=skip)

    def publish(
        self, user: SimulatorUser, *, confirm: bool = False, skip: Application | None = None
    ) -> None:
        """Tell whoever follows ``user`` if their effective presence changed.

        Call after anything that may change it (makeMeAvailable, an application ending, a
        virtual user appearing). ``skip`` is an application that learns of its presence
        another way (makeMeAvailable's ``presence added``).
        """
        key = _key(user)
        apps = self._apps_of(user)
        if not apps and not self._is_virtual(user):
            self._chosen.pop(key, None)  # signed out: the next sign-in starts Online
        now = self.of(user)
        changed = self._shown.get(key, ("Offline", None)) != now
        self._shown[key] = now
        if changed or confirm:
            for app in apps:
                if app is not skip:
                    href = f"{app.base}/me"
                    event = {"link": {"rel": "presence", "href": f"{href}/presence"}}
                    app.channel.push(
                        "me", href, event | {"type": "updated"}, Priority.MEDIUM, replace=True
                    )
        if changed:
            for sub in list(self._watchers.get(key, ())):
                self._notify(sub.app, user)

    @staticmethod
    def _notify(app: Application, user: SimulatorUser) -> None:
        people = f"{app.base}/people"
        contact = f"{people}/{user.address}"
        event = {
            "link": {"rel": "contactPresence", "href": f"{contact}/presence"},
            "in": {"rel": "contact", "href": contact},
            "type": "updated",
        }
        app.channel.push("people", people, event, Priority.MEDIUM, replace=True)

    # -- subscriptions ----------------------------------------------------------------

    def subscriptions(self, app: Application) -> list[Subscription]:
        return list(self._subs.get(app.id, {}).values())

    def subscription(self, app: Application, sub_id: str) -> Subscription | None:
        return self._subs.get(app.id, {}).get(sub_id)

    def subscribe(
        self, app: Application, users: Iterable[SimulatorUser], minutes: int
    ) -> Subscription:
        """A new subscription of ``app`` for ``minutes`` (``presenceSubscription added``)."""
        sub = Subscription(str(next(self._ids)), app, self._clock.monotonic() + minutes * 60.0)
        self._subs.setdefault(app.id, {})[sub.id] = sub
        self._event(sub, "added")
        self.add(sub, users)
        self._schedule(sub)
        return sub

    def add(self, sub: Subscription, users: Iterable[SimulatorUser]) -> list[SimulatorUser]:
        """Add contacts to ``sub``; each new one gets a first ``contactPresence updated``."""
        added = []
        for user in users:
            if _key(user) in sub.members:
                continue
            sub.members[_key(user)] = user
            self._watchers.setdefault(_key(user), {})[sub] = None
            self._notify(sub.app, user)
            added.append(user)
        return added

    def remove(self, sub: Subscription, user: SimulatorUser) -> bool:
        """Take ``user`` out of ``sub``; ``False`` if they were not in it."""
        if sub.members.pop(_key(user), None) is None:
            return False
        self._watchers.get(_key(user), {}).pop(sub, None)
        return True

    def extend(self, sub: Subscription, minutes: int) -> None:
        """Add ``minutes`` to what is left of ``sub``, up to :data:`MAX_MINUTES` in all."""
        now = self._clock.monotonic()
        left = max(0.0, sub.expires_at - now)
        sub.expires_at = now + min(left + minutes * 60.0, MAX_MINUTES * 60.0)
        self._schedule(sub)

    def unsubscribe(self, sub: Subscription, *, event: bool = True) -> None:
        """End ``sub`` (``presenceSubscription deleted`` unless ``event`` is false)."""
        mine = self._subs.get(sub.app.id, {})
        if mine.get(sub.id) is not sub:
            return
        del mine[sub.id]
        for user in list(sub.members.values()):
            self.remove(sub, user)
        if sub.timer is not None:
            sub.timer.cancel()
            sub.timer = None
        if event:
            self._event(sub, "deleted")

    def forget_application(self, app: Application) -> None:
        """Drop every subscription of ``app`` silently (it ended, or its state was reset)."""
        for sub in list(self._subs.get(app.id, {}).values()):
            self.unsubscribe(sub, event=False)
        self._subs.pop(app.id, None)

    def _schedule(self, sub: Subscription) -> None:
        if sub.timer is not None:
            sub.timer.cancel()
        left = sub.expires_at - self._clock.monotonic()
        if left > EXPIRY_WARNING:
            sub.timer = self._clock.call_later(left - EXPIRY_WARNING, self._warn, sub)
        else:
            sub.timer = self._clock.call_later(left, self._expire, sub)

    def _warn(self, sub: Subscription) -> None:
        self._event(sub, "updated")  # "about to expire": the client may extend it
        sub.timer = self._clock.call_later(
            sub.expires_at - self._clock.monotonic(), self._expire, sub
        )

    def _expire(self, sub: Subscription) -> None:
        sub.timer = None
        if sub.expires_at > self._clock.monotonic():
            self._schedule(sub)  # extended meanwhile
        else:
            self.unsubscribe(sub)

    @staticmethod
    def _event(sub: Subscription, kind: str) -> None:
        people = f"{sub.app.base}/people"
        event = {"link": {"rel": "presenceSubscription", "href": sub.href}, "type": kind}
        sub.app.channel.push("people", people, event, Priority.MEDIUM)


# -- resources ------------------------------------------------------------------------


def my_presence(app: Application, shown: tuple[str, str | None]) -> dict[str, Any]:
    """``GET me/presence``."""
    out: dict[str, Any] = {"availability": shown[0]}
    if shown[1] == "off-work":
        out["activity"] = "Off Work"
    out["_links"] = {"self": {"href": f"{app.base}/me/presence"}}
    out["rel"] = "presence"
    return out


def contact_presence(
    app: Application, user: SimulatorUser, shown: tuple[str, str | None]
) -> dict[str, Any]:
    """``GET people/<user>/presence``."""
    out: dict[str, Any] = {"availability": shown[0]}
    if shown[1] is not None:
        out["activity"] = shown[1]
    out["_links"] = {"self": {"href": f"{app.base}/people/{user.address}/presence"}}
    out["rel"] = "contactPresence"
    return out


def subscription(sub: Subscription) -> dict[str, Any]:
    return {
        "id": sub.id,
        "_links": {
            "self": {"href": sub.href},
            "addToPresenceSubscription": {"href": f"{sub.href}/addToPresenceSubscription"},
            "memberships": {"href": f"{sub.href}/memberships"},
        },
        "rel": "presenceSubscription",
    }


def subscriptions(app: Application, subs: list[Subscription]) -> dict[str, Any]:
    out: dict[str, Any] = {"_links": {"self": {"href": f"{app.base}/people/presenceSubscriptions"}}}
    out["_embedded"] = {"presenceSubscription": [subscription(s) for s in subs]}
    out["rel"] = "presenceSubscriptions"
    return out


def membership(sub: Subscription, user: SimulatorUser) -> dict[str, Any]:
    return {
        "_links": {
            "self": {"href": sub.membership_href(user)},
            "contact": {"href": f"{sub.app.base}/people/{user.address}"},
            "presenceSubscription": {"href": sub.href},
        },
        "rel": "presenceSubscriptionMembership",
    }


def memberships(self_href: str, pairs: list[tuple[Subscription, SimulatorUser]]) -> dict[str, Any]:
    return {
        "_links": {"self": {"href": self_href}},
        "_embedded": {"presenceSubscriptionMembership": [membership(s, u) for s, u in pairs]},
        "rel": "presenceSubscriptionMemberships",
    }
