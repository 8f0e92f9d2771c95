"""``ConversationQuery(turned_away=...)``: the records of invitations the bot turned away
apart from its conversations, on both backends; and the review app's list of finished
conversations, which a burst of invitations turned away (an account at its limits) filled
so that no conversation was left in it."""

from __future__ import annotations

from ucwa_flow.review._stored import TURNED_AWAY_SHOWN, StoredConversations
from ucwa_flow.runtime.journal import Declined
from ucwa_flow.runtime.records import declined_record
from ucwa_flow.store import Changes, ConversationQuery, ConversationRecord, Store

BOT = "sip:helpdesk@contoso.com"
T0 = 1_767_600_000.0


def _href(name: str) -> str:
    return f"/ucwa/oauth/v1/applications/1/communication/conversations/{name}"


def _busy(n: int) -> ConversationRecord:
    declined = Declined(
        conversation=_href(f"busy{n}"),
        caller_uri=f"sip:caller{n}@contoso.com",
        caller_name=None,
        flow="helpdesk",
        version="d" * 64,
        secrets=frozenset(),
        decision="busy",
        by="limits",
    )
    return declined_record(declined, account=BOT, at=T0 + 10 + n)


async def _fill(store: Store, busy: int) -> None:
    """One conversation that ended, one under way, then ``busy`` invitations turned away."""
    ended = ConversationRecord(
        BOT, _href("ended"), "helpdesk", "d" * 64, "menu", T0, T0 + 1,
        status="ended", ended_reason="caller",
    )  # fmt: skip
    going = ConversationRecord(BOT, _href("going"), "helpdesk", "d" * 64, "menu", T0 + 2, T0 + 2)
    records = (ended, going, *(_busy(n) for n in range(busy)))
    await store.commit(BOT, Changes(conversations=records))


async def test_the_query_selects_or_leaves_out_invitations_turned_away(store: Store) -> None:
    await _fill(store, 3)

    async def names(**query: object) -> list[str]:
        found = await store.conversations(ConversationQuery(**query))  # type: ignore[arg-type]
        return [r.conversation.rsplit("/", 1)[1] for r in found]

    assert await names(turned_away=True) == ["busy0", "busy1", "busy2"]
    assert await names(turned_away=False) == ["ended", "going"]
    assert await names(turned_away=False, status="ended") == ["ended"]
    assert len(await names()) == 5


async def test_a_burst_turned_away_leaves_the_conversations_in_the_reviews_list(
    store: Store,
) -> None:
    await _fill(store, TURNED_AWAY_SHOWN + 5)
    rows = await StoredConversations(store, limit=10).recent()
    assert [row["id"] for row in rows if not row["declined"]] == ["ended"]
    assert sum(row["declined"] for row in rows) == TURNED_AWAY_SHOWN
    assert rows[0]["id"] == f"busy{TURNED_AWAY_SHOWN + 4}"  # newest first
