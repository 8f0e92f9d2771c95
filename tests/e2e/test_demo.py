"""The README's first command, fed through a pipe: every branch of the helpdesk succeeds.

``ucwa-flow run flows/helpdesk.flow.yaml`` on the embedded simulator starts a demo ticket
service for ``ticket_url`` and a simulated agent for ``agent_uri``. These tests run the
real command as a subprocess; each stdin line waits for the bot's reaction, so the
transcript does not depend on the machine's speed. Only the simulated agent's lines may
interleave with the bot's "asking an agent" line, so where they fall is checked only
against what they cause.
"""

from __future__ import annotations

import subprocess

from tests.e2e.test_cli import _closed_port, ucwa_flow
from tests.e2e.test_helpdesk import AGENT, ASK_ID, HANDOFF, HELLO, MENU, NOT_AN_ID

LIMIT = 180.0  # seconds for a whole run; reached only when a test is about to fail
CONNECTED = (
    "bot: Helpdesk Agents from the service desk is with you now. Everything you write goes to them."
)
GREETING = "Hi, I'm taking over from the bot. How can I help?"
ANSWER = "Thanks, I have noted that and will follow up by e-mail today."
ANYTHING_ELSE = "bot: Is there anything else I can do for you? (yes or no)"
DESCRIBE = 'bot: In one sentence, what is the problem? (for example "the printer on floor 3 jams")'
MENU_LINES = "bot: " + MENU.replace("\n", "\n     ")


