"""A campaign run whose worker is killed is carried on by the worker that takes the account.

Two ``ucwa-flow serve`` workers share one PostgreSQL store and one bot account whose flow is
a campaign (three people, one at a time, a report at the end). The run is started on the
owner's admin endpoint; once the first person is done and the second one's conversation is
under way, the owner is killed (``SIGKILL``: nothing is withdrawn, released or committed on
the way out). The other worker takes the account over when the lease expires and, as
docs/flow-language.md ("Restarts") says of a restart or a move to another worker: the
conversation under way carries on in its run, the last person is invited, and the report is
sent once, with all three outcomes and the variables every part set; the run is then
finished in the store. Every wait is on a condition, bounded by ``WAIT``.
"""

from __future__ import annotations

import signal
from pathlib import Path

from tests.e2e.campaign_poll import FLOW
from tests.e2e.failover_world import PASSWORD, bot, deployment, schema
from tests.e2e.harness import Hooks, webhook_server
from tests.e2e.serving import ServeProcess, eventually
from tests.guards import WAIT
from ucwa_flow.clock import SystemClock
from ucwa_flow.simulator import Simulator, SimulatorConfig, SimulatorUser, default_users
from ucwa_flow.simulator.control import VirtualUser
from ucwa_flow.simulator.server import serve
from ucwa_flow.store import Store, open_store
from ucwa_flow.store.leases import LeaseBook

ACCOUNT = "p1"
LENE, ADRIANA, MARCO = "sip:lenea@contoso.com", "sip:adrianag@contoso.com", "sip:marco@contoso.com"
LEASE, HEARTBEAT = 3.0, 0.5
ASK = ["One question?", "Yes or no?"]


def _deployment(folder: Path, store: str, hooks: Hooks) -> Path:
    text = FLOW.replace("REPORT_URL", f"{hooks.url}/report")
    return deployment(folder, store, [ACCOUNT], LEASE, HEARTBEAT, ("poll.flow.yaml", text))


def _heard(person: VirtualUser) -> list[str]:
    return [m.text.strip() for m in person.received]


async def _hears(person: VirtualUser, count: int, *logs: ServeProcess) -> None:
    async def arrived() -> bool:
        return len(person.received) >= count

    await eventually(arrived, f"{person.uri} to hear {count} message(s)", *logs)


async def _answers(person: VirtualUser, text: str, *logs: ServeProcess) -> None:
    """``person`` is asked, says ``text``, is thanked and the bot ends the conversation."""
    await _hears(person, 2, *logs)
    assert _heard(person) == ASK
    person.send(text)
    await _hears(person, 3, *logs)
    assert _heard(person) == [*ASK, "Thanks."]
    await person.wait_for_state("ended", timeout=WAIT)


def _reports(hooks: Hooks) -> list[object]:
    return [body for (_, path, body) in hooks.received if path == "/report"]


async def test_a_campaign_run_of_a_killed_worker_is_carried_on_by_its_successor(
    tmp_path: Path,
) -> None:
    users = [
        *default_users(),
        SimulatorUser(MARCO, "Marco"),
        SimulatorUser(bot(ACCOUNT), ACCOUNT, PASSWORD),
    ]
    sim = Simulator(SimulatorConfig(users=users, medium_hold=0.5), SystemClock())
    people = {uri: sim.virtual_user(uri, auto_accept=True) for uri in (LENE, ADRIANA, MARCO)}
    with webhook_server() as hooks, schema() as (base, name, store_url):
        book = LeaseBook(await open_store(base, schema=name))
        store = await open_store(base, schema=name)
        try:
            async with serve(sim) as url:
                args = [str(_deployment(tmp_path, store_url, hooks)), "--server", url]
                env = {"DESK_PASSWORD": PASSWORD}
                workers = [ServeProcess(args, tmp_path / f"w{k}.log", env) for k in (0, 1)]
                try:
                    for proc in workers:
                        proc.start()
                        await proc.listening()
                    await _scenes(book, store, workers, people, hooks)
                finally:
                    for proc in workers:
                        await proc.close()
        finally:
            await book.store.aclose()
            await store.aclose()
            sim.close()


async def _scenes(
    book: LeaseBook,
    store: Store,
    workers: list[ServeProcess],
    people: dict[str, VirtualUser],
    hooks: Hooks,
) -> None:
    async def owner() -> ServeProcess | None:
        pids = {w.id: w.pid for w in await book.workers()}
        for lease in await book.owners():
            if lease.account == bot(ACCOUNT) and lease.valid and lease.worker in pids:
                return next((p for p in workers if p.pid == pids[lease.worker]), None)
        return None

    async def owned() -> bool:
        return await owner() is not None

    await eventually(owned, "a worker to take the account", *workers)
    first = await owner()
    assert first is not None
    (second,) = (p for p in workers if p is not first)

    async def signed_in() -> bool:
        async with first.admin() as http:
            return (await http.get("/readyz")).status_code == 200

    await eventually(signed_in, "the owner to sign in", first)
    async with first.admin() as http:
        started = await http.post(f"/accounts/{ACCOUNT}/outbound", json={"flow": "poll"})
    assert started.status_code == 202, started.text
    assert started.json()["campaign"]  # the run's id

    await _answers(people[LENE], "yes", first)
    adriana = people[ADRIANA]
    await _hears(adriana, 2, first)  # her part is under way (committed before it was sent)
    assert _heard(adriana) == ASK
    first.signal(signal.SIGKILL)
    assert await first.wait() == -signal.SIGKILL

    async def taken_over() -> bool:
        return await owner() is second

    await eventually(taken_over, "the other worker to take the account over", second)
    adriana.send("no")  # to the new owner: her conversation carried on in its run
    await _hears(adriana, 3, second)
    assert _heard(adriana) == [*ASK, "Thanks."]
    await adriana.wait_for_state("ended", timeout=WAIT)
    await _answers(people[MARCO], "yes", second)  # invited by the new owner

    async def reported() -> bool:
        return bool(_reports(hooks))

    await eventually(reported, "the report", second)

    async def finished() -> bool:
        return (await store.load(bot(ACCOUNT))).campaigns == ()

    await eventually(finished, "the run to be finished in the store", second)
    second.signal(signal.SIGTERM)
    assert await second.wait() == 0, second.tail()

    (report,) = _reports(hooks)  # once, also after the last worker stopped
    assert isinstance(report, dict)
    assert report["done"] == "3/3"
    assert report["yes"] == 2
    assert report["answers"] == [f"{LENE} yes", f"{ADRIANA} no", f"{MARCO} yes"]
    assert [(p["uri"], p["outcome"]) for p in report["people"]] == [
        (LENE, "accepted"),
        (ADRIANA, "accepted"),
        (MARCO, "accepted"),
    ]
    assert _heard(people[LENE]) == [*ASK, "Thanks."]  # nobody was invited twice
    assert _heard(people[MARCO]) == [*ASK, "Thanks."]
    assert all(len(person.states) == 1 for person in people.values())
