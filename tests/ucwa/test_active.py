"""Reading what the server still has after a resync: the listing and a messaging resource."""

from __future__ import annotations

from ucwa_flow.ucwa.active import listed_conversations, messaging_record

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
