"""The terminal transcript of ``ucwa-flow run`` keeps exactly one ``you>`` prompt on screen."""

from __future__ import annotations

import pytest

from ucwa_flow.cli._chat import Output as _Output


def test_a_line_redraws_the_prompt_and_prompt_does_not_repeat_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _Output(interactive=True)
    out.line("Chatting with the 'echo' bot")
    out.prompt()  # the prompt is already on screen: nothing more
    assert capsys.readouterr().out == "\r\x1b[KChatting with the 'echo' bot\nyou> "
    out.entered()  # Enter scrolled the prompt away: a fresh one
    out.prompt()
    assert capsys.readouterr().out == "you> "


def test_piped_output_has_no_prompt_or_escape_codes(capsys: pytest.CaptureFixture[str]) -> None:
    out = _Output(interactive=False)
    out.line("you: hello")
    assert capsys.readouterr().out == "you: hello\n"
