"""``ucwa-flow run --server``: what a caller types is printed, never obeyed by the terminal.

The bot of ``run`` prints each caller's messages and its own replies (which may quote
them). A caller on a real server is anyone in the organisation, or a federated one: an
escape sequence in their text (set the window title, clear the screen, write the
clipboard) or a carriage return (overwrite the line) is printed as its escape.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.e2e.harness import BOT, FLOWS, LENE, PASSWORD, transport
from tests.guards import WAIT
from ucwa_flow.cli._serving import Keep, Tls, on_server
from ucwa_flow.clock import SystemClock
from ucwa_flow.flow import load_flow
from ucwa_flow.runtime.caller import Caller
from ucwa_flow.simulator import Simulator, SimulatorConfig, serve
from ucwa_flow.ucwa import UcwaClient

EVIL = "hi\x1b]0;pwned\x07\x1b[2J\x1b[31m\x9b1m\rfake"


async def test_a_callers_escape_sequences_are_printed_as_escapes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = load_flow(FLOWS / "echo.flow.yaml").raise_for_errors()
    async with serve(Simulator(SimulatorConfig(seed=3)), host="127.0.0.1", port=0) as url:
        keep = Keep(str(tmp_path / "bot.sqlite3"), retention=86400.0)
        main = on_server(flow, url, BOT, PASSWORD, False, Tls(None, False), keep)
        bot = asyncio.create_task(main(None))
        client = UcwaClient(LENE, PASSWORD, server_url=url, transport=transport())
        lene = Caller(client, BOT, clock=SystemClock())
        try:
            async with asyncio.timeout(WAIT):  # the bot is signed in: it says so
                while "serving as" not in capsys.readouterr().err:  # noqa: ASYNC110 (a printed line)
                    await asyncio.sleep(0.05)
            await lene.start()
            await lene.chat(EVIL)
            await asyncio.wait_for(lene.wait_heard(2), WAIT)
        finally:
            bot.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await bot
            await lene.aclose()
            await lene.client.aclose()
            printed = capsys.readouterr().out
    for control in ("\x1b", "\x07", "\x9b", "\r"):
        assert control not in printed, ascii(printed)
    assert "lenea@contoso.com: hi\\u001b]0;pwned\\u0007\\u001b[2J" in printed, printed
    assert "bot: You said: hi\\u001b]0;pwned\\u0007\\u001b[2J" in printed, printed
