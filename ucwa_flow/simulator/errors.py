"""UCWA error answers raised inside the simulator.

Handlers raise :class:`UcwaErrorResponse`; the ASGI app turns it into the documented
``{code, subcode, message}`` JSON body with the matching HTTP status.
"""

from __future__ import annotations

from typing import Any

__all__ = ["UcwaErrorResponse", "bad_request", "conflict", "not_found"]


class UcwaErrorResponse(Exception):
    """An error the simulated server answers with (status + UCWA error body)."""

    def __init__(
        self,
        status: int,
        code: str,
        subcode: str | None = None,
        message: str | None = None,
        parameters: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}/{subcode}: {message}")
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.parameters = parameters
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code}
        if self.subcode:
            out["subcode"] = self.subcode
        if self.message:
            out["message"] = self.message
        if self.parameters:
            out["parameters"] = self.parameters
        return out


def not_found(message: str = "The requested resource could not be found.") -> UcwaErrorResponse:
    return UcwaErrorResponse(404, "NotFound", "ResourceNotFound", message)


def conflict(subcode: str, message: str) -> UcwaErrorResponse:
    return UcwaErrorResponse(409, "Conflict", subcode, message)


def bad_request(missing: list[str] | None = None, message: str | None = None) -> UcwaErrorResponse:
    """400 ParameterValidationFailure, listing the invalid or missing parameters."""
    params = [{"name": name, "reason": "Missing or invalid"} for name in missing or []]
    return UcwaErrorResponse(
        400,
        "BadRequest",
        "ParameterValidationFailure",
        message or "Please check what you entered and try again.",
        parameters=params or None,
    )
