"""Earshot's domain errors: each carries a stable code, an HTTP status and a message a person can act on."""
from __future__ import annotations

from typing import Any


class EarshotError(Exception):
    code = "earshot_error"
    status = 400
    default_message = "The request could not be handled."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class NotFound(EarshotError):
    code = "not_found"
    status = 404
    default_message = "Not found."


class PermissionDenied(EarshotError):
    code = "permission_denied"
    status = 403
    default_message = "You may not do this."


class Conflict(EarshotError):
    code = "conflict"
    status = 409
    default_message = "This conflicts with the current state."


class InvalidInput(EarshotError):
    code = "invalid_input"
    status = 400
    default_message = "The input is not valid."


class RateLimited(EarshotError):
    code = "rate_limited"
    status = 429
    default_message = "Too many requests: slow down and try again shortly."
