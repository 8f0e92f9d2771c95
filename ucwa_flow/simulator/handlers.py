"""Request handlers for the UCWA resources under ``/ucwa/oauth/v1/applications``.

Each handler gets a :class:`~ucwa_flow.simulator.http.Ctx` whose user is authenticated
and, below an application, whose application is live (the dispatcher answers 401, 404
ApplicationNotFound and 410 InactiveApplicationExpired before a handler runs).
"""

from __future__ import annotations

from starlette.responses import Response

from ucwa_flow.simulator import presence
from ucwa_flow.simulator import resources as res
from ucwa_flow.simulator.errors import UcwaErrorResponse, bad_request, not_found
from ucwa_flow.simulator.http import (
    Ctx,
    decode_data_url,
    empty,
    json_response,
    read_json,
    read_text,
)
from ucwa_flow.simulator.state import Conversation

__all__ = ["ROUTES"]

_IMPORTANCE = ("Normal", "Urgent", "Emergency")


def _string(body: dict[str, object], name: str, limit: int, required: bool) -> str | None:
    value = body.get(name.lower())
    if value is None or value == "":
        if required:
            raise bad_request([name])
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise bad_request([name])
    return value


# -- applications -----------------------------------------------------------------------


async def create_application(ctx: Ctx) -> Response:
    body = await read_json(ctx.request)
    missing = [n for n in ("UserAgent", "EndpointId", "Culture") if not body.get(n.lower())]
    if missing:
        raise bad_request(missing)
    user_agent = _string(body, "UserAgent", 100, True) or ""
    endpoint_id = _string(body, "EndpointId", 100, True) or ""
    culture = _string(body, "Culture", 100, True) or ""
    assert ctx.user is not None
    app, created = ctx.sim.create_application(ctx.user, endpoint_id, user_agent, culture)
    response = json_response(res.application(app), status=201 if created else 200)
    response.set_cookie("cwt_ucwa", app.put_marker, path=f"{app.base}/photos", httponly=True)
    return response


async def get_application(ctx: Ctx) -> Response:
    return json_response(res.application(ctx.app))


async def delete_application(ctx: Ctx) -> Response:
    ctx.sim.delete_application(ctx.app)
    return empty()


async def get_me(ctx: Ctx) -> Response:
    return json_response(res.me(ctx.app))


async def make_me_available(ctx: Ctx) -> Response:
    ctx.sim.make_me_available(ctx.app, await read_json(ctx.request))
    return empty()


async def report_my_activity(ctx: Ctx) -> Response:
    ctx.sim.report_activity(ctx.app)
    return empty()


async def me_part(ctx: Ctx) -> Response:
    app = ctx.app
    if not app.available:
        raise not_found()
    rel = ctx.request.url.path.rsplit("/", 1)[1]
    body: dict[str, object] = {"_links": {"self": {"href": f"{app.base}/me/{rel}"}}, "rel": rel}
    return json_response(body)


# -- people -----------------------------------------------------------------------------


async def get_people(ctx: Ctx) -> Response:
    return json_response(res.people(ctx.app))


async def get_contacts(ctx: Ctx) -> Response:
    others = [u for u in ctx.sim.users if u is not ctx.app.user]
    return json_response(res.contacts(ctx.app, others))


async def get_person(ctx: Ctx) -> Response:
    person = ctx.sim.find_user(ctx.params["person"])
    if person is None:
        raise not_found()
    if ctx.params.get("part"):
        shown = ctx.sim.presence.of(person)
        return json_response(presence.contact_presence(ctx.app, person, shown))
    return json_response(res.contact(ctx.app, person))


# -- communication ----------------------------------------------------------------------


async def get_communication(ctx: Ctx) -> Response:
    return json_response(res.communication(ctx.app))


async def get_conversations(ctx: Ctx) -> Response:
    return json_response(res.conversations(ctx.app))


