"""The compiled form of a conversation test script: scenarios made of located steps.

A script file (``flows/<name>.test.yaml``) names the flow it tests and holds scenarios;
each scenario is a list of steps. The loader (:mod:`._loader`) turns the YAML into these
frozen objects; the runner (:mod:`._runner`) performs them in order. Every step keeps
the :class:`~ucwa_flow.flow.Location` it was written at, so that a failure is reported as
``file:line``.

Steps either act (the people in the conversation do something, or time passes) or
expect (check what the bot said or where it is).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ucwa_flow.flow import Flow, Location

__all__ = [
    "DEFAULT_CALLER",
    "Accept",
    "Decline",
    "ExpectEnded",
    "ExpectSay",
    "ExpectSilence",
    "ExpectState",
    "ExpectVariables",
    "ExpectWebhook",
    "HangUp",
    "Invite",
    "MockedWebhook",
    "Say",
    "Scenario",
    "Script",
    "Step",
    "Wait",
]

#: who calls the bot when a scenario names nobody
DEFAULT_CALLER = "sip:lenea@contoso.com"


@dataclass(frozen=True, slots=True, kw_only=True)
class Step:
    """One line of a scenario; ``location`` is where it is written."""

    location: Location

    @property
    def acts(self) -> bool:
        """True for steps that change something (the runner settles after them)."""
        return True


# -- acting ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Invite(Step):
    """The caller starts a chat with the bot; ``text`` is its first message, if any, and
    ``subject`` the conversation's subject (``""``: none)."""

    text: str | None
    subject: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Say(Step):
    """``who`` (the caller when ``None``; an agent in a handoff) sends ``text``."""

    text: str
    who: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class HangUp(Step):
    """``who`` (the caller when ``None``) leaves their conversation with the bot."""

    who: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Accept(Step):
    """``who`` (the caller when ``None``) accepts the bot's invitation."""

    who: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Decline(Step):
    """``who`` (the caller when ``None``) declines the bot's invitation."""

    who: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class Wait(Step):
    """Virtual time passes (``seconds``, written ``spelled``); nobody says anything."""

    seconds: float
    spelled: str


# -- expecting ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectSay(Step):
    """The next message not yet matched, heard by ``to`` (the caller when ``None``).

    ``mode`` is ``exact``, ``contains`` or ``regex`` (a search, not a full match).
    """

    mode: str
    text: str
    to: str | None = None

    @property
    def acts(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectSilence(Step):
    """The caller has heard no message that an expectation has not matched yet."""

    @property
    def acts(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectState(Step):
    """The caller's conversation is in flow state ``state``."""

    state: str

    @property
    def acts(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectVariables(Step):
    """Flow variables of the caller's conversation equal these values."""

    values: dict[str, Any]

    @property
    def acts(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectWebhook(Step):
    """The flow called ``url``: the next such request no earlier expectation matched has
    the JSON body ``json`` (when ``has_json``; a mapping is compared key by key, keys it
    leaves out unchecked); ``times``: it was called that many times so far in all."""

    url: str
    json: Any = None
    has_json: bool = False
    times: int | None = None

    @property
    def acts(self) -> bool:
        return False


@dataclass(frozen=True, slots=True, kw_only=True)
class ExpectEnded(Step):
    """The caller's conversation is over (whoever ended it)."""

    @property
    def acts(self) -> bool:
        return False


# -- scenarios and scripts --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MockedWebhook:
    """An answer the mocked web serves to the flow's webhooks.

    A request matches when its URL is ``url`` (and its method ``method``, when given).
    Several answers for one URL are served in order, the last one repeating. ``fail``
    answers with a connection failure instead; ``delay`` seconds of virtual time pass
    before the answer (the request times out when its own timeout is shorter).
    """

    url: str
    method: str | None
    status: int
    json: Any
    has_json: bool
    fail: bool
    delay: float
    location: Location


@dataclass(frozen=True, slots=True)
class Scenario:
    """One conversation: who calls, when, what the web answers, and the steps."""

    name: str
    location: Location
    caller: str
    at: datetime | None
    users: tuple[str, ...]
    webhooks: tuple[MockedWebhook, ...]
    steps: tuple[Step, ...]

    def people(self) -> list[str]:
        """Everyone who must exist on the simulator: caller, users, who accepts/declines."""
        named = [self.caller, *self.users]
        for step in self.steps:
            if isinstance(step, Accept | Decline | Say | HangUp) and step.who is not None:
                named.append(step.who)
            elif isinstance(step, ExpectSay) and step.to is not None:
                named.append(step.to)
        return list(dict.fromkeys(uri.lower() for uri in named))


@dataclass(frozen=True, slots=True)
class Script:
    """A loaded script: the flow it tests (compiled) and its scenarios."""

    file: Path
    flow_file: Path
    flow: Flow
    scenarios: tuple[Scenario, ...] = field(default_factory=tuple)
