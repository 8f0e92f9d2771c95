"""Trace records as the lines a person reads: the transcript of ``ucwa-flow run``.

:func:`describe` turns one :class:`~ucwa_flow.runtime.trace.Trace` into a line, or ``None``
for records that only ``--verbose`` shows (state entries, handler matches, lifecycle
moves). Conversations are named by a short label (``c1``, ``c2``...) when a bot serves
several at once.
"""

from __future__ import annotations

from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.campaigns import CampaignEvent

__all__ = ["Labels", "describe"]


class Labels:
    """Short, stable labels for conversation hrefs (``c1``, ``c2``...)."""

    def __init__(self) -> None:
        self._labels: dict[str, str] = {}
        self._issued = 0

    def __call__(self, href: str) -> str:
        label = self._labels.get(href)
        if label is None:
            self._issued += 1
            label = self._labels[href] = f"c{self._issued}"
        return label

    def forget(self, href: str) -> None:
        """The conversation is over: drop its label (a long-running bot keeps no history)."""
        self._labels.pop(href, None)


def describe(record: t.Trace, *, verbose: bool = False, speaker: str = "bot") -> str | None:
    """The transcript line for ``record`` (``None`` when it is not shown at this level)."""
    if isinstance(record, t.MessageOut):
        return f"{speaker}: {_indent(record.text)}"
    if isinstance(record, t.FlowError):
        return f"! {record.shown()}"
    if isinstance(record, t.InvitationDecided):
        if record.decision == "busy":
            return f"* too busy for the invitation from {record.caller or 'an unknown caller'}"
        if record.decision == "decline":
            return f"* declined the invitation from {record.caller or 'an unknown caller'}"
        return f"* accepted the invitation from {record.caller}" if verbose else None
    if isinstance(record, t.Ended):
        who = {"bot": "the bot", "caller": "the caller", "server": "the server"}[record.by]
        return f"* {who} ended the conversation"
    if isinstance(record, CampaignEvent) and (verbose or record.kind != "campaign_set"):
        details = ", ".join(f"{k}={v}" for k, v in record.data.items())
        return f"* {record.kind.replace('_', ' ')} {record.campaign}: {details}".rstrip(": ")
    if not verbose:
        return None
    if isinstance(record, t.StateEntered):
        return f"  [flow] {record.previous or '(start)'} -> {record.state}"
    if isinstance(record, t.VersionChanged):
        return f"  [flow] now runs version {record.new[:8]} of {record.flow}"
    if isinstance(record, t.LifecycleChanged):
        return f"  [{record.kind}] {record.old} -> {record.new}"
    if isinstance(record, t.HandlerMatched):
        what = f"command {record.command}" if record.command else f"{record.kind} handler"
        return f"  [flow] {what} matched in {record.state} ({record.location})"
    if isinstance(record, t.NoMatch):
        return f"  [flow] no match #{record.miss} in {record.state}"
    if isinstance(record, t.TimeoutFired):
        return f"  [flow] {record.after:g}s of silence in {record.state}"
    if isinstance(record, t.OutcomeReceived):
        return f"  [flow] {record.action}: {record.branch}"
    if isinstance(record, t.ActionDone) and record.action in ("log", "invite", "webhook"):
        return f"  [{record.action}] {record.detail}"
    return None


def _indent(text: str) -> str:
    return text.replace("\n", "\n     ")