async def start_messaging(ctx: Ctx) -> Response:
    body = await read_json(ctx.request)
    to = _string(body, "to", 256, False) or ctx.request.query_params.get("to")
    if not to:
        raise bad_request(["to"])
    subject = _string(body, "subject", 250, False) or ""
    operation_id = _string(body, "operationId", 50, False)
    importance = _string(body, "importance", 20, False) or "Normal"
    if importance not in _IMPORTANCE:
        raise bad_request(["importance"])
    first_text = first_html = None
    links = body.get("_links")
    if isinstance(links, dict) and isinstance(links.get("message"), dict):
        href = links["message"].get("href")
        if not isinstance(href, str):
            raise bad_request(["message"])
        text, media = decode_data_url(href)
        if media == "text/html":
            first_html = text
        else:
            first_text = text
    ctx.sim.touch(ctx.app)
    conv = ctx.sim.router.start(
        ctx.app.user,
        to,
        app=ctx.app,
        subject=subject,
        importance=importance,
        operation_id=operation_id,
        first_text=first_text,
        first_html=first_html,
    )
    location = f"{ctx.app.base}/communication/messagingInvitations/{conv.invitation_id}"
    return empty(201, location)


def _invitation(ctx: Ctx) -> Conversation:
    conv = ctx.app.invitations.get(ctx.params["inv"].lower())
    if conv is None:
        raise not_found("The invitation does not exist or has ended.")
    return conv


async def get_invitation(ctx: Ctx) -> Response:
    return json_response(res.messaging_invitation(_invitation(ctx)))


def _ringing(conv: Conversation) -> Conversation:
    if conv.direction != "Incoming" or conv.chat.state != "ringing":
        raise UcwaErrorResponse(409, "Conflict", None, "The invitation is no longer pending.")
    return conv


async def accept(ctx: Ctx) -> Response:
    conv = _ringing(_invitation(ctx))
    ctx.sim.touch(ctx.app)
    ctx.sim.router.accept(conv)
    return empty()


async def decline(ctx: Ctx) -> Response:
    conv = _ringing(_invitation(ctx))
    body = await read_json(ctx.request)
    reason = body.get("reason", "Local")
    if not isinstance(reason, str):
        raise bad_request(["reason"])
    ctx.sim.router.decline(conv, everywhere=reason.lower() == "global")
    return empty()


# -- conversations ----------------------------------------------------------------------


def _conversation(ctx: Ctx) -> Conversation:
    conv = ctx.app.conversations.get(ctx.params["conv"].lower())
    if conv is None:
        raise not_found("The conversation does not exist or has ended.")
    return conv


def _connected(conv: Conversation) -> Conversation:
    if not conv.connected:
        raise UcwaErrorResponse(
            409, "Conflict", None, "Messaging is not connected in this conversation."
        )
    return conv


async def get_conversation(ctx: Ctx) -> Response:
    return json_response(res.conversation(_conversation(ctx)))


async def delete_conversation(ctx: Ctx) -> Response:
    ctx.sim.router.stop(_conversation(ctx))
    return empty()


async def get_messaging(ctx: Ctx) -> Response:
    return json_response(res.messaging(_conversation(ctx)))


async def send_message(ctx: Ctx) -> Response:
    conv = _connected(_conversation(ctx))
    text, media = await read_text(ctx.request)
    query = {k.lower(): v for k, v in ctx.request.query_params.items()}
    operation_id = query.get("operationcontext") or query.get("operationid")
    ctx.sim.touch(ctx.app)
    html = text if media == "text/html" else None
    msg = ctx.sim.router.send(conv, text, html, operation_id)
    return empty(201, f"{conv.base}/messaging/messages/{msg.number}")


async def get_message(ctx: Ctx) -> Response:
    conv = _conversation(ctx)
    msg = conv.messages.get(int(ctx.params["n"]))
    if msg is None:
        raise not_found()
    return json_response(res.message(conv, msg))


async def terminate(ctx: Ctx) -> Response:
    ctx.sim.router.stop(_conversation(ctx))
    return empty()


