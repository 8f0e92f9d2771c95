"""The flow language: load, check and compile ``.flow.yaml`` files.

Pipeline (one private module each): the YAML loader (``_loader``: positions, duplicate
keys, no aliases) -> the JSON Schema (``_schema``) -> the builder (``_builder``: the
compiled model of ``_model``, with regexes, templates and durations compiled) -> the
semantic checks (``_checks``). :func:`load_flow` runs it all and returns a
:class:`LoadResult` with the :class:`Flow` (``None`` when there are errors) and every
:class:`Diagnostic`, sorted by position.

The language itself is documented in ``docs/flow-language.md``.
"""

from __future__ import annotations

from ucwa_flow.flow._action_lists import (
    ActionRef,
    UnknownActionList,
    branch_list_id,
    command_list_id,
    handler_list_id,
    state_list_id,
)
from ucwa_flow.flow._api import (
    PART_SUFFIXES,
    FlowFileError,
    FlowInvalid,
    LoadResult,
    load_flow,
    load_flow_text,
    resolve_flow_path,
)
from ucwa_flow.flow._back import BACK, BACK_DEPTH, back_targets, global_goto
from ucwa_flow.flow._campaign import CAMPAIGN_PREFIX, CAMPAIGN_REPORT, RUN_NAMES, Campaign
from ucwa_flow.flow._context import NO_DELIVERY, template_context
from ucwa_flow.flow._diagnostics import RULES, Diagnostic, Location, Rule, Severity
from ucwa_flow.flow._durations import format_duration, parse_duration
from ucwa_flow.flow._model import (
    Action,
    Call,
    Flow,
    Goto,
    Handoff,
    If,
    InvitationPolicy,
    InvitationRule,
    Invite,
    LadderStep,
    Log,
    MessageHandler,
    Outbound,
    Return,
    Say,
    Settings,
    SetVariable,
    State,
    Stop,
    SubFlow,
    TimeoutStep,
    TimeWindow,
    Typing,
    Webhook,
    iter_actions,
)
from ucwa_flow.flow._patterns import Matcher, MatchTimeout
from ucwa_flow.flow._sandbox import (
    RESERVED_NAMES,
    Condition,
    Template,
    TemplateCompileError,
    TemplateRenderError,
    Value,
)
from ucwa_flow.flow._texts import detect_language, version_of
from ucwa_flow.flow._url_segment import dot_segment

__all__ = [
    "BACK",
    "BACK_DEPTH",
    "CAMPAIGN_PREFIX",
    "CAMPAIGN_REPORT",
    "NO_DELIVERY",
    "PART_SUFFIXES",
    "RESERVED_NAMES",
    "RULES",
    "RUN_NAMES",
    "Action",
    "ActionRef",
    "Call",
    "Campaign",
    "Condition",
    "Diagnostic",
    "Flow",
    "FlowFileError",
    "FlowInvalid",
    "Goto",
    "Handoff",
    "If",
    "InvitationPolicy",
    "InvitationRule",
    "Invite",
    "LadderStep",
    "LoadResult",
    "Location",
    "Log",
    "MatchTimeout",
    "Matcher",
    "MessageHandler",
    "Outbound",
    "Return",
    "Rule",
    "Say",
    "SetVariable",
    "Settings",
    "Severity",
    "State",
    "Stop",
    "SubFlow",
    "Template",
    "TemplateCompileError",
    "TemplateRenderError",
    "TimeWindow",
    "TimeoutStep",
    "Typing",
    "UnknownActionList",
    "Value",
    "Webhook",
    "back_targets",
    "branch_list_id",
    "command_list_id",
    "detect_language",
    "dot_segment",
    "format_duration",
    "global_goto",
    "handler_list_id",
    "iter_actions",
    "load_flow",
    "load_flow_text",
    "parse_duration",
    "resolve_flow_path",
    "state_list_id",
    "template_context",
    "version_of",
]
