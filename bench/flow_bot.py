"""ucwa-flow's side of the benchmark: a :class:`~ucwa_flow.runtime.Bot` running a flow.

    python bench/flow_bot.py SERVER_URL USER PASSWORD [FLOW] [--state FILE]

Runs FLOW (default ``flows/echo.flow.yaml``) through the public API the way an embedding
application would: a :class:`~ucwa_flow.ucwa.UcwaClient` allowed as many requests in
flight as the baseline's plain httpx client (``UCWA_BENCH_POOL``, 16 by default: the
same transport tuning for both), the system clock, no trace sink
(``ucwa-flow run`` also prints a transcript line per message, which is not what is
measured here). Prints ``ready`` on stdout once the bot can take invitations; on SIGINT
or SIGTERM it stops open conversations and deletes its application.

With ``--state FILE`` the bot is durable: its conversations live in the SQLite store FILE
(:func:`~ucwa_flow.store.open_store`, WAL, ``synchronous=NORMAL``), each event batch is
committed before it is acknowledged and its messages are sent after the commit. On SIGINT
or SIGTERM it commits what is pending and leaves its conversations for a next start (the
harness gives it a fresh file each run), and writes one ``durable:`` line to stderr: the
batches it handled, the events in them and the commits it made.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ucwa_flow.clock import SystemClock
from ucwa_flow.flow import load_flow
from ucwa_flow.runtime import Bot
from ucwa_flow.store import Store, open_store
from ucwa_flow.ucwa import UcwaClient

ECHO = Path(__file__).resolve().parents[1] / "flows" / "echo.flow.yaml"
#: Requests in flight at once, and connections kept: 16 (UcwaClient's default) unless
#: UCWA_BENCH_POOL says otherwise (the baseline bot reads the same variable, same default)
POOL = int(os.environ.get("UCWA_BENCH_POOL") or 16)


async def serve(server: str, user: str, password: str, flow_path: Path, state: Path | None) -> None:
    result = load_flow(flow_path)
    if result.flow is None:
        raise SystemExit("\n".join(str(d) for d in result.diagnostics))
    store: Store | None = await open_store(state) if state is not None else None
    client = UcwaClient(user, password, server_url=server, max_concurrency=POOL)
    bot = Bot(result.flow, client, clock=SystemClock(), store=store)
    batches = events = 0
    if bot.durable is not None:  # count what the channel hands over, to report batch sizes
        durable, handle = bot.durable, bot.durable.handle

        async def counted(item: Any, application: str, next_url: str | None) -> None:
            nonlocal batches, events
            batches += 1
            events += len(getattr(item, "events", ()))
            await handle(item, application, next_url)

        durable.handle = counted  # type: ignore[method-assign]
    try:
        await bot.start()
        print("ready", flush=True)
        await bot.run()
    finally:
        try:
            await bot.aclose()
        finally:
            await client.aclose()
            if store is not None:
                await store.aclose()
            if bot.durable is not None:
                print(
                    f"durable: {batches} batches, {events} events, {bot.durable.commits} commits",
                    file=sys.stderr,
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(prog="flow_bot.py")
    parser.add_argument("server")
    parser.add_argument("user")
    parser.add_argument("password")
    parser.add_argument("flow", nargs="?", type=Path, default=ECHO)
    parser.add_argument("--state", type=Path, default=None, help="SQLite store (durable bot)")
    args = parser.parse_args()
    loop = asyncio.new_event_loop()
    task = loop.create_task(serve(args.server, args.user, args.password, args.flow, args.state))
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    finally:
        loop.close()


if __name__ == "__main__":
    main()
