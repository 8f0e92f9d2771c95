"""Request handlers for search and presence: ``people/search``, ``me/presence``,
``people/presenceSubscriptions`` and their memberships.

The rules live in :mod:`ucwa_flow.simulator.presence`; these handlers validate requests
the way UCWA does (400 ParameterValidationFailure naming the parameter) and shape answers
like the reference samples.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import Response

from ucwa_flow.simulator import presence as pr
from ucwa_flow.simulator import resources as res
from ucwa_flow.simulator.config import SimulatorUser
from ucwa_flow.simulator.errors import bad_request, conflict, not_found
from ucwa_flow.simulator.http import Ctx, empty, json_response, read_json
from ucwa_flow.simulator.presence import MAX_MINUTES, MIN_MINUTES, Subscription

__all__ = ["ROUTES", "search_users"]

_QUERY_LIMIT = 256
_MAX_RESULTS = 100


def search_users(users: list[SimulatorUser], query: str) -> list[SimulatorUser]:
    """Users whose name, SIP URI or e-mail address contains ``query`` (any case).

    A user's e-mail address is their URI without ``sip:``, so matching the URI covers it.
    """
    needle = query.strip().lower()
    return [u for u in users if needle in u.name.lower() or needle in u.uri.lower()]


# -- search -----------------------------------------------------------------------------


async def search(ctx: Ctx) -> Response:
    query = {k.lower(): v for k, v in ctx.request.query_params.items()}
    text = query.get("query", "")
    if not text.strip() or len(text) > _QUERY_LIMIT:
        raise bad_request(["query"])
    limit = _MAX_RESULTS
    if "limit" in query:
        try:
            limit = int(query["limit"])
        except ValueError:
            raise bad_request(["limit"]) from None
        if not 1 <= limit <= _MAX_RESULTS:
            raise bad_request(["limit"])
    found = search_users(ctx.sim.users, text)
    asked = {"query": text} | ({"limit": str(limit)} if "limit" in query else {})
    body: dict[str, Any] = {
        "moreResultsAvailable": len(found) > limit,
        "_links": {"self": {"href": f"{ctx.app.base}/people/search?{urlencode(asked)}"}},
        "_embedded": {"contact": [res.contact(ctx.app, u) for u in found[:limit]]},
        "rel": "search",
    }
    return json_response(body)


# -- my presence ------------------------------------------------------------------------


def _available(ctx: Ctx) -> None:
    if not ctx.app.available:
        raise conflict("MakeMeAvailableRequired", "Call makeMeAvailable first.")


async def get_my_presence(ctx: Ctx) -> Response:
    _available(ctx)
    return json_response(pr.my_presence(ctx.app, ctx.sim.presence.of(ctx.app.user)))


async def set_my_presence(ctx: Ctx) -> Response:
    _available(ctx)
    body = await read_json(ctx.request)
    value = body.get("availability")
    if value is not None and pr.preferred(value) is None:
        raise bad_request(["availability"])
    ctx.sim.touch(ctx.app)
    ctx.sim.presence.set(ctx.app.user, value)
    return empty()


# -- subscriptions ----------------------------------------------------------------------


def _minutes(value: object) -> int:
    """A ``duration`` in minutes (a JSON number or a query string), within the range."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(["duration"])
    if not MIN_MINUTES <= value <= MAX_MINUTES:
        raise bad_request(["duration"])
    return value


