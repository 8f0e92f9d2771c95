"""ucwa-flow's own client over a real socket meets presence events and keeps working."""

from __future__ import annotations

from tests.integration.harness import LENE, TOSH, Party
from ucwa_flow.clock import ManualClock
from ucwa_flow.simulator import Simulator
from ucwa_flow.ucwa.events import GenericEvent


async def test_presence_and_contact_presence_reach_the_client_as_generic_records(
    sim: Simulator, sim_clock: ManualClock, tosh: Party, lene: Party
) -> None:
    [lene_app] = [a for a in sim.applications if a.user.uri == LENE]
    sim.presence.subscribe(lene_app, [sim.user(TOSH)], 10)
    await sim_clock.advance(5)  # presence events are Medium
    sub = await lene.expect("subscription added", lambda e: e.link.rel == "presenceSubscription")
    assert (type(sub), sub.sender.rel, sub.type) == (GenericEvent, "people", "added")
    first = await lene.expect("first contactPresence", lambda e: e.link.rel == "contactPresence")
    assert first.in_ is not None
    assert first.in_.href.endswith("/people/toshm@contoso.com")

    sim.set_availability(TOSH, "Busy")
    await sim_clock.advance(5)
    mine = await tosh.expect(
        "presence updated", lambda e: e.link.rel == "presence" and e.type == "updated"
    )
    assert (type(mine), mine.sender.rel) == (GenericEvent, "me")
    seen = await lene.expect("contactPresence", lambda e: e.link.rel == "contactPresence")
    assert (type(seen), seen.sender.rel, seen.conversation_href) == (GenericEvent, "people", None)
    presence = await lene.client.get(seen.link.href)
    assert presence["availability"] == "Busy"

    # the channel goes on: an IM still arrives after the presence news
    await lene.client.start_messaging(TOSH, subject="", operation_id="op-1", message="Hi")
    incoming = await tosh.invitation("started", "Incoming")
    assert incoming.from_uri == LENE
    assert (tosh.error, lene.error, tosh.records, lene.records) == (None, None, [], [])
