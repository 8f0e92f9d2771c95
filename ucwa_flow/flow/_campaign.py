"""Campaigns: an outbound flow's ``outbound.campaign`` section, compiled and checked.

A campaign runs an outbound flow's invitations as one *run*: ``at_once`` people at a
time (1: one after another), with campaign-level ``variables`` that every conversation of
the run reads as ``campaign.NAME`` and changes with ``set: {campaign.NAME: ...}``, and a
``report`` webhook called once, when everyone is done. The runtime side is
:mod:`ucwa_flow.runtime.campaigns`.

The report is a :class:`~ucwa_flow.flow.Webhook` action alone in the action list
:data:`CAMPAIGN_REPORT`, so that its branches are ordinary action lists of the flow
(indexed, resumable, as for any webhook).

Rules (F160-F169, ``docs/flow-language.md``):

==== ==============================================================================
F160 ``at_once`` is less than 1
F161 ``campaign.NAME`` read, but NAME is not a campaign variable
F162 ``set: {campaign.NAME: ...}`` on a name that is not a campaign variable
F163 the report has no ``failure`` branch (warning)
F164 ``campaign`` used in a flow without ``outbound.campaign``
F165 a campaign variable named like a name the run itself gives (``id``, ``people``...)
==== ==============================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow._action_lists import CAMPAIGN_REPORT
from ucwa_flow.flow._diagnostics import Diagnostic, Location
from ucwa_flow.flow._model import Action, Outbound, SetVariable, Webhook, iter_actions
from ucwa_flow.flow._sandbox import Value

if TYPE_CHECKING:
    from ucwa_flow.flow._builder import _Builder
    from ucwa_flow.flow._loader import Document, Path
    from ucwa_flow.flow._model import Flow

__all__ = [
    "CAMPAIGN_PREFIX",
    "CAMPAIGN_REPORT",
    "RUN_NAMES",
    "Campaign",
    "build_campaign",
    "campaign_lists",
    "check_campaign",
]

#: how ``set`` names a campaign variable
CAMPAIGN_PREFIX = "campaign."
#: names ``campaign`` has in every run besides its variables
RUN_NAMES = frozenset({"id", "people", "size", "done"})


@dataclass(frozen=True, slots=True)
class Campaign:
    """``outbound.campaign``: how many at once, the campaign variables (their starting
    values, plain JSON data) and the report webhook (``None``: no report)."""

    at_once: int
    variables: Mapping[str, object]
    report: Webhook | None
    location: Location


def build_campaign(builder: _Builder, outbound: Mapping[str, Any], path: Path) -> Campaign | None:
    """Compile the ``campaign`` of ``outbound`` (at ``path``), if it has one."""
    if "campaign" not in outbound:
        return None
    raw, path = outbound["campaign"], (*path, "campaign")
    variables = dict(raw.get("variables") or {})
    at_once = raw.get("at_once", 1)
    if at_once < 1:
        builder.report(
            (*path, "at_once"),
            "F160",
            f"at_once is {at_once}: at least 1 person must be invited at a time",
        )
    for name in variables:
        if name in RUN_NAMES:
            builder.report(
                (*path, "variables", name),
                "F165",
                f"campaign variable {name!r} would hide campaign.{name}, which every run "
                f"has ({', '.join(sorted(RUN_NAMES))}); choose another name",
                key=True,
            )
    report = None
    if "report" in raw:
        built = builder.webhook(raw["report"], (*path, "report"))
        report = built[0] if built and isinstance(built[0], Webhook) else None
    return Campaign(
        at_once=max(1, int(at_once)),
        variables=MappingProxyType(variables),
        report=report,
        location=builder.loc(path, key=True),
    )


def campaign_lists(outbound: Outbound | None) -> tuple[tuple[Action, ...], ...]:
    """The action lists a campaign adds to its flow: the report (with its branches)."""
    campaign = outbound.campaign if outbound is not None else None
    if campaign is None or campaign.report is None:
        return ()
    return ((campaign.report,),)


def check_campaign(flow: Flow, doc: Document) -> Iterator[Diagnostic]:
    """F161-F164: campaign names read and set, and the report's failure branch."""
    from ucwa_flow.flow._name_checks import all_compiled, all_lists  # they import this

    campaign = flow.outbound.campaign if flow.outbound is not None else None
    declared = set(campaign.variables) | RUN_NAMES if campaign is not None else set()
    reported: set[tuple[Location, str]] = set()
    for compiled in all_compiled(flow):
        # a value's parts one by one, each finding at its own part (as F106's)
        for part in compiled.parts if isinstance(compiled, Value) else (compiled,):
            for name in sorted(part.campaign - declared):
                if (part.location, name) in reported:
                    continue
                reported.add((part.location, name))
                yield _undeclared(campaign, part.location, "F161", f"campaign.{name} is read")
    for actions in all_lists(flow):
        for action in iter_actions(actions):
            if not isinstance(action, SetVariable):
                continue
            name = action.name.removeprefix(CAMPAIGN_PREFIX)
            if name == action.name or (campaign is not None and name in campaign.variables):
                continue
            key = (action.location, action.name)
            if key not in reported:
                reported.add(key)
                yield _undeclared(campaign, action.location, "F162", f"campaign.{name} is set")
    if campaign is not None and campaign.report is not None and campaign.report.failure is None:
        yield Diagnostic.at(
            campaign.report.location,
            "F163",
            "the campaign report has no failure branch: say what happens when it cannot be sent",
        )


def _undeclared(campaign: Campaign | None, at: Location, code: str, what: str) -> Diagnostic:
    if campaign is None:
        return Diagnostic.at(
            at, "F164", f"{what}, but the flow has no outbound.campaign: it runs in no campaign"
        )
    known = ", ".join(sorted(campaign.variables)) or "none"
    return Diagnostic.at(
        at,
        code,
        f"{what}, but it is not a campaign variable (declare it under "
        f"outbound.campaign.variables; declared: {known})",
    )
