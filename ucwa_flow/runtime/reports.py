"""What a flow instance reports: trace records, actions done, errors, variables set.

A :class:`~ucwa_flow.runtime.instance.FlowInstance` reports through its engine's
:class:`~ucwa_flow.runtime.services.Services` (the trace sink, a durable bot's journal):
:func:`emit` builds a :mod:`~ucwa_flow.runtime.trace` record only when anyone takes its
kind (``Services.traced``); :func:`done` is an ``ActionDone``; :func:`error` a run-time
failure (a log line at warning, the flow's secrets blanked out of it, and a ``FlowError``);
:func:`set_variable` gives a flow variable a value, a change traced as a ``VariableSet``.

The seam: these are the instance's methods (``FlowInstance._emit``, ``_done``, ``_error``,
``set_variable``), written here and set as attributes of its class, so that calling them
costs what calling a method written in the class does (they are on a conversation's hot
path: ``docs/performance.md``); :mod:`.interpreter`, :mod:`.acting` and :mod:`.calls`
call them on the instance.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ucwa_flow.flow import Location
from ucwa_flow.runtime import trace as t
from ucwa_flow.runtime.context import same_value
from ucwa_flow.runtime.records import secret_values
from ucwa_flow.store import scrub

if TYPE_CHECKING:
    from ucwa_flow.runtime.instance import FlowInstance

__all__ = ["done", "emit", "error", "loggable", "set_variable"]

log = logging.getLogger("ucwa_flow.runtime")


def emit(instance: FlowInstance, record: type[Any], **fields: Any) -> None:
    """A ``record`` of ``instance`` with ``fields``, at once, if anyone takes its kind."""
    if record not in instance.services.traced:  # nobody takes it: not built
        return
    instance.services.emit(
        record(at=instance.services.clock.monotonic(), conversation=instance.href, **fields)
    )


def set_variable(instance: FlowInstance, name: str, value: Any) -> None:
    """Give the flow's variable ``name`` ``value``; a change is traced
    (:class:`~ucwa_flow.runtime.trace.VariableSet`) when anyone takes it."""
    variables = instance.variables
    services = instance.services
    if (  # ``tracing`` first: a plain attribute, False for a bot with no store nor sink
        services.tracing
        and t.VariableSet in services.traced
        and (name not in variables or not same_value(variables[name], value))
    ):
        variables[name] = value
        in_subflow = bool(instance.calls.frames)
        instance._emit(t.VariableSet, name=name, value=value, in_subflow=in_subflow)
        return
    variables[name] = value


def done(instance: FlowInstance, action: str, location: Location, detail: str = "") -> None:
    """``action`` (at ``location``) ran, ``detail`` saying with what."""
    instance._emit(t.ActionDone, action=action, location=location, detail=detail)


def loggable(instance: FlowInstance, text: str) -> str:
    """``text`` with the values of ``instance``'s secret variables blanked out: what a log
    line may show of it (the log's own redaction knows only the values a deployment gives;
    a caller's, captured or set, are the conversation's)."""
    return scrub(text, secret_values(instance)) if instance.flow.secrets else text


def error(instance: FlowInstance, message: str, location: Location | None) -> None:
    """A run-time failure in ``instance``'s conversation, at ``location`` if known. The log
    line has the values of the flow's secret variables blanked out (a webhook's URL made
    from one), as the transcript's line has (``records.without_secrets``, at the commit)."""
    log.warning("%s: %s", instance.href, loggable(instance, message))
    instance._emit(t.FlowError, message=message, location=location)
