"""Domain errors: raised by services, turned into HTTP answers by ``web``.

Each carries a stable ``code`` (for the JSON API) and the HTTP status that fits,
so services never import Starlette.
"""

from __future__ import annotations


class DomainError(Exception):
    """A refusal the user can understand; ``message`` is already translated text."""

    status_code = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid"
