"""Transcripts, listings, export, retention and redaction, on both backends."""

from __future__ import annotations

from tests.store.builders import ACCOUNT, conversation, line
from ucwa_flow.store import REDACTED, Changes, ConversationQuery, Ending, Pruned, Store

OTHER = "sip:sales@contoso.com"


async def seed(store: Store) -> None:
    """Five conversations: two accounts, callers, flows, states and creation times."""
    people = [
        ("c1", ACCOUNT, "sip:ann@contoso.com", "Ann Smith", "helpdesk", "greeting", 100.0),
        ("c2", ACCOUNT, "sip:bob@contoso.com", "Bob Jones", "helpdesk", "menu", 200.0),
        ("c3", ACCOUNT, "sip:ann@contoso.com", "Ann Smith", "survey", "menu", 300.0),
        ("c4", OTHER, "sip:cy_x@fabrikam.com", "Cy", "sales", "greeting", 400.0),
        ("c5", ACCOUNT, None, None, "helpdesk", "greeting", 500.0),
    ]
    for key, account, uri, name, flow, state, created in people:
        record = conversation(
            key,
            account=account,
            caller_uri=uri,
            caller_name=name,
            flow=flow,
            state=state,
            created_at=created,
            updated_at=created,
        )
        lines = tuple(
            line(
                kind,
                {"text": f"{key} {n}"},
                key,
                at=created + n,
                entry=f"{key}-{n}",
                account=account,
            )
            for n, kind in enumerate(("message_in", "message_out", "message_in"))
        )
        await store.commit(account, Changes(conversations=(record,), transcript=lines))


async def keys(store: Store, **query: object) -> list[str]:
    found = await store.conversations(ConversationQuery(**query))  # type: ignore[arg-type]
    return [c.conversation.removeprefix("/conv/") for c in found]


async def test_listing_filters_and_orders_conversations(store: Store) -> None:
    await seed(store)
    assert await keys(store) == ["c1", "c2", "c3", "c4", "c5"]
    assert await keys(store, account=ACCOUNT) == ["c1", "c2", "c3", "c5"]
    assert await keys(store, caller="ann@") == ["c1", "c3"]
    assert await keys(store, caller="bob jones") == ["c2"]
    assert await keys(store, caller="y_x") == ["c4"]  # _ is a character, not a wildcard
    assert await keys(store, caller="a_n") == []
    assert await keys(store, flow="helpdesk") == ["c1", "c2", "c5"]
    assert await keys(store, state="menu") == ["c2", "c3"]
    assert await keys(store, since=200.0, until=400.0) == ["c2", "c3"]
    assert await keys(store, flow="helpdesk", state="greeting", account=ACCOUNT) == ["c1", "c5"]
    assert await keys(store, limit=2) == ["c1", "c2"]
    assert await keys(store, limit=2, offset=2) == ["c3", "c4"]
    assert await keys(store, status="ended") == []


async def test_listing_newest_first_and_by_part_of_the_href(store: Store) -> None:
    await seed(store)
    assert await keys(store, newest_first=True) == ["c5", "c4", "c3", "c2", "c1"]
    assert await keys(store, newest_first=True, limit=2, offset=1) == ["c4", "c3"]
    assert await keys(store, conversation="/CONV/c") == ["c1", "c2", "c3", "c4", "c5"]
    assert await keys(store, conversation="v/c4") == ["c4"]
    assert await keys(store, conversation="%") == []  # a character, not a wildcard
    exported = [
        c.conversation
        async for c, _ in store.export(
            ConversationQuery(newest_first=True, flow="helpdesk"), page=2
        )
    ]
    assert exported == ["/conv/c5", "/conv/c2", "/conv/c1"]


