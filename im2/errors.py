"""Errors that services raise and every interface (API, console, CLI) turns into a clear message.

The message is already translated for the caller's locale when the error is raised.
"""

from __future__ import annotations


class IM2Error(Exception):
    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidInput(IM2Error):
    status_code = 422
    code = "invalid"


class NotFound(IM2Error):
    status_code = 404
    code = "not_found"


class Conflict(IM2Error):
    status_code = 409
    code = "conflict"


class Forbidden(IM2Error):
    status_code = 403
    code = "forbidden"


class Unauthorized(IM2Error):
    status_code = 401
    code = "unauthorized"


class TooManyAttempts(IM2Error):
    status_code = 429
    code = "too_many_attempts"
