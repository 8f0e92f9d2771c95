"""The baseline: the simplest UCWA echo bot that could work, in plain httpx, no engine.

    python bench/baseline_echo.py SERVER_URL USER PASSWORD

Signs in (autodiscover, WebTicket OAuth), creates an application, makes itself available,
then runs one P-GET loop (on a connection of its own): it accepts every incoming
invitation and answers every incoming message with ``You said: <text>`` (what the echo
flow answers). No state machines, no retries, no error handling: it is the yardstick the
benchmark compares ucwa-flow with.
Prints ``ready`` on stdout once it can take invitations; stops on SIGINT or SIGTERM.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import uuid
from typing import Any
from urllib.parse import unquote_plus

import httpx

#: requests in flight and connections kept (``UCWA_BENCH_POOL``, which the ucwa-flow bot
#: reads too; 16 by default, UcwaClient's default), idle connections kept alive
#: (``UCWA_BENCH_KEEPALIVE``, default: all of them)
POOL = int(os.environ.get("UCWA_BENCH_POOL") or 16)
KEEPALIVE = int(os.environ.get("UCWA_BENCH_KEEPALIVE") or POOL)


async def echo_bot(server: str, user: str, password: str) -> None:
    # the usual httpx advice: a pool of its own for the long poll (one connection), requests
    # bounded by the pool; the pool's size is ucwa-flow's (the same transport tuning)
    limits = httpx.Limits(max_connections=POOL, max_keepalive_connections=KEEPALIVE)
    bound = asyncio.Semaphore(POOL)
    one = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=240.0), limits=limits) as http,
        httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=240.0), limits=one) as poll,
    ):
        user_href = (await http.get(server)).json()["_links"]["user"]["href"]
        challenge = ",".join((await http.get(user_href)).headers.get_list("www-authenticate"))
        oauth = re.search(r'MsRtcOAuth\s+href="?([^",]+)"?', challenge)
        assert oauth is not None, challenge
        form = {"grant_type": "password", "username": user[4:], "password": password}
        token = (await http.post(oauth[1], data=form)).json()
        http.headers["Authorization"] = f"{token['token_type']} {token['access_token']}"
        apps = (await http.get(user_href)).json()["_links"]["applications"]["href"]
        http.base_url = httpx.URL(apps).copy_with(path="/", query=None)
        poll.headers["Authorization"] = http.headers["Authorization"]
        poll.base_url = http.base_url
        me = {"UserAgent": "baseline-echo", "EndpointId": str(uuid.uuid4()), "Culture": "en-US"}
        app = (await http.post(apps, json=me)).json()
        available = app["_embedded"]["me"]["_links"]["makeMeAvailable"]["href"]
        await http.post(available, json={"SupportedModalities": ["Messaging"]})
        print("ready", flush=True)
        send_links: dict[str, str] = {}  # messaging href -> its sendMessage href
        tasks: set[asyncio.Task[Any]] = set()

        async def post(href: str, **kwargs: Any) -> None:
            async with bound:
                await http.post(href, **kwargs)

        def spawn(href: str, **kwargs: Any) -> None:
            task = asyncio.create_task(post(href, **kwargs))
            tasks.add(task)
            task.add_done_callback(tasks.discard)

        link = app["_links"]["events"]["href"]
        while True:
            body = (await poll.get(link)).json()
            link = body["_links"].get("next", body["_links"].get("resync", {})).get("href", link)
            for sender in body.get("sender", []):
                for event in sender["events"]:
                    rel = event["link"]["rel"]
                    res = event.get("_embedded", {}).get(rel, {})
                    links = res.get("_links", {})
                    if rel == "messagingInvitation" and event["type"] == "started":
                        if res.get("direction") == "Incoming":
                            spawn(links["accept"]["href"])
                    elif rel == "messaging" and "sendMessage" in links:
                        send_links[event["link"]["href"]] = links["sendMessage"]["href"]
                    elif rel == "message" and res.get("direction") == "Incoming":
                        text = unquote_plus(links["plainMessage"]["href"].partition(",")[2])
                        target = send_links.get(links["messaging"]["href"])
                        if target is not None:
                            reply = "You said: " + text.rstrip("\r\n")
                            headers = {"Content-Type": "text/plain; charset=utf-8"}
                            spawn(target, content=reply.encode(), headers=headers)


def main() -> None:
    server, user, password = sys.argv[1:4]
    loop = asyncio.new_event_loop()
    task = loop.create_task(echo_bot(server, user, password))
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
