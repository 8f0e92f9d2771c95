"""Hot reload: a new version of a flow while its conversations run.

New conversations get the new version at once; a running conversation moves to it between
two steps when its state (and any place its pending work resumes at) exists in it, else it
keeps its version to the end. Every reply starts with the version's tag (H1, H2...), so
what a caller hears says which version answered. A durable bot records the move and a
restart carries the conversation on with the version of the flow it runs then.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.e2e.harness import EXTRA_USERS, LENE, stage
from tests.guards import WAIT
from tests.runtime.flows_for_routing import desk
from ucwa_flow.cli import main
from ucwa_flow.runtime import Catalog, Reloaded
from ucwa_flow.runtime import trace as t
from ucwa_flow.simulator import SimulatorUser, default_users
from ucwa_flow.store import ConversationQuery, Store

ANN = "sip:ann@contoso.com"
USERS = [*default_users(), *EXTRA_USERS, SimulatorUser(ANN, "Ann Example")]


def helpdesk(tag: str, **options: object) -> Catalog:
    return Catalog({"helpdesk": desk("helpdesk", tag, **options)})  # type: ignore[arg-type]


async def test_a_compatible_version_takes_over_running_conversations_between_steps() -> None:
    async with stage(helpdesk("H1"), users=USERS) as s:
        lene = await s.person(LENE)
        await lene.say("hi")
        assert await lene.hear(2) == ["H1 hello", "H1 in menu: hi"]
        await s.idle()
        v1 = s.bot.engine.catalog.get("helpdesk")
        v2 = desk("helpdesk", "H2")
        done = s.bot.engine.reload("helpdesk", v2)
        assert done == Reloaded("helpdesk", v2.digest, moved=1, kept=0)
        await lene.say("again")
        assert await lene.hear() == ["H2 in menu: again"]
        await lene.say("next")  # its next states are the new version's too
        assert await lene.hear() == ["H2 in second"]
        ann = await s.person(ANN)
        await ann.say("hello")  # a new conversation: the new version
        assert await ann.hear(2) == ["H2 hello", "H2 in menu: hello"]
        (moved,) = s.of(t.VersionChanged)
        assert (moved.flow, moved.old, moved.new) == ("helpdesk", v1.digest, v2.digest)
        await s.idle()
        versions = {i.caller_uri: i.flow.digest for i in s.bot.engine.instances.values()}
        assert versions == {LENE: v2.digest, ANN: v2.digest}
        versions = s.bot.engine.versions
        assert versions.machines() == [versions.machine(v2)]  # v1's is gone


async def test_a_conversation_whose_state_is_gone_keeps_its_version_to_the_end() -> None:
    async with stage(helpdesk("H1"), users=USERS) as s:
        lene = await s.person(LENE)
        await lene.say("hi")
        await lene.say("next")
        assert await lene.hear(3) == ["H1 hello", "H1 in menu: hi", "H1 in second"]
        await s.idle()
        engine = s.bot.engine
        v2 = desk("helpdesk", "H2", second=False)  # no `second` state any more
        assert engine.reload("helpdesk", v2) == Reloaded("helpdesk", v2.digest, 0, 1)
        await lene.say("still here")
        assert await lene.hear() == ["H1 second: still here"]  # the old version answers
        ann = await s.person(ANN)
        await ann.say("hello")
        assert await ann.hear(2) == ["H2 hello", "H2 in menu: hello"]
        await s.idle()
        assert len(engine.versions.machines()) == 2  # the old version still runs
        # a later version that has its state again takes it over
        v3 = desk("helpdesk", "H3")
        assert engine.reload("helpdesk", v3) == Reloaded("helpdesk", v3.digest, 2, 0)
        await lene.say("and now?")
        assert await lene.hear() == ["H3 second: and now?"]
        await lene.say("stop")
        assert await lene.hear() == ["H3 bye"]
        assert await lene.hear_end() == "the bot ended the conversation"
        assert not s.of(t.FlowError)
        await s.idle()
        assert len(engine.versions.machines()) == 1


@contextmanager
def slow_hook() -> Iterator[tuple[str, threading.Event, list[str]]]:
    """A webhook server that answers each request (201, ``{}``) once ``gate`` is set."""
    gate, received = threading.Event(), []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            received.append(self.path)
            gate.wait(WAIT)
            self.send_response(201)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", gate, received
    finally:
        gate.set()
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("webhook_kept", [True, False])
async def test_a_conversation_waiting_on_a_webhook_moves_only_if_the_new_version_has_it(
    webhook_kept: bool,
) -> None:
    with slow_hook() as (url, gate, received):
        async with stage(helpdesk("H1", webhook_url=url), users=USERS) as s:
            lene = await s.person(LENE)
            await lene.say("hi")
            assert await lene.hear(2) == ["H1 hello", "H1 in menu: hi"]
            await lene.say("hook")
            await s.until(lambda: len(received) == 1, "the webhook", idle=False)
            v2 = desk("helpdesk", "H2", webhook_url=url if webhook_kept else None)
            done = s.bot.engine.reload("helpdesk", v2)
            assert (done.moved, done.kept) == ((1, 0) if webhook_kept else (0, 1))
            gate.set()  # the answer comes
            tag = "H2" if webhook_kept else "H1"
            assert await lene.hear(2) == [f"{tag} hooked", f"{tag} after the hook"]
            await lene.say("later")
            assert await lene.hear() == [f"{tag} in menu: later"]
            assert not s.of(t.FlowError)


@pytest.fixture
def store(sqlite_store: Store) -> Store:
    return sqlite_store


async def test_a_restart_after_a_reload_carries_on_with_the_current_version(
    store: Store,
) -> None:
    v1, v2, v3 = (desk("helpdesk", tag) for tag in ("H1", "H2", "H3"))
    async with stage(Catalog({"helpdesk": v1}), users=USERS, store=store) as s:
        lene = await s.person(LENE)
        await lene.say("hi")
        assert await lene.hear(2) == ["H1 hello", "H1 in menu: hi"]
        await s.idle()
        assert s.bot.engine.reload("helpdesk", v2).moved == 1
        await lene.say("one")
        assert await lene.hear() == ["H2 in menu: one"]
        await s.idle()
        (record,) = await store.conversations(ConversationQuery())
        assert (record.flow, record.flow_version) == ("helpdesk", v2.digest)

        await s.crash()
        await s.restart(Catalog({"helpdesk": v2}))  # the version it ran
        await lene.say("two")
        assert await lene.hear() == ["H2 in menu: two"]
        await s.idle()

        await s.crash()
        await s.restart(Catalog({"helpdesk": v3}))  # the flow file changed while down
        await lene.say("three")
        assert await lene.hear() == ["H3 in menu: three"]
        await s.idle()
    (record,) = await store.conversations(ConversationQuery())
    assert (record.flow, record.flow_version) == ("helpdesk", v3.digest)
    lines = await store.transcript(record.account, record.conversation)
    changes = [line.data for line in lines if line.kind == "version"]
    assert changes == [
        {"flow": "helpdesk", "from": v1.digest, "to": v2.digest},
        {"flow": "helpdesk", "from": v2.digest, "to": v3.digest},
    ]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        await asyncio.to_thread(
            main, ["transcripts", "show", record.conversation, "--state", store.target]
        )
    shown = out.getvalue()
    assert f"helpdesk {v1.digest[:8]} -> {v2.digest[:8]}" in shown, shown
    assert f"helpdesk {v2.digest[:8]} -> {v3.digest[:8]}" in shown, shown


async def test_a_conversation_of_a_flow_no_longer_run_ends_politely_after_a_restart(
    store: Store,
) -> None:
    flows = Catalog({"helpdesk": desk("helpdesk", "H"), "vip": desk("vip", "V")}, default="vip")
    async with stage(flows, users=USERS, store=store) as s:
        lene = await s.person(LENE)
        await lene.say("hi")
        assert await lene.hear(2) == ["V hello", "V in menu: hi"]
        await s.idle()
        await s.crash()
        await s.restart(Catalog({"helpdesk": desk("helpdesk", "H")}))
        changed = s.bot.flow.settings.changed_message  # the default flow's
        assert await lene.hear() == [changed]
        assert await lene.hear_end() == "the bot ended the conversation"
        errors = [r.message for r in s.of(t.FlowError)]
        assert errors == ["ended after a restart: its flow 'vip' is not run any more"]
