"""Reading query strings and forms strictly: bad values are a clear 422, not a 500."""

from __future__ import annotations

from datetime import date

from starlette.requests import Request

from points.bounds import check_day, check_int
from points.calendar import day_start as day_start  # routes turn form dates into windows
from points.errors import InvalidInput
from points.i18n import _

MAX_PAGE = 200


def int_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return None
    try:
        return check_int(int(raw), name)
    except ValueError:
        raise InvalidInput(_("{name} must be a whole number").format(name=name)) from None


def page_params(request: Request, default_limit: int = 50) -> tuple[int, int]:
    offset = int_param(request, "offset") or 0
    limit = int_param(request, "limit") or default_limit
    if offset < 0 or not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(_("offset must be ≥ 0 and limit between 1 and 200"))
    return offset, limit


def date_param(request: Request, name: str) -> date | None:
    raw = request.query_params.get(name)
    if not raw:
        return None
    try:
        return check_day(date.fromisoformat(raw), name)
    except ValueError:
        raise InvalidInput(_("{name} must be a date like 2026-11-24").format(name=name)) from None
