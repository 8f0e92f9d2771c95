"""What the admin endpoint asks of the process it serves: :class:`AdminTarget`.

The admin app knows nothing of accounts, bots or deployment files; the service implements
this protocol and the app turns its answers into HTTP. The records are plain data, so the
service builds them and tests fake them with no HTTP stack at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["AccountElsewhere", "AccountHealth", "AdminTarget", "Readiness", "ReloadReport", "Why"]


@dataclass(frozen=True)
class AccountHealth:
    """One bot account as ``/readyz`` shows it.

    ``channel_live``: its event channel runs and reaches the server (the service says
    not live once several requests in a row have failed). ``error`` is the last reason it
    is not serving (a one-line message: "wrong password", "server unreachable ..."),
    ``None`` when all is well.

    ``code`` is a short, stable word saying what state it is in (``ready``, ``signing_in``,
    ``retrying``, ``channel_failing``, ``stopped``, ``store_refused`` ...; the list is in
    docs/observability.md) and ``reason`` a sentence for a person; ``None``: the app
    derives them from the fields above. ``until``: when what ``code`` says ends (ISO 8601,
    UTC), when that is known.
    """

    id: str
    user: str
    signed_in: bool
    channel_live: bool
    error: str | None = None
    code: str | None = None
    reason: str | None = None
    until: str | None = None

    @property
    def ready(self) -> bool:
        return self.signed_in and self.channel_live


@dataclass(frozen=True)
class Why:
    """A reason the process as a whole is not ready (not one account's): a short, stable
    ``code`` (``store_unreachable``, ``waiting_for_store``, ``away``, ``joining``,
    ``stopping`` ...), a ``reason`` for a person, and, when known, ``since`` or ``until``
    (ISO 8601, UTC)."""

    code: str
    reason: str
    since: str | None = None
    until: str | None = None


@dataclass(frozen=True)
class AccountElsewhere:
    """An account of the deployment this process does not answer for (a worker among
    several): why, as ``code`` (``held_elsewhere``, ``lease_lost``, ``handing_over``,
    ``releasing``, ``unassigned``, ``unknown``) and ``reason``; ``worker``: the worker that
    holds it in the store, when known (this one, for ``releasing``); ``since``: when this
    worker lost it, for ``lease_lost``."""

    id: str
    user: str
    code: str
    reason: str
    worker: str | None = None
    since: str | None = None


@dataclass(frozen=True)
class Readiness:
    """The process as ``/readyz`` shows it: ``ready`` when every account is signed in with
    its event channel live and the store is reachable (the target decides). ``reasons``:
    why it is not ready as a whole (besides its accounts' own states); ``elsewhere``: the
    accounts a worker does not answer for, and why."""

    ready: bool
    store: bool
    accounts: list[AccountHealth] = field(default_factory=list)
    reasons: list[Why] = field(default_factory=list)
    elsewhere: list[AccountElsewhere] = field(default_factory=list)


@dataclass(frozen=True)
class ReloadReport:
    """What a reload did: ``ok`` is false when a file was refused (its diagnostics, as
    ``file:line:col: CODE message``, are among ``lines``; the running version stays)."""

    ok: bool
    lines: list[str] = field(default_factory=list)


class AdminTarget(Protocol):
    """The process behind the admin endpoint (``ucwa-flow serve``'s service).

    Every method is called on the event loop that runs the admin server.
    """

    def readiness(self) -> Readiness:
        """The state of every account and of the store, now (cheap: called on each probe)."""
        ...

    async def reload(self) -> ReloadReport:
        """Read and check every flow file again; the valid changed ones are served from
        now on, a refused one keeps its running version (the deployment file itself is
        not read again: its other changes need a restart)."""
        ...

    def has_account(self, account: str) -> bool:
        """Whether ``account`` is one of the deployment's accounts (served here or by
        another worker): an unknown one is ``404`` whatever the request says."""
        ...

    async def start_outbound(
        self, account: str, flow: str, invitee: str | Sequence[str] | None
    ) -> str | None:
        """Start flow ``flow`` of ``account`` as an outbound conversation with ``invitee``
        (several people; ``None``: the flow's ``outbound.to``). A campaign flow starts a
        campaign run: its id is returned (``None`` otherwise).

        Raises ``LookupError`` (``KeyError``) for an unknown account or flow, ``ValueError``
        for a request it cannot serve (not a SIP URI, a flow without ``outbound``),
        :class:`~ucwa_flow.errors.OperationalError` while it cannot start one now (the
        account is not signed in, the process is stopping).
        """
        ...