async def test_transcript_lines_are_counted_by_kind(store: Store) -> None:
    await seed(store)
    await store.commit(ACCOUNT, Changes(ends=(Ending("/conv/c2", "idle", 900.0),)))
    counts = await store.transcript_counts(
        [(ACCOUNT, "/conv/c2"), (OTHER, "/conv/c4"), (ACCOUNT, "/conv/c4"), (ACCOUNT, "/conv/c2")]
    )
    assert counts == {
        (ACCOUNT, "/conv/c2"): {"message_in": 2, "message_out": 1, "ended": 1},
        (OTHER, "/conv/c4"): {"message_in": 2, "message_out": 1},
    }
    assert await store.transcript_counts([]) == {}


async def test_how_each_conversation_ended_is_its_last_ended_line(store: Store) -> None:
    """The record says only who ended it (``bot``); the ``ended`` line says why."""
    await seed(store)
    shutdown = {"reason": "ended by the bot", "state": "menu", "why": "shutdown"}
    stop = {"reason": "ended by the bot", "state": "menu", "why": "stop"}
    await store.commit(
        ACCOUNT,
        Changes(
            ends=(Ending("/conv/c2", "idle", 900.0),),
            # the last written (seq), though its time is the earlier: a clock stepped back
            transcript=(line("ended", shutdown, "c1"), line("ended", stop, "c1", at=990.0)),
        ),
    )
    left = line("ended", {"reason": "ended by the caller"}, "c4", account=OTHER)
    await store.commit(OTHER, Changes(transcript=(left,)))
    asked = [(ACCOUNT, "/conv/c1"), (ACCOUNT, "/conv/c2"), (ACCOUNT, "/conv/c3")]
    asked += [(OTHER, "/conv/c4"), (ACCOUNT, "/conv/c4")]  # c4 of ACCOUNT: no ended line
    endings = await store.endings(asked)
    assert {key: (entry.kind, entry.data) for key, entry in endings.items()} == {
        (ACCOUNT, "/conv/c1"): ("ended", stop),  # the last one written
        (ACCOUNT, "/conv/c2"): ("ended", {"reason": "idle"}),
        (OTHER, "/conv/c4"): ("ended", {"reason": "ended by the caller"}),
    }
    assert endings[(ACCOUNT, "/conv/c1")].conversation == "/conv/c1"
    assert await store.endings([]) == {}


async def test_the_endings_of_more_conversations_than_one_query_lists(store: Store) -> None:
    """The keys go to the database 500 at a time (``_operations._CHUNK``): each chunk's
    endings, the last of each conversation, whichever chunk it is in."""
    hrefs = [f"many{n}" for n in range(1203)]
    lines = [line("ended", {"reason": "idle", "n": n}, key) for n, key in enumerate(hrefs)]
    lines.append(line("ended", {"reason": "again"}, hrefs[1100], at=1.0))  # the last one
    await store.commit(ACCOUNT, Changes(transcript=tuple(lines)))
    keys = [(ACCOUNT, f"/conv/{key}") for key in hrefs]
    endings = await store.endings([*keys, (OTHER, "/conv/many7"), *keys[:3]])
    assert set(endings) == set(keys)
    assert [endings[key].data.get("n") for key in keys[:1100]] == list(range(1100))
    assert endings[keys[1100]].data == {"reason": "again"}
    assert endings[keys[1202]].data == {"reason": "idle", "n": 1202}


async def test_a_transcript_comes_back_in_order(store: Store) -> None:
    await seed(store)
    await store.commit(
        ACCOUNT,
        Changes(transcript=(line("error", {"message": "no match"}, "c2", at=150.0),)),
    )
    entries = await store.transcript(ACCOUNT, "/conv/c2")
    # committed order, not the order of the times written on the entries
    assert [e.data.get("text", e.data.get("message")) for e in entries] == [
        "c2 0",
        "c2 1",
        "c2 2",
        "no match",
    ]
    assert await store.transcript(OTHER, "/conv/c2") == []


async def test_export_yields_every_conversation_with_its_transcript(store: Store) -> None:
    await seed(store)
    exported = [(c.conversation, [e.key for e in lines]) async for c, lines in store.export(page=2)]
    assert [key for key, _ in exported] == [f"/conv/c{n}" for n in range(1, 6)]
    assert exported[3] == ("/conv/c4", ["c4-0", "c4-1", "c4-2"])

    some = [c.conversation async for c, _ in store.export(ConversationQuery(caller="ann"))]
    assert some == ["/conv/c1", "/conv/c3"]


