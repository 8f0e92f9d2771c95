"""Compiling a ``handoff`` action (:class:`~ucwa_flow.flow._handoff.Handoff`) from YAML.

The schema has checked the shape; here the agents' addresses, the texts and the durations
are compiled, and ``done: {command, goto}`` becomes the branch ``done``: one ``goto``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, cast

from ucwa_flow.flow._build_base import BuilderBase, text_of
from ucwa_flow.flow._handoff import (
    DEFAULT_DONE,
    DEFAULT_HANDOFF_TIMEOUT,
    DEFAULT_RING,
    Handoff,
    HandoffMode,
)
from ucwa_flow.flow._loader import Path
from ucwa_flow.flow._model import Action, Goto

__all__ = ["build_handoff"]


class _Builder(Protocol):
    def branch(self, raw: Mapping[str, Any], key: str, path: Path) -> tuple[Action, ...] | None:
        """The action list ``raw[key]`` compiled, ``None`` when not written."""


def build_handoff(builder: BuilderBase, raw: Mapping[str, Any], path: Path) -> list[Action]:
    """The ``handoff`` at ``path`` (``raw``: its mapping), or nothing when it is broken."""
    branches = cast(_Builder, builder)
    written = raw["to"] if isinstance(raw["to"], list) else [raw["to"]]
    to = tuple(builder.template(uri, (*path, "to", i)) for i, uri in enumerate(written))
    agents = tuple(t for t in to if t is not None)
    if len(agents) != len(to):
        return []
    done_raw = raw.get("done")
    done: tuple[Action, ...] | None = None
    command = DEFAULT_DONE
    if isinstance(done_raw, Mapping):
        command = text_of(done_raw.get("command", DEFAULT_DONE)).strip()
        goto = (*path, "done", "goto")
        done = (Goto(builder.goto_target(done_raw["goto"]), builder.loc(goto)),)
    return [
        Handoff(
            to=agents,
            mode=cast(HandoffMode, raw.get("mode", "first")),
            message=builder.template(raw.get("message"), (*path, "message")),
            subject=builder.template(raw.get("subject"), (*path, "subject")),
            importance=cast(Literal["normal", "high"], raw.get("importance", "normal")),
            timeout=builder.duration(
                raw.get("timeout"), (*path, "timeout"), DEFAULT_HANDOFF_TIMEOUT
            ),
            ring=builder.duration(raw.get("ring"), (*path, "ring"), DEFAULT_RING),
            done_command=command,
            done=done,
            connected=branches.branch(raw, "connected", path),
            no_answer=branches.branch(raw, "no_answer", path),
            agent_left=branches.branch(raw, "agent_left", path),
            location=builder.loc(path, key=True),
        )
    ]
