"""Domain errors: one base class with a stable code, mapped to the API's JSON shape."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A rule said no. `code` is stable (clients switch on it); `message` is translated."""

    code = "invalid"
    status = 400

    def __init__(
        self,
        message: Any,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.fields = fields or {}


class NotFound(ApplicationError):
    code = "not_found"
    status = 404


class Forbidden(ApplicationError):
    code = "forbidden"
    status = 403


class RateLimited(ApplicationError):
    code = "rate_limited"
    status = 429


class Conflict(ApplicationError):
    code = "conflict"
    status = 409


def error_body(
    code: str, message: Any, fields: dict[str, list[str]] | None = None
) -> dict[str, Any]:
    return {"error": {"code": code, "message": str(message), "fields": fields or {}}}
