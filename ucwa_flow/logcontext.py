"""Who a log line is about: account, conversation, flow, state, carried by contextvars.

A log call deep in the runtime does not know which bot account or flow it runs for; the
code that does binds it once, and every line logged inside carries it::

    with logcontext.bind(account="helpdesk"):
        await bot.run()            # tasks created inside inherit the binding

The formatters of :mod:`ucwa_flow.observe.logs` add :func:`fields` to each line (JSON keys,
or ``[account=... conversation=...]`` in text). Bindings nest (inner values win, ``None``
removes a field) and are undone when the ``with`` block ends; a task started inside a block
keeps a copy of the bindings of the moment it was created (asyncio copies the context), so
binding in one conversation's task never shows up in another's.

Some fields change too often to bind: a conversation's state moves with every step. A
process that knows where to look registers one :func:`enrich_with` function, called when a
line is formatted with the bound fields, which returns more (``flow``, ``state``). Only
stdlib ``contextvars`` is used: importing this module costs nothing, and the runtime may
bind without depending on any logging configuration.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar, Token

__all__ = ["FIELDS", "bind", "bind_one", "enrich_with", "fields", "unbind"]

#: the fields log lines carry, in the order they are shown
FIELDS = ("account", "conversation", "flow", "state")

Enricher = Callable[[Mapping[str, str]], Mapping[str, str]]

# the default is a plain dict (never changed: every binding makes a new one), which
# copies faster than a read-only view
_bound: ContextVar[Mapping[str, str]] = ContextVar("ucwa_flow_log_fields", default={})  # noqa: B039
_enricher: list[Enricher] = []  # at most one


@contextlib.contextmanager
def bind(**values: str | None) -> Iterator[None]:
    """Bind ``values`` (``account=``, ``conversation=``...) for the ``with`` block.

    ``None`` removes a field bound further out. The block must end in the task (or thread)
    it began in, as with any context manager around awaits.
    """
    merged = dict(_bound.get())
    for name, value in values.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    token = _bound.set(merged)
    try:
        yield
    finally:
        _bound.reset(token)


def bind_one(name: str, value: str) -> Token[Mapping[str, str]]:
    """Bind one field until :func:`unbind` gets the token back: :func:`bind` for a hot
    path (every conversation step binds its conversation), without a ``with`` block."""
    merged = dict(_bound.get())
    merged[name] = value
    return _bound.set(merged)


def unbind(token: Token[Mapping[str, str]]) -> None:
    """Undo the :func:`bind_one` that gave ``token`` (in the task it was bound in)."""
    _bound.reset(token)


def fields() -> dict[str, str]:
    """The fields bound here, completed by the :func:`enrich_with` function (bound values
    win over what it returns; it failing or returning nothing only leaves fields out)."""
    bound = _bound.get()
    if not _enricher:
        return dict(bound)
    try:
        extra = _enricher[0](dict(bound))  # a copy: the default is shared by every context
    except Exception:  # a log line must never fail because of its context
        extra = {}
    return {**{k: v for k, v in extra.items() if isinstance(v, str)}, **bound}


def enrich_with(enricher: Enricher | None) -> None:
    """Register the one function that adds fields at format time (``None`` removes it).

    It is called with the bound fields on every log line that is formatted, so it must be
    cheap and must not log: e.g. look up ``fields["conversation"]`` among the live
    conversations of ``fields["account"]`` and return its ``flow`` and ``state``.
    """
    _enricher.clear()
    if enricher is not None:
        _enricher.append(enricher)
