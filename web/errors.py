"""Turning errors into answers: JSON under /api/, a friendly page elsewhere."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from points.errors import DomainError
from points.i18n import N_, _

log = logging.getLogger(__name__)

_TITLES = {
    400: N_("The request could not be understood"),
    401: N_("Please log in"),
    403: N_("You do not have access to this page"),
    404: N_("This page does not exist"),
    405: N_("This action is not allowed here"),
    409: N_("This conflicts with what is already there"),
    413: N_("This is too large"),
    422: N_("Please check what you entered"),
    429: N_("Too many requests, please wait a moment"),
    500: N_("Something went wrong on our side"),
}


def wants_json(request: Request) -> bool:
    path = request.url.path
    return path.startswith("/api/") or path.startswith("/wecom/")


def error_response(request: Request, status: int, code: str, message: str) -> Response:
    if wants_json(request):
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
    from web.templating import render

    title = _(_TITLES.get(status, _TITLES[400]))
    return render(
        request, "error.html", status_code=status, status=status, title=title, message=message
    )


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    response = error_response(request, exc.status_code, exc.code, exc.message)
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    return response


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "too_large"}


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    title = _TITLES.get(status, _TITLES[400])
    return error_response(request, status, _HTTP_CODES.get(status, "http_error"), _(title))


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(request, 500, "internal", _(_TITLES[500]))
