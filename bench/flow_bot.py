"""ucwa-flow's side of the benchmark: a :class:`~ucwa_flow.runtime.Bot` running a flow.

    python bench/flow_bot.py SERVER_URL USER PASSWORD [FLOW]

Runs FLOW (default ``flows/echo.flow.yaml``) through the public API the way an embedding
application would: a :class:`~ucwa_flow.ucwa.UcwaClient` allowed as many requests in
flight as the baseline's plain httpx client (100), the system clock, no trace sink
(``ucwa-flow run`` also prints a transcript line per message, which is not what is
measured here). Prints ``ready`` on stdout once the bot can take invitations; on SIGINT
or SIGTERM it stops open conversations and deletes its application.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path

from ucwa_flow.clock import SystemClock
from ucwa_flow.flow import load_flow
from ucwa_flow.runtime import Bot
from ucwa_flow.ucwa import UcwaClient

ECHO = Path(__file__).resolve().parents[1] / "flows" / "echo.flow.yaml"
#: Requests in flight at once: httpx's default pool size, which the baseline bot gets.
#: (UcwaClient's own default is 50, half the 100 requests a front end lets one user have open.)
MAX_CONCURRENCY = 100


async def serve(server: str, user: str, password: str, flow_path: Path) -> None:
    result = load_flow(flow_path)
    if result.flow is None:
        raise SystemExit("\n".join(str(d) for d in result.diagnostics))
    client = UcwaClient(user, password, server_url=server, max_concurrency=MAX_CONCURRENCY)
    bot = Bot(result.flow, client, clock=SystemClock())
    try:
        await bot.start()
        print("ready", flush=True)
        await bot.run()
    finally:
        try:
            await bot.aclose()
        finally:
            await client.aclose()


def main() -> None:
    server, user, password = sys.argv[1:4]
    flow_path = Path(sys.argv[4]) if len(sys.argv) > 4 else ECHO
    loop = asyncio.new_event_loop()
    task = loop.create_task(serve(server, user, password, flow_path))
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