async def test_prune_deletes_only_what_ended_before_the_cutoff(store: Store) -> None:
    await seed(store)
    await store.commit(
        ACCOUNT,
        Changes(
            ends=(Ending("/conv/c1", "caller left", 1000.0), Ending("/conv/c2", "idle", 5000.0))
        ),
    )
    await store.commit(ACCOUNT, Changes(transcript=(line("error", {}, "ghost", at=10.0),)))

    assert await store.prune(before=2000.0) == Pruned(1, 0)

    assert await keys(store) == ["c2", "c3", "c4", "c5"]
    assert await store.transcript(ACCOUNT, "/conv/c1") == []
    assert await store.transcript(ACCOUNT, "/conv/ghost") == []
    assert len(await store.transcript(ACCOUNT, "/conv/c2")) == 4  # three lines and "ended"
    assert len(await store.transcript(ACCOUNT, "/conv/c3")) == 3  # old but still active
    assert await store.prune(before=2000.0) == Pruned(0, 0)


async def test_secret_variables_are_redacted_in_the_history(store: Store) -> None:
    record = conversation(secrets=frozenset({"pin", "card"}))
    await store.commit(
        ACCOUNT,
        Changes(
            conversations=(record,),
            transcript=(
                line("variable", {"name": "pin", "value": "1234"}),
                line("variable", {"name": "tries", "value": 2}),
            ),
        ),
    )
    # a later step that commits no record: the store knows the secrets already
    await store.commit(
        ACCOUNT,
        Changes(
            transcript=(
                line("matched", {"captures": {"card": "4111", "kind": "visa"}}),
                line("state", {"to": "menu", "variables": {"pin": "1234", "name": "Ann"}}),
            )
        ),
    )
    data = [e.data for e in await store.transcript(ACCOUNT, "/conv/conv1")]
    assert data == [
        {"name": "pin", "value": REDACTED},
        {"name": "tries", "value": 2},
        {"captures": {"card": REDACTED, "kind": "visa"}},
        {"to": "menu", "variables": {"pin": REDACTED, "name": "Ann"}},
    ]
    # the live conversation keeps the real value: it needs it to carry on
    (live,) = (await store.load(ACCOUNT)).conversations
    assert live.variables["pin"] == "1234"

    await store.commit(ACCOUNT, Changes(ends=(Ending("/conv/conv1", "done", 1100.0),)))
    (ended,) = await store.conversations()
    assert ended.variables["pin"] == REDACTED
    assert ended.variables["name"] == "Ann"


async def test_a_record_committed_as_ended_is_stored_redacted(store: Store) -> None:
    record = conversation(status="ended", ended_reason="stop")
    await store.commit(ACCOUNT, Changes(conversations=(record,)))
    (stored,) = await store.conversations()
    assert stored.variables["pin"] == REDACTED


async def test_an_ended_record_has_a_secrets_value_blanked_out_of_other_variables(
    store: Store,
) -> None:
    # a variable made from a secret (a sub-flow's result, a copy) holds its value under
    # another name: once the conversation ends, it is redacted by value too
    copies = {"pin": "4711", "ref": "ref-4711", "code": 4711, "also": ["4711"], "tries": 2}
    await store.commit(ACCOUNT, Changes(conversations=(conversation(variables=copies),)))
    (live,) = await store.conversations()
    assert live.variables == copies  # active: the real values
    ended = conversation("conv2", variables=copies, status="ended", ended_reason="stop")
    await store.commit(
        ACCOUNT,
        Changes(
            conversations=(ended,),
            ends=(Ending("/conv/conv1", "done", 1100.0),),
        ),
    )
    for record in await store.conversations():
        assert record.variables == {
            "pin": REDACTED,
            "ref": f"ref-{REDACTED}",
            "code": REDACTED,
            "also": [REDACTED],
            "tries": 2,
        }
