"""Source locations, diagnostics and the catalogue of rule codes.

Every problem found in a flow file, from a YAML syntax error to an unreachable state, is
a :class:`Diagnostic` with a stable rule code. Codes are grouped by the stage that finds
them: ``Y`` for reading YAML, ``S`` for the JSON Schema, ``F`` for flow semantics. The
catalogue :data:`RULES` is the single source of truth for each code's severity and
summary; ``docs/flow-language.md`` lists the same table with a broken example per code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["RULES", "Diagnostic", "Location", "Rule", "Severity"]


class Severity(StrEnum):
    """How bad a diagnostic is: errors make a flow unusable, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A position in a flow file; ``line`` and ``col`` are 1-based."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True, slots=True)
class Rule:
    """One entry of the rule catalogue."""

    code: str
    severity: Severity
    summary: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One problem in a flow file, reported as ``file:line:col: CODE severity: message``.

    Diagnostics sort by position (file, line, column), then by code.
    """

    file: str
    line: int
    col: int
    code: str
    severity: Severity
    message: str

    @classmethod
    def at(cls, location: Location, code: str, message: str) -> Diagnostic:
        """Build a diagnostic for rule ``code`` at ``location``, with the rule's severity."""
        return cls(location.file, location.line, location.col, code, RULES[code].severity, message)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.file, self.line, self.col, self.code)

    def __str__(self) -> str:
        return (
            f"{self.file}:{self.line}:{self.col}: {self.code} {self.severity.value}: {self.message}"
        )

    def to_json(self) -> dict[str, str | int]:
        """The diagnostic as a JSON object (the ``--format json`` output of ``validate``)."""
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
        }


_E, _W = Severity.ERROR, Severity.WARNING

#: code -> rule. Codes are stable: never renumber, only add.
RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in (
        Rule("Y001", _E, "YAML syntax error"),
        Rule("Y002", _E, "duplicate key in a mapping"),
        Rule("Y003", _E, "YAML anchor or alias (not allowed in flows)"),
        Rule("Y004", _E, "document nested too deeply"),
        Rule("Y005", _E, "file too large"),
        Rule("Y006", _E, "mapping key that is not a string (null, true, a date...)"),
        Rule("Y007", _E, "file is not exactly one YAML document"),
        Rule("Y008", _E, "number that is not finite (.nan, .inf, -.inf)"),
        Rule("S001", _E, "unknown key"),
        Rule("S002", _E, "missing required key"),
        Rule("S003", _E, "value of the wrong type"),
        Rule("S004", _E, "invalid value (not allowed, wrong format, out of range)"),
        Rule("S005", _E, "needs exactly one of several keys"),
        Rule("F101", _E, "goto to a state that does not exist"),
        Rule("F102", _E, "start state does not exist"),
        Rule("F103", _W, "state cannot be reached from the start state"),
        Rule("F104", _W, "a conversation can get stuck in this state"),
        Rule("F105", _E, "regular expression does not compile"),
        Rule("F106", _E, "variable used but never set or declared"),
        Rule("F107", _E, "capture used but not defined by the pattern that matched"),
        Rule("F108", _W, "handler shadowed by an earlier catch-all"),
        Rule("F109", _W, "outbound invite without a declined or no_answer branch"),
        Rule("F110", _W, "webhook without a failure branch"),
        Rule("F111", _E, "duration of zero (or not a finite number)"),
        Rule("F112", _E, "template does not compile"),
        Rule("F113", _E, "condition does not compile"),
        Rule("F114", _E, "unknown time zone"),
        Rule("F115", _E, "invalid time-of-day range"),
        Rule("F116", _E, "timeout steps not in increasing order"),
        Rule("F117", _E, "variable name is reserved"),
        Rule("F118", _W, "actions after goto or stop never run"),
        Rule("F119", _W, "no_match ladder never used: the state has a catch-all handler"),
        Rule("F120", _W, "regular expression can backtrack catastrophically"),
        Rule("F121", _E, "secret names no variable the flow declares or sets"),
        Rule("F122", _W, "regex holds a backspace (\\b in double quotes is not a word edge)"),
        Rule("F123", _W, "webhook url puts a value into its host, or its path or query unencoded"),
        Rule("F124", _E, "a field the template context's name does not have (caller.nmae)"),
        Rule("F125", _W, "a state switches off a global command that does not exist"),
        # includes and sub-flows: F130-F139
        Rule("F130", _E, "included or called file cannot be read"),
        Rule("F131", _E, "a file includes itself (include cycle)"),
        Rule("F132", _E, "state, variable or command defined twice (in a file and its includes)"),
        Rule("F133", _E, "called file is not a usable sub-flow"),
        Rule("F134", _E, "call gives an unknown parameter or lacks a required one"),
        Rule("F135", _E, "returned name the sub-flow does not return"),
        Rule("F136", _E, "a sub-flow calls itself, directly or through others"),
        Rule("F137", _E, "return outside a sub-flow"),
        Rule("F138", _E, "include or call path absolute or outside the flow's folder"),
        Rule("F139", _E, "call or return in an ended list (the conversation is over)"),
        # goto back and translations: F140-F149
        Rule("F140", _E, "a state named 'back' (goto: back returns to the previous state)"),
        Rule("F141", _W, "goto: back in a state only entered as the start"),
        Rule("F142", _W, "a say has no text in one of the flow's languages"),
        Rule("F143", _E, "a say with texts cannot fall back to the default language"),
        Rule("F144", _W, "a file included twice (it is merged once)"),
        # handoff: F150-F159
        Rule("F150", _W, "handoff without a no_answer branch"),
        Rule("F151", _W, "handoff without an agent_left branch"),
        Rule("F152", _E, "handoff to nobody (an empty list of agents)"),
        Rule("F153", _E, "a handoff's connected branch leaves the state (goto, stop, call)"),
        Rule("F154", _E, "handoff where there is no caller (in ended, an outbound outcome)"),
        # campaigns: F160-F169
        Rule("F160", _E, "campaign at_once is less than 1"),
        Rule("F161", _E, "campaign.NAME read but not a campaign variable"),
        Rule("F162", _E, "campaign.NAME set but not a campaign variable"),
        Rule("F163", _W, "campaign report without a failure branch"),
        Rule("F164", _E, "campaign used in a flow without outbound.campaign"),
        Rule("F165", _E, "campaign variable named like a name every run has"),
    )
}