def _contacts(ctx: Ctx, value: object, name: str) -> list[SimulatorUser]:
    """The known users among ``value`` (a list of URIs); unknown ones are skipped."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise bad_request([name])
    found = []
    for uri in value:
        user = ctx.sim.find_user(uri.strip().strip('"').replace(" ", ""))
        if user is not None:
            found.append(user)
    return found


def _subscription(ctx: Ctx) -> Subscription:
    sub = ctx.sim.presence.subscription(ctx.app, ctx.params["sub"])
    if sub is None:
        raise not_found("The presence subscription does not exist or has expired.")
    return sub


async def list_subscriptions(ctx: Ctx) -> Response:
    return json_response(pr.subscriptions(ctx.app, ctx.sim.presence.subscriptions(ctx.app)))


async def create_subscription(ctx: Ctx) -> Response:
    body = await read_json(ctx.request)
    minutes = _minutes(body.get("duration"))
    users = _contacts(ctx, body.get("uris"), "uris")
    sub = ctx.sim.presence.subscribe(ctx.app, users, minutes)
    response = json_response(pr.subscription(sub), status=201)
    response.headers["Location"] = sub.href
    return response


async def get_subscription(ctx: Ctx) -> Response:
    return json_response(pr.subscription(_subscription(ctx)))


async def extend_subscription(ctx: Ctx) -> Response:
    sub = _subscription(ctx)
    body = await read_json(ctx.request)
    query = {k.lower(): v for k, v in ctx.request.query_params.items()}
    ctx.sim.presence.extend(sub, _minutes(body.get("duration", query.get("duration"))))
    return json_response(pr.subscription(sub), status=201)


async def delete_subscription(ctx: Ctx) -> Response:
    ctx.sim.presence.unsubscribe(_subscription(ctx))
    return empty()


async def get_memberships(ctx: Ctx) -> Response:
    sub = _subscription(ctx)
    pairs = [(sub, u) for u in sub.members.values()]
    return json_response(pr.memberships(f"{sub.href}/memberships", pairs))


async def add_members(ctx: Ctx) -> Response:
    sub = _subscription(ctx)
    body = await read_json(ctx.request)
    added = ctx.sim.presence.add(sub, _contacts(ctx, body.get("contacturis"), "contactUris"))
    href = f"{ctx.app.base}/people/presenceSubscriptionMemberships"
    return json_response(pr.memberships(href, [(sub, u) for u in added]), status=201)


async def all_memberships(ctx: Ctx) -> Response:
    subs = ctx.sim.presence.subscriptions(ctx.app)
    pairs = [(s, u) for s in subs for u in s.members.values()]
    href = f"{ctx.app.base}/people/presenceSubscriptionMemberships"
    return json_response(pr.memberships(href, pairs))


def _membership(ctx: Ctx) -> tuple[Subscription, SimulatorUser]:
    sub = _subscription(ctx)
    user = ctx.sim.find_user(ctx.params["who"])
    if user is None or user.uri.lower() not in sub.members:
        raise not_found()
    return sub, user


async def get_membership(ctx: Ctx) -> Response:
    return json_response(pr.membership(*_membership(ctx)))


async def delete_membership(ctx: Ctx) -> Response:
    sub, user = _membership(ctx)
    ctx.sim.presence.remove(sub, user)
    return empty()


async def subscribed_contacts(ctx: Ctx) -> Response:
    seen: dict[str, SimulatorUser] = {}
    for sub in ctx.sim.presence.subscriptions(ctx.app):
        seen.update(sub.members)
    body = res.contacts(ctx.app, list(seen.values()))
    body["_links"]["self"]["href"] = f"{ctx.app.base}/people/subscribedContacts"
    body["rel"] = "subscribedContacts"
    return json_response(body)


_A = r"/ucwa/oauth/v1/applications/(?P<app>\d+)"
_P = _A + r"/people"
_S = _P + r"/presenceSubscriptions/(?P<sub>\d{1,9})"

#: (path regex, scope, {method: handler}), as in :data:`ucwa_flow.simulator.handlers.ROUTES`.
ROUTES = [
    (_A + r"/me/presence", "app", {"GET": get_my_presence, "POST": set_my_presence}),
    (_P + r"/search", "app", {"GET": search}),
    (
        _P + r"/presenceSubscriptions",
        "app",
        {"GET": list_subscriptions, "POST": create_subscription},
    ),
    (
        _S,
        "app",
        {"GET": get_subscription, "POST": extend_subscription, "DELETE": delete_subscription},
    ),
    (_S + r"/memberships", "app", {"GET": get_memberships, "POST": add_members}),
    (_S + r"/addToPresenceSubscription", "app", {"POST": add_members}),
    (_P + r"/presenceSubscriptionMemberships", "app", {"GET": all_memberships}),
    (
        _P + r"/presenceSubscriptionMemberships/(?P<sub>\d{1,9}),(?P<who>[^/]+@[^/]+)",
        "app",
        {"GET": get_membership, "DELETE": delete_membership},
    ),
    (_P + r"/subscribedContacts", "app", {"GET": subscribed_contacts}),
]