async def typing(ctx: Ctx) -> Response:
    conv = _connected(_conversation(ctx))
    ctx.sim.touch(ctx.app)
    ctx.sim.router.typing(conv)
    return empty()


async def typing_participants(ctx: Ctx) -> Response:
    conv = _conversation(ctx)
    href = f"{conv.base}/messaging/typingParticipants"
    links: dict[str, object] = {"self": {"href": href}}
    peer = conv.chat.other(conv)
    if peer is not None and peer.typing_timer is not None:
        links["participant"] = [res.participant_link(conv, conv.remote, conv.remote.name)]
    return json_response({"_links": links, "rel": "typingParticipants"})


async def get_participant(ctx: Ctx) -> Response:
    conv = _conversation(ctx)
    who = ctx.params["who"].lower()
    if who == conv.owner.address.lower():
        body = res.local_participant(conv)
    elif (who == conv.remote.address.lower() and conv.state == "Connected") or (
        who == conv.remote.address.lower() and conv.direction == "Incoming"
    ):
        body = res.participant(conv, conv.remote)
    else:
        raise not_found()
    if ctx.params.get("part"):
        user = conv.owner if who == conv.owner.address.lower() else conv.remote
        body = res.participant_messaging(conv, user)
    return json_response(body)


# -- events -----------------------------------------------------------------------------


async def events(ctx: Ctx) -> Response:
    query = {k.lower(): v for k, v in ctx.request.query_params.items()}
    try:
        ack = int(query["ack"])
    except (KeyError, ValueError):
        raise bad_request(["ack"]) from None
    body = await ctx.app.channel.poll(ack, query)
    return json_response(body)


_A = r"/ucwa/oauth/v1/applications/(?P<app>\d+)"
_C = _A + r"/communication/conversations/(?P<conv>[0-9a-fA-F-]+)"
_I = _A + r"/communication/messagingInvitations/(?P<inv>[0-9a-fA-F]+)"

#: (path regex, scope, {method: handler}); scope "user" needs a token, "app" a live app.
ROUTES = [
    (r"/ucwa/oauth/v1/applications", "user", {"POST": create_application}),
    (_A, "app", {"GET": get_application, "DELETE": delete_application}),
    (_A + r"/me", "app", {"GET": get_me}),
    (_A + r"/me/makeMeAvailable", "app", {"POST": make_me_available}),
    (_A + r"/me/reportMyActivity", "app", {"POST": report_my_activity}),
    (_A + r"/reportMyActivity", "app", {"POST": report_my_activity}),  # the reference's form
    (_A + r"/me/(?:note|location)", "app", {"GET": me_part}),
    (_A + r"/people", "app", {"GET": get_people}),
    (_A + r"/people/contacts", "app", {"GET": get_contacts}),
    (_A + r"/people/(?P<person>[^/]+@[^/]+)(?P<part>/presence)?", "app", {"GET": get_person}),
    (_A + r"/communication", "app", {"GET": get_communication}),
    (_A + r"/communication/conversations", "app", {"GET": get_conversations}),
    (_A + r"/communication/messagingInvitations", "app", {"POST": start_messaging}),
    (_I, "app", {"GET": get_invitation}),
    (_I + r"/accept", "app", {"POST": accept}),
    (_I + r"/decline", "app", {"POST": decline}),
    (_C, "app", {"GET": get_conversation, "DELETE": delete_conversation}),
    (_C + r"/messaging", "app", {"GET": get_messaging}),
    (_C + r"/messaging/messages", "app", {"POST": send_message}),
    (_C + r"/messaging/messages/(?P<n>\d{1,9})", "app", {"GET": get_message}),
    (_C + r"/messaging/terminate", "app", {"POST": terminate}),
    (_C + r"/messaging/typing", "app", {"POST": typing}),
    (_C + r"/messaging/typingParticipants", "app", {"GET": typing_participants}),
    (_C + r"/participants/(?P<who>[^/]+)(?P<part>/messaging)?", "app", {"GET": get_participant}),
    (_A + r"/events", "app", {"GET": events}),
]