def run(*lines: str, args: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    stdin = "".join(line + "\n" for line in lines)
    done = ucwa_flow(
        "run",
        "flows/helpdesk.flow.yaml",
        "--agent-delay",
        "0.2",
        *args,
        stdin=stdin,
        timeout=LIMIT,
    )
    assert done.returncode == 0, done.stderr
    assert_no_error_line(done)
    return done


def assert_no_error_line(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr + done.stdout
    assert not [line for line in done.stdout.splitlines() if line.startswith("!")], done.stdout
    assert "error" not in done.stderr.lower(), done.stderr
    assert "failed" not in done.stdout, done.stdout


def in_order(text: str, *parts: str) -> None:
    """Each of ``parts`` appears in ``text``, each after the one before."""
    at = 0
    for part in parts:
        found = text.find(part, at)
        assert found >= 0, f"{part!r} missing after offset {at} in:\n{text}"
        at = found + len(part)


def test_every_branch_of_the_helpdesk_runs_on_the_simulator() -> None:
    done = run(
        # 1. a password reset: a wrong employee id, then a ticket from the demo service
        "hello", "help", "1", "it is e12", "sure, E123456", "maybe", "yes",
        # 2. hardware, by keyword, with a description that is too short
        "my laptop is broken", "eh", "the screen stays black", "E654321", "yes",
        # 3. something else, then three misses and the agent accepts, answers, hands back
        "menu", "3", "the coffee machine is sad", "E111111", "yes",
        "hey", "what", "hmm", "nope", "it makes no coffee", "no",
        # a new conversation: straight to an agent, then stop once back with the bot
        "hi", "4",
        "hello again", "bye",
    )  # fmt: skip
    out = done.stdout
    # the simulated world is announced
    assert "ticket_url = http://127.0.0.1:" in done.stderr
    assert f"{AGENT}: a simulated agent who accepts invitations after 0.2s" in done.stderr
    in_order(
        out,
        "you: hello\n",
        f"bot: {HELLO}\n{MENU_LINES}\n",
        "you: help\nbot: Type the number of a menu entry",
        f"you: 1\nbot: {ASK_ID}\n",
        f"you: it is e12\nbot: {NOT_AN_ID}\n",
        "you: sure, E123456\n"
        "bot: Ticket INC0001001 is open. IT will get back to you within the working day.\n"
        f"{ANYTHING_ELSE}\n",
        "you: maybe\nbot: Please answer yes or no.\n",
        f"you: yes\n{MENU_LINES}\n",
        f"you: my laptop is broken\n{DESCRIBE}\n",
        "you: eh\nbot: Could you describe it in a few more words?\n",
        f"you: the screen stays black\nbot: {ASK_ID}\n",
        "you: E654321\nbot: Ticket INC0001002 is open.",
        f"you: yes\n{MENU_LINES}\n",
        f"you: menu\n{MENU_LINES}\n",
        f"you: 3\n{DESCRIBE}\n",
        "you: E111111\nbot: Ticket INC0001003 is open.",
        "you: hey\nbot: Hello again! Just type a number from 1 to 4.\n",
        "you: what\nbot: Sorry, I didn't get that. Please answer 1, 2, 3 or 4.\n",
        "you: hmm\nbot: Just the number, please.",
        "you: nope\nbot: Let me find you a person instead.\n",
    )
    in_order(
        out,
        "you: nope\n",
        f"bot: {HANDOFF}\n",
        f"{CONNECTED}\nbot: Helpdesk Agents: {GREETING}\nyou: it makes no coffee\n",
    )
    in_order(
        out,
        "you: nope\n",
        f"* {AGENT} (simulated agent) accepted the bot's invitation\n",
        f"* {AGENT} (simulated agent) read: Lene Aaling (sip:lenea@contoso.com) needs help "
        "with: the coffee machine is sad. Type /done to give them back to the bot.\n",
        f"agent: {GREETING}\n",
        CONNECTED,
        "you: it makes no coffee\n",
        f"agent: {ANSWER}\nagent: /done\n",
        f"bot: Helpdesk Agents: {ANSWER}\n{ANYTHING_ELSE}\n",
        "you: no\nbot: You're welcome. Have a good day!\n* the bot ended the conversation\n",
        "you: hi\n",
        f"bot: {HELLO}\n",
        "you: 4\n",
        f"* {AGENT} (simulated agent) accepted the bot's invitation\n",
        f"agent: {GREETING}\n",
        CONNECTED,
        "you: hello again\n",
        f"agent: {ANSWER}\nagent: /done\n",
        f"bot: Helpdesk Agents: {ANSWER}\n{ANYTHING_ELSE}\n",
        "you: bye\nbot: Goodbye! Message me any time you need IT help.\n"
        "* the bot ended the conversation\n",
    )
    assert out.endswith("* the bot ended the conversation\n"), out


def test_leaving_while_an_agent_is_with_the_caller_ends_both_without_an_error() -> None:
    # the end of input stops the bot mid-handoff: the agent's conversation is ended before
    # the bot's application is deleted, and the caller's end, seen after, tells the agent
    # nothing more (it was sent after the application was gone: two "!" lines, a 404 each)
    done = run("hello", "4")
    in_order(done.stdout, "you: 4\n", f"agent: {GREETING}\n", CONNECTED)


def test_an_agent_who_declines_sends_the_caller_back_to_the_menu() -> None:
    done = run("hello", "agent", "no", args=("--agent-answer", "decline"))
    in_order(
        done.stdout,
        f"bot: {HANDOFF}\n",
        "bot: No agent is free right now. Please call the service desk on extension 4357.\n"
        f"{ANYTHING_ELSE}\n",
        "you: no\nbot: You're welcome. Have a good day!\n* the bot ended the conversation\n",
    )
    assert f"* {AGENT} (simulated agent) declined the bot's invitation\n" in done.stdout


def test_a_caller_from_another_domain_is_declined_with_the_flows_message() -> None:
    done = run("hello", args=("--caller", "sip:someone@fabrikam.com"))
    assert done.stdout == (
        "you: hello\n"
        "* declined the invitation from sip:someone@fabrikam.com\n"
        "bot: Sorry, this helpdesk only serves Contoso staff.\n"
        "* the bot ended the conversation\n"
    )
    assert "sip:someone@fabrikam.com: you, added to the simulator's users" in done.stderr


def test_a_ticket_url_set_with_var_is_not_simulated() -> None:
    with _closed_port() as port:
        url = f"http://127.0.0.1:{port}/tickets"
        done = ucwa_flow(
            "run",
            "flows/helpdesk.flow.yaml",
            "--var",
            f"ticket_url={url}",
            "--agent-delay",
            "0.2",
            stdin="hello\n1\nE123456\n",
            timeout=LIMIT,
        )
    assert done.returncode == 0, done.stderr
    assert "ticket_url" not in done.stderr  # not announced as simulated
    assert f"! POST {url} failed" in done.stdout
    assert "bot: Sorry, the ticket system is not answering." in done.stdout


def test_a_caller_is_any_sip_address_and_nothing_else() -> None:
    done = run("hello", args=("--caller", "someone@fabrikam.com"))
    assert "* declined the invitation from sip:someone@fabrikam.com" in done.stdout
    bad = ucwa_flow("run", "flows/helpdesk.flow.yaml", "--caller", "someone")
    assert bad.returncode == 2
    assert "'someone' is not a SIP address like sip:someone@fabrikam.com" in bad.stderr
