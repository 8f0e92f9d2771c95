"""Small flows for the routing, reload and limits tests, written inline.

:func:`desk` is a two-state flow whose replies carry a ``tag`` (so a test tells which flow,
and which version of it, answered); options add an invitation policy, drop the second
state (an incompatible version) or rename the first one.
"""

from __future__ import annotations

from ucwa_flow.flow import Flow, load_flow_text


def desk(
    name: str,
    tag: str,
    *,
    policy: str = "",
    second: bool = True,
    first_state: str = "menu",
    outbound: str = "",
    webhook_url: str | None = None,
) -> Flow:
    """A flow ``name`` whose every reply starts with ``tag``.

    ``first_state`` greets and goes to ``second`` on "next"; ``second`` (if kept) echoes.
    "stop" ends the conversation everywhere. ``webhook_url``: "hook" in the first state
    calls it and waits for the answer.
    """
    hook = ""
    if webhook_url is not None:
        hook = f"""
      - keywords: [hook]
        do:
          - webhook:
              url: {webhook_url}
              timeout: 30s
              success: [{{say: "{tag} hooked"}}]
              failure: [{{say: "{tag} hook failed"}}]
          - say: "{tag} after the hook"
"""
    text = f"""
version: 1
name: {name}
start: {first_state}
settings:
  idle_timeout: 1h
variables: {{seen: 0}}
{policy}
{outbound}
commands:
  stop:
    choice: [stop]
    say: "{tag} bye"
    do: [stop]
states:
  {first_state}:
    enter:
      - say: "{tag} hello"
    messages:
      - keywords: [next]
        goto: {"second" if second else first_state}{hook}
      - any: true
        say: "{tag} in {first_state}: {{{{ message }}}}"
"""
    if second:
        text += f"""
  second:
    enter:
      - say: "{tag} in second"
    messages:
      - any: true
        say: "{tag} second: {{{{ message }}}}"
"""
    return load_flow_text(text, f"{name}.flow.yaml").raise_for_errors()
