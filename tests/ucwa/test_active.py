"""Reading what the server still has after a resync: the listing and a messaging resource,
as data, then over the wire against the in-process fake pool."""

from __future__ import annotations

import pytest

from tests.ucwa.fake_pool import APP, HOST, PASSWORD, FakePool, transport_for
from ucwa_flow.runtime.port import UcwaPort
from ucwa_flow.ucwa import UcwaClient
from ucwa_flow.ucwa.active import active_conversations, listed_conversations, messaging_record
from ucwa_flow.ucwa.errors import UcwaError

CONVS = "/ucwa/oauth/v1/applications/105/communication/conversations"


def test_the_listing_names_one_conversation_or_several_or_none() -> None:
    one = {"_links": {"self": {"href": f"{CONVS}?filter=active"}, "conversation": {"href": "/a"}}}
    several = {"_links": {"conversation": [{"href": "/a"}, {"href": "/b"}]}}
    assert listed_conversations(one) == ["/a"]
    assert listed_conversations(several) == ["/a", "/b"]
    assert listed_conversations({"_links": {"self": {"href": CONVS}}, "rel": "conversations"}) == []


def test_a_listing_with_odd_entries_keeps_the_hrefs_it_can_read() -> None:
    odd = {"_links": {"conversation": [{"href": "/a"}, {"href": ""}, {"title": "x"}, "junk"]}}
    assert listed_conversations(odd) == ["/a"]
    assert listed_conversations({"_links": []}) == []
    assert listed_conversations({}) == []


def test_a_messaging_resource_reads_as_the_event_that_would_carry_it() -> None:
    conv = f"{CONVS}/eee0"
    resource = {
        "state": "Connected",
        "negotiatedMessageFormats": ["Plain", "Html"],
        "_links": {
            "self": {"href": f"{conv}/messaging"},
            "sendMessage": {"href": f"{conv}/messaging/messages"},
            "stopMessaging": {"href": f"{conv}/messaging/terminate"},
        },
        "rel": "messaging",
    }
    record = messaging_record(conv, f"{conv}/messaging", resource)
    assert record.conversation_href == conv
    assert (record.type, record.state) == ("updated", "Connected")
    assert record.negotiated_formats == ("Plain", "Html")
    assert record.send_message_href == f"{conv}/messaging/messages"
    assert record.stop_messaging_href == f"{conv}/messaging/terminate"
    assert record.set_is_typing_href is None


# -- over the wire: which of the conversations the events named are still listed ----------


def _client(pool: FakePool) -> UcwaClient:
    return UcwaClient(
        "sip:toshm@contoso.com", PASSWORD, server_url=HOST, transport=transport_for(pool)
    )


async def test_relative_event_hrefs_are_compared_with_the_absolute_listing() -> None:
    pool = FakePool()
    conversations = f"{APP}/communication/conversations"
    # the listing names one conversation absolute, one relative with a query string
    pool.active = [f"{HOST}{conversations}/c1", f"{conversations}/c2?v=2"]
    named = [f"{conversations}/c1", f"{conversations}/c2?v=2", f"{conversations}/c3"]
    async with _client(pool) as client:
        assert await active_conversations(client) == {
            f"{HOST}{conversations}/c1",
            f"{HOST}{conversations}/c2?v=2",
        }
        assert await UcwaPort(client).still_open(named) == named[:2]  # as the events named them
    listings = [url for method, url in pool.requests if url.endswith("filter=active")]
    assert listings == [f"{HOST}{conversations}?filter=active"] * 2  # the link, query and all


async def test_a_conversation_listed_under_another_query_is_not_the_same_one() -> None:
    pool = FakePool()
    conversations = f"{APP}/communication/conversations"
    pool.active = [f"{conversations}/c1?v=2"]
    async with _client(pool) as client:
        assert await UcwaPort(client).still_open([f"{conversations}/c1"]) == []


async def test_without_a_conversations_link_the_error_names_it_and_what_follows() -> None:
    pool = FakePool()
    pool.conversations_link = False
    async with _client(pool) as client:
        before = len(pool.requests)
        with pytest.raises(UcwaError) as caught:
            await UcwaPort(client).still_open([f"{APP}/communication/conversations/c1"])
        assert len(pool.requests) == before + 1  # the application read again, once
    message = str(caught.value)
    assert "communication resource has no 'conversations' link" in message
    assert "the bot ends every conversation it lost track of" in message
