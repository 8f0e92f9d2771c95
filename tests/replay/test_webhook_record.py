"""What a transcript keeps of a webhook's answer, so that a replay can answer the same way:
the status, the body and the error, with the body redacted when it goes into a secret."""

from __future__ import annotations

from ucwa_flow.flow import ActionRef, Flow, load_flow_text
from ucwa_flow.runtime.services import Continuation
from ucwa_flow.runtime.webhooks import recorded_result

FLOW = """
version: 1
name: hooks
start: a
secrets: [token]
variables: {token: null, ticket: null}
states:
  a:
    enter:
      - webhook:
          url: http://127.0.0.1:9/token
          result: token
          success: [{goto: b}]
          failure: [{goto: b}]
  b:
    enter:
      - webhook:
          url: http://127.0.0.1:9/ticket
          result: ticket
          success: [stop]
          failure: [stop]
"""


def flow() -> Flow:
    return load_flow_text(FLOW, "hooks.flow.yaml").raise_for_errors()


def at(state: str) -> Continuation:
    return Continuation(ActionRef(f"states.{state}.enter", 0))


def test_the_answer_is_kept_and_a_secret_body_is_redacted() -> None:
    answer = {"status": 201, "json": {"id": "T-1"}, "error": None}
    hooks = flow()
    assert recorded_result(hooks, at("b"), answer) == answer
    assert recorded_result(hooks, at("a"), answer) == {**answer, "json": "[redacted]"}
    assert recorded_result(hooks, at("a"), None) is None
    assert recorded_result(hooks, Continuation(None), answer) == answer
