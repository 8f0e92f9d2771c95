"""``settings.format: html``: the part of ``say`` each conversation gets, and
``conversation.format`` in templates and conditions."""

from __future__ import annotations

from tests.e2e.harness import stage
from ucwa_flow.flow import Flow, load_flow_text
from ucwa_flow.runtime import trace as t

HTML = '<a href="https://kb.contoso.com/42">the article</a>'
TEXT = "the article: https://kb.contoso.com/42"

FLOW = f"""
version: 1
name: formats
start: kb
settings: {{format: html, idle_timeout: 10m}}
states:
  kb:
    enter:
      - say: {{html: '{HTML}', text: "{TEXT}"}}
      - if: "conversation.format == 'text'"
        then: [{{say: "(you read plain text)"}}]
        else: [{{say: "(you read HTML)"}}]
      - say: "Format: {{{{ conversation.format }}}}"
    messages:
      - choice: [bye]
        do: [stop]
"""


def _flow() -> Flow:
    result = load_flow_text(FLOW, "formats.flow.yaml")
    assert result.diagnostics == [], [str(d) for d in result.diagnostics]
    return result.raise_for_errors()


async def test_a_plain_text_conversation_gets_the_text_part_with_its_link() -> None:
    async with stage(_flow()) as s:
        lene = await s.person(formats=("Plain",))
        await lene.say("hello")
        assert await lene.hear(3) == [TEXT, "(you read plain text)", "Format: text"]
        await s.idle()
        (instance,) = s.bot.engine.instances.values()
        assert instance.conv.messaging.formats == ("Plain",)
        first = s.of(t.MessageOut)[0]
        assert (first.text, first.html) == (TEXT, None)  # sent as text/plain
        # what the simulated server delivered to lene: text only
        (chat,) = s.sim.router.live_chats.values()
        assert chat.caller is not None
        (received, *_) = [m for m in chat.caller.messages.values() if m.direction == "Incoming"]
        assert (received.text, received.html) == (TEXT, None)


async def test_an_html_conversation_gets_the_html_part() -> None:
    async with stage(_flow()) as s:
        lene = await s.person()
        await lene.say("hello")
        # the caller's plain view of an HTML message is the server's: the tags removed
        assert await lene.hear(3) == ["the article", "(you read HTML)", "Format: html"]
        await s.idle()
        first = s.of(t.MessageOut)[0]
        assert first.html == HTML
        (chat,) = s.sim.router.live_chats.values()
        assert chat.caller is not None
        (received, *_) = [m for m in chat.caller.messages.values() if m.direction == "Incoming"]
        assert received.html == HTML


async def test_with_format_text_an_html_conversation_gets_the_text_part() -> None:
    flow = load_flow_text(FLOW.replace("html, idle", "text, idle"), "f.yaml").raise_for_errors()
    async with stage(flow) as s:
        lene = await s.person()
        await lene.say("hello")
        assert await lene.hear(3) == [TEXT, "(you read HTML)", "Format: html"]
