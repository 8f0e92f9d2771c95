"""Random faults: a seeded plan that spoils a fraction of requests, and says which.

:class:`FaultPlan` is chaos for reliability tests and demos, next to the exact rules of
:mod:`ucwa_flow.simulator.faults`. ``sim.faults.plan = FaultPlan(rate=0.05, seed=7)``
makes about one request in twenty (of one user, or of everyone) fail in one of these
ways, drawn from its own ``random.Random(seed)`` so that the same requests in the same
order get the same faults:

``5xx``
    a UCWA error body, 503 ``ServiceUnavailable`` (two in three) or 500 ``ServiceFailure``;
    the request is not performed. Any request.
``drop``
    the server does the work, then the connection breaks halfway through the answer (needs
    a real socket: :func:`~ucwa_flow.simulator.serve`). Any request.
``slow``
    the request waits 1-10 s on the simulator's clock before it is handled. Any request.
``pget-replaced``
    the event channel's pending GET answers 409 ``PGetReplaced``, as when a second P-GET
    takes its place. Event-channel GETs only.
``resync``
    the pending GET answers with only a ``resync`` link to the first unacknowledged batch.
    Event-channel GETs only.
``app-expired``
    the application expires now (:meth:`Simulator.expire_application`): this request and
    the next ones answer 410, later 404; its conversations end. Requests below an
    application only (never discovery, the token service or the application's creation).
``token-expired``
    the user's tokens expire now (:meth:`Simulator.expire_token`): 401 until a new one is
    fetched. Requests that carry a token issued at least :data:`TOKEN_MIN_AGE` seconds
    ago only (never the token service itself): a real token lives for hours, and one
    refused as soon as it was issued is another fault, played exactly by
    :meth:`Simulator.refuse_fresh_token` (a client takes it for a broken account at first
    sign-in, and signs in again after a back-off later).
``duplicate-batch``
    the events of the next batch are sent once more in the batch after
    (:meth:`Simulator.duplicate_next_batch`). Event-channel GETs only.

A request is first checked against the kinds that fit it; with probability ``rate`` one of
them is injected, chosen by weight (:data:`DEFAULT_WEIGHTS`: an application expiry or a
resync is rarer than a 503). The simulator's control API (``/_sim/...``) is never touched.
:meth:`FaultPlan.report` and :meth:`FaultPlan.summary` say what was injected, when, to whom.

:func:`parse_spec` reads the ``--faults`` text of ``ucwa-flow simulate``::

    rate=5%,kinds=5xx,drop,slow:2,resync,seed=7,user=sip:toshm@contoso.com
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ucwa_flow.simulator.faults import FaultRule
from ucwa_flow.simulator.state import APPLICATIONS_PATH

if TYPE_CHECKING:
    from ucwa_flow.simulator.config import SimulatorUser
    from ucwa_flow.simulator.core import Simulator
    from ucwa_flow.simulator.state import Application

__all__ = [
    "DEFAULT_WEIGHTS",
    "KINDS",
    "TOKEN_MIN_AGE",
    "FaultPlan",
    "FaultSpecError",
    "Injection",
    "parse_spec",
]

#: Every kind, in the order reports list them, with its default weight.
DEFAULT_WEIGHTS: dict[str, float] = {
    "5xx": 4.0,
    "drop": 3.0,
    "slow": 3.0,
    "pget-replaced": 2.0,
    "resync": 1.0,
    "app-expired": 0.5,
    "token-expired": 2.0,
    "duplicate-batch": 2.0,
}
KINDS = tuple(DEFAULT_WEIGHTS)
#: A token younger than this (seconds on the simulator's clock) is not expired by the plan.
TOKEN_MIN_AGE = 60.0

_EVENTS_ONLY = frozenset({"pget-replaced", "resync", "duplicate-batch"})
_APP_PATH = re.compile(re.escape(APPLICATIONS_PATH) + r"/(\d+)(/.*)?$", re.IGNORECASE)
_EVENTS_PATH = re.compile(re.escape(APPLICATIONS_PATH) + r"/\d+/events$", re.IGNORECASE)


class FaultSpecError(ValueError):
    """A ``--faults`` text that cannot be read; the message is one line."""


@dataclass(frozen=True, slots=True)
class Injection:
    """One injected fault: when (simulator clock), which kind, whose request, what."""

    at: float
    kind: str
    user: str | None
    method: str
    path: str
    detail: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "at": round(self.at, 3),
            "kind": self.kind,
            "user": self.user,
            "method": self.method,
            "path": self.path,
            "detail": self.detail,
        }


class FaultPlan:
    """Inject faults at random into a fraction of requests (see the module docstring).

    ``rate`` is the fraction (0-1) of fitting requests that get a fault; ``kinds`` the
    kinds to draw from, a list (default weights) or a mapping of kind to weight (all
    :data:`KINDS` when ``None``); ``seed`` seeds the plan's own random generator; ``user``
    (a SIP URI) limits the plan to that user's requests (``None``: everyone's, including
    requests that carry no token yet). With ``cover`` an injection picks a fitting kind
    not injected yet before the weights decide, so that a long enough run (a soak test)
    sees every kind. Install it with ``sim.faults.plan = plan``.
    """

    def __init__(
        self,
        rate: float,
        kinds: list[str] | tuple[str, ...] | dict[str, float] | None = None,
        *,
        seed: int | None = None,
        user: str | None = None,
        cover: bool = False,
    ) -> None:
        if not 0.0 <= rate <= 1.0:
            raise FaultSpecError(f"the fault rate must be between 0% and 100%, got {rate:g}")
        if kinds is None:
            weights = dict(DEFAULT_WEIGHTS)
        elif isinstance(kinds, dict):
            weights = dict(kinds)
        else:
            weights = {kind: DEFAULT_WEIGHTS.get(kind, 1.0) for kind in kinds}
        unknown = [kind for kind in weights if kind not in DEFAULT_WEIGHTS]
        if unknown:
            raise FaultSpecError(f"unknown fault kind {unknown[0]!r} (kinds: {', '.join(KINDS)})")
        if not weights or any(w <= 0 for w in weights.values()):
            raise FaultSpecError("fault kinds need positive weights")
        self.rate = rate
        self.weights = {kind: weights[kind] for kind in KINDS if kind in weights}
        self.seed = seed
        self.user = _sip(user) if user else None
        self.cover = cover
        self.requests = 0  # requests the plan could have spoilt
        self.injections: list[Injection] = []
        self._rng = random.Random(seed)

    # -- drawing --------------------------------------------------------------------------

    def draw(
        self, sim: Simulator, method: str, path: str, authorization: str | None
    ) -> FaultRule | None:
        """The fault for this request, if one is drawn (its side effects already done).

        Returns a one-off :class:`FaultRule` for the ASGI layer (an error, a drop, a delay
        or a body), a rule with none of those when the fault is a change of state (an
        expiry) that the request then meets, or ``None``.
        """
        if path.lower().startswith("/_sim"):
            return None
        token = sim.token_of(authorization)
        user = token.user if token is not None else None
        if self.user is not None and (user is None or user.uri.lower() != self.user):
            return None
        found = _APP_PATH.match(path)
        app = sim.application_by_id(found.group(1)) if found else None
        if app is not None and (app.expired_at is not None or app.user is not user):
            app = None
        expirable = token is not None and sim.clock.monotonic() - token.issued_at >= TOKEN_MIN_AGE
        fitting = self._fitting(method, path, app, expirable)
        if not fitting:
            return None
        self.requests += 1
        if self._rng.random() >= self.rate:
            return None
        kinds = list(fitting)
        if self.cover:
            done = {item.kind for item in self.injections}
            kinds = [k for k in kinds if k not in done] or kinds
        kind = self._rng.choices(kinds, weights=[fitting[k] for k in kinds])[0]
        rule, detail = self._inject(kind, sim, user, app)
        self.injections.append(
            Injection(sim.clock.monotonic(), kind, user.uri if user else None, method, path, detail)
        )
        return rule

    def _fitting(
        self, method: str, path: str, app: Application | None, expirable_token: bool
    ) -> dict[str, float]:
        events = app is not None and method.upper() == "GET" and bool(_EVENTS_PATH.match(path))
        fitting: dict[str, float] = {}
        for kind, weight in self.weights.items():
            if kind in _EVENTS_ONLY and not events:
                continue
            if kind == "app-expired" and app is None:
                continue
            if kind == "token-expired" and not expirable_token:
                continue
            fitting[kind] = weight
        return fitting

    def _inject(
        self, kind: str, sim: Simulator, user: SimulatorUser | None, app: Application | None
    ) -> tuple[FaultRule, str]:
        rule = FaultRule(method=None, path=re.compile(""))
        if kind == "5xx":
            rule.status = 503 if self._rng.random() < 2 / 3 else 500
            return rule, str(rule.status)
        if kind == "drop":
            rule.drop = True
            return rule, ""
        if kind == "slow":
            rule.delay = round(self._rng.uniform(1.0, 10.0), 1)
            return rule, f"{rule.delay:g} s"
        if kind == "pget-replaced":
            rule.status, rule.subcode = 409, "PGetReplaced"
            rule.message = "The pending GET request was replaced by a newer one."
            return rule, "409"
        assert app is not None or kind == "token-expired"
        if kind == "resync":
            assert app is not None
            href = app.channel.href(app.channel.first_unacked)
            rule.body = json.dumps({"_links": {"resync": {"href": href}}}).encode()
            return rule, href
        if kind == "app-expired":
            assert app is not None
            sim.expire_application(app)
            return rule, f"application {app.id}"
        if kind == "token-expired":
            assert user is not None
            sim.expire_token(user)
            return rule, ""
        assert app is not None  # duplicate-batch
        sim.duplicate_next_batch(app)
        return rule, ""

    # -- reporting ------------------------------------------------------------------------

    @property
    def counts(self) -> dict[str, int]:
        """Injections by kind, every kind of the plan listed (0 when none yet)."""
        counted = Counter(item.kind for item in self.injections)
        return {kind: counted[kind] for kind in self.weights}

    def report(self) -> dict[str, Any]:
        """The plan and what it injected, as JSON-ready data (``GET /_sim/faults``)."""
        return {
            "rate": self.rate,
            "kinds": self.weights,
            "seed": self.seed,
            "user": self.user,
            "requests": self.requests,
            "injected": len(self.injections),
            "byKind": self.counts,
            "log": [item.as_json() for item in self.injections],
        }

    def describe(self) -> str:
        """One line: what the plan will do (rate, whose requests, seed, kinds and weights)."""
        who = f"requests of {self.user}" if self.user else "requests"
        kinds = ", ".join(f"{kind}:{weight:g}" for kind, weight in self.weights.items())
        return f"{self.rate:.1%} of {who}, seed {self.seed}, kinds {kinds}"

    def summary(self) -> str:
        """One line: how many faults in how many requests, by kind."""
        kinds = ", ".join(f"{kind} {count}" for kind, count in self.counts.items())
        who = f" of {self.user}" if self.user else ""
        return (
            f"faults injected: {len(self.injections)} in {self.requests} requests{who} "
            f"(rate {self.rate:.1%}, seed {self.seed}): {kinds}"
        )


def parse_spec(spec: str) -> FaultPlan:
    """A :class:`FaultPlan` from ``rate=5%,kinds=5xx,drop:2,seed=7,user=sip:a@b``.

    Items are ``key=value`` separated by commas; the ``kinds`` list goes on over the
    commas up to the next ``key=``. ``rate`` is a percentage (``5%``) or a fraction
    (``0.05``) and is required; ``kinds`` defaults to all of them (``all`` says so too),
    each optionally with a ``:weight``; ``seed`` is an integer (default: a random plan);
    ``user`` limits the faults to one user's requests. Raises :class:`FaultSpecError`.
    """
    values: dict[str, list[str]] = {}
    key: str | None = None
    for raw in spec.split(","):
        item = raw.strip()
        if not item:
            raise FaultSpecError(f"empty item in fault spec {spec!r}")
        name, sep, value = item.partition("=")
        if sep:
            key = name.strip().lower()
            if key not in ("rate", "kinds", "seed", "user"):
                raise FaultSpecError(
                    f"unknown fault setting {name.strip()!r} (settings: rate, kinds, seed, user)"
                )
            if key in values:
                raise FaultSpecError(f"fault setting {key!r} given twice")
            values[key] = [value.strip()]
        elif key == "kinds":
            values[key].append(item)
        else:
            raise FaultSpecError(f"{item!r} in fault spec {spec!r} is not key=value")
    if "rate" not in values:
        raise FaultSpecError("the fault spec needs a rate, e.g. rate=5%")
    return FaultPlan(
        _rate(values["rate"][0]),
        _kinds(values.get("kinds")),
        seed=_seed(values.get("seed")),
        user=values["user"][0] if "user" in values else None,
    )


def _rate(text: str) -> float:
    try:
        rate = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise FaultSpecError(f"the fault rate {text!r} is not a number like 5% or 0.05") from None
    if not 0.0 <= rate <= 1.0:
        raise FaultSpecError(
            f"the fault rate {text!r} is not between 0% and 100% (write 5% or 0.05)"
        )
    return rate


def _kinds(items: list[str] | None) -> dict[str, float] | None:
    if items is None or items == ["all"]:
        return None
    weights: dict[str, float] = {}
    for item in items:
        kind, sep, weight = item.partition(":")
        kind = kind.strip().lower()
        if kind not in DEFAULT_WEIGHTS:
            raise FaultSpecError(f"unknown fault kind {kind!r} (kinds: {', '.join(KINDS)})")
        try:
            weights[kind] = float(weight) if sep else DEFAULT_WEIGHTS[kind]
        except ValueError:
            raise FaultSpecError(f"the weight of {kind!r} is not a number: {weight!r}") from None
        if weights[kind] <= 0:
            raise FaultSpecError(f"the weight of {kind!r} must be positive")
    return weights


def _seed(items: list[str] | None) -> int | None:
    if items is None:
        return None
    try:
        return int(items[0])
    except ValueError:
        raise FaultSpecError(f"the fault seed {items[0]!r} is not an integer") from None


def _sip(user: str) -> str:
    value = user.strip().lower()
    return value if value.startswith("sip:") else "sip:" + value
