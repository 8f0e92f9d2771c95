"""CPU per request of the request path alone: ucwa-flow's client against plain httpx.

    python -m bench.request_path [--requests N] [--in-flight 1 16 100] [--runs R]

Starts ``ucwa-flow simulate`` as its own process (its CPU is not counted), signs in as
toshm and then, in this process, sends ``N`` requests (a GET of the ``me`` resource and a
body-less POST of ``reportMyActivity``, alternating) with ``--in-flight`` of them under way
at once, through each of:

* ``lean``: :class:`~ucwa_flow.ucwa.UcwaClient` as shipped (its own HTTP/1.1 transport);
* ``httpcore``: the same client over httpx's default transport with the same pool
  (what ``UcwaClient`` used before);
* ``httpx``: a plain ``httpx.AsyncClient`` with the same pool and the bearer token as a
  header, as the baseline bot sends.

Every variant's pool holds ``max(in_flight, 16)`` connections. Prints the process CPU time
(``time.process_time``) per request of each, median and spread over ``--runs`` rounds in
rotating order, and each one's ratio to ``httpx`` in the same round.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from ucwa_flow.simulator import DEFAULT_PASSWORD
from ucwa_flow.ucwa import UcwaClient

USER = "sip:toshm@contoso.com"
Send = Callable[[int], Awaitable[object]]


async def timed(send: Send, requests: int, in_flight: int) -> float:
    """CPU microseconds per request of ``requests`` calls of ``send``, ``in_flight`` at once."""
    for n in range(50):  # warm up: connections open, caches filled
        await send(n)
    counter = iter(range(requests))

    async def worker() -> None:
        for n in counter:
            await send(n)

    start = time.process_time()
    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return (time.process_time() - start) / requests * 1e6


async def variant(name: str, url: str, pool: int, requests: int, in_flight: int) -> float:
    transport = None
    if name == "httpcore":
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        transport = httpx.AsyncHTTPTransport(limits=limits)
    client = UcwaClient(
        USER, DEFAULT_PASSWORD, server_url=url, max_concurrency=pool, transport=transport
    )
    async with client:
        app = await client.make_me_available()
        me, activity = app.me_href, app.report_my_activity_href
        assert me is not None
        assert activity is not None
        if name != "httpx":

            async def send(n: int) -> object:
                if n % 2:
                    return await client._send("POST", activity)
                return await client.get(me)

            return await timed(send, requests, in_flight)
        token = next(iter(client.auth._tokens.values())).authorization
        limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
        headers = {"Authorization": token, "Accept": "application/json"}
        async with httpx.AsyncClient(limits=limits, headers=headers) as http:

            async def plain(n: int) -> object:
                if n % 2:
                    return (await http.post(activity, content=b"")).raise_for_status()
                return (await http.get(me)).raise_for_status().json()

            return await timed(plain, requests, in_flight)


async def main_async(requests: int, counts: list[int], runs: int) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ucwa_flow", "simulate", "--port", "0",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    url = ""
    while not url:
        line = (await proc.stdout.readline()).decode()
        if not line:
            raise SystemExit("the simulator did not start")
        if match := re.search(r"(http://\S+?)/? ", line):
            url = match.group(1)
    drain = asyncio.create_task(proc.stdout.read())
    names = ["lean", "httpcore", "httpx"]
    try:
        for in_flight in counts:
            pool = max(in_flight, 16)
            cpu: dict[str, list[float]] = {n: [] for n in names}
            ratio: dict[str, list[float]] = {n: [] for n in names}
            for run in range(runs):
                got = {}
                for name in names[run % 3 :] + names[: run % 3]:
                    got[name] = await variant(name, url, pool, requests, in_flight)
                    cpu[name].append(got[name])
                for name in names:
                    ratio[name].append(got[name] / got["httpx"])
            print(f"{in_flight} in flight, pool {pool}, load {os.getloadavg()[0]:.1f}:")
            for name in names:
                c, r = cpu[name], ratio[name]
                print(
                    f"  {name:<9} {statistics.median(c):7.0f} us CPU/request "
                    f"[{min(c):.0f}-{max(c):.0f}]  ratio to httpx {statistics.median(r):.2f} "
                    f"[{min(r):.2f}-{max(r):.2f}]",
                    flush=True,
                )
    finally:
        proc.terminate()
        await proc.wait()
        drain.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.request_path")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--in-flight", type=int, nargs="+", default=[1, 16, 100])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main_async(args.requests, args.in_flight, args.runs))


if __name__ == "__main__":
    main()
