"""Schema versions, on both backends: an older store opens, a newer one is refused."""

from __future__ import annotations

import pytest

from tests.store.builders import ACCOUNT, conversation, position
from tests.store.conftest import Target
from ucwa_flow.store import SCHEMA_VERSION, Changes, StoreTooNew


async def test_a_new_store_is_at_the_latest_version(target: Target) -> None:
    store = await target.open()
    await store.aclose()
    rows = target.raw("SELECT version FROM schema_migrations ORDER BY version")
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


async def test_reopening_changes_nothing(target: Target) -> None:
    store = await target.open()
    await store.commit(ACCOUNT, Changes(position=position(1), conversations=(conversation(),)))
    await store.aclose()
    store = await target.open()
    try:
        assert (await store.load(ACCOUNT)).conversations == (conversation(),)
    finally:
        await store.aclose()
    assert len(target.raw("SELECT version FROM schema_migrations")) == SCHEMA_VERSION


async def test_a_store_written_by_an_older_version_opens_with_its_data(target: Target) -> None:
    old = await target.open(_upto=1)
    await old.aclose()
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(1,)]
    # data as version 1 wrote it, behind the store's back
    target.raw(
        "INSERT INTO applications (account, application_url, events_next, updated_at) "
        "VALUES (%s, %s, %s, %s)",
        (ACCOUNT, "/app/1", "/app/1/events?ack=7", 50.0),
    )
    target.raw(
        "INSERT INTO conversations (account, conversation, flow, flow_version, state, "
        "variables, misses, timers, pending, caller_uri, caller_name, status, ended_reason, "
        "secrets, extra, created_at, updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, "
        "%s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (
            ACCOUNT,
            "/conv/old",
            "helpdesk",
            "v1",
            "menu",
            '{"n":1}',
            2,
            '[{"name":"silence","due":90.0,"data":null}]',
            "[]",
            "sip:ann@contoso.com",
            None,
            "active",
            None,
            "[]",
            "{}",
            40.0,
            45.0,
        ),
    )

    store = await target.open()
    try:
        snapshot = await store.load(ACCOUNT)
    finally:
        await store.aclose()

    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]
    assert snapshot.application is not None
    assert snapshot.application.events_next == "/app/1/events?ack=7"
    (record,) = snapshot.conversations
    assert (record.conversation, record.state, record.variables, record.misses) == (
        "/conv/old",
        "menu",
        {"n": 1},
        2,
    )
    assert record.timers[0].due == 90.0


async def test_a_store_from_a_newer_version_is_refused_in_one_line(target: Target) -> None:
    store = await target.open()
    await store.aclose()
    target.raw(
        "INSERT INTO schema_migrations (version, description, applied_at) VALUES (%s, %s, %s)",
        (SCHEMA_VERSION + 40, "from the future", 0.0),
    )
    with pytest.raises(StoreTooNew) as caught:
        await target.open()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("the store "), message  # as StoreTooOld says it
    assert f"schema version {SCHEMA_VERSION + 40}" in message
    assert f"up to {SCHEMA_VERSION}" in message
    assert (target.schema or str(target.path)) in message
    assert not caught.value.retryable
    # refused, not damaged: the version row is all that is there
    assert target.raw("SELECT MAX(version) FROM schema_migrations") == [(SCHEMA_VERSION + 40,)]
