"""Appeals (积分申诉): pages for employees, heads and HR, and the REST API."""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from points.appeals import service
from points.appeals.models import AppealStatus
from points.appeals.schemas import AppealIn, RejectIn, ResolveIn
from points.auth.permissions import Permission
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.ledger.models import LedgerTransaction
from web.forms import int_param
from web.security import Ctx, api, page
from web.templating import render


def _day(raw: str | None) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(_("Give the day as YYYY-MM-DD."), code="bad_date") from None


M = TypeVar("M", bound=BaseModel)


async def _body(ctx: Ctx, model: type[M]) -> M:
    try:
        data = await ctx.request.json()
    except ValueError:
        raise InvalidInput(_("The body must be JSON.")) from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise InvalidInput(f"{where}: {first['msg']}") from None


def _points(raw: Any) -> int:
    try:
        return int(str(raw).strip())
    except ValueError:
        raise InvalidInput(_("Points must be a non-zero whole number up to 100000.")) from None


# ---- pages ----------------------------------------------------------------------------


@page(Permission.view_own)
async def appeals_page(ctx: Ctx) -> Response:
    """HR: the queue (open first); heads: their departments' (read-only); everyone: their own."""
    status = ctx.request.query_params.get("status") or None
    offset = max(int_param(ctx.request, "offset") or 0, 0)
    rows = await service.list_appeals(
        ctx.session, ctx.principal, status=status, limit=100, offset=offset
    )
    return render(
        ctx.request,
        "appeals/index.html",
        rows=rows,
        status=status or "",
        statuses=[s.value for s in AppealStatus],
        overdue={a.id for a, _e in rows if service.is_overdue(a, ctx.settings)},
        sla_days=ctx.settings.APPEAL_SLA_DAYS,
    )


@page(Permission.view_own)
async def new_appeal(ctx: Ctx) -> Response:
    """File an appeal about a history line (?entry=ID) or about a day with nothing."""
    request = ctx.request
    if request.method == "POST":
        form = await request.form()
        raw_entry = str(form.get("entry_id", "")).strip()
        appeal = await service.file_appeal(
            ctx.session,
            ctx.settings,
            ctx.principal,
            message=str(form.get("message", "")),
            entry_id=int(raw_entry) if raw_entry.isdigit() else None,
            occurred_on=_day(str(form.get("occurred_on", "")).strip() or None),
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await ctx.session.commit()
        return RedirectResponse(f"/appeals/{appeal.id}?filed=1", status_code=303)
    entry_id = int_param(request, "entry")
    entry = None
    if entry_id is not None:
        entry = await ctx.session.get(LedgerTransaction, entry_id)
        if entry is None or entry.employee_id != ctx.principal.employee_id:
            entry = None
    return render(request, "appeals/new.html", entry=entry)


@page(Permission.view_own)
async def appeal_page(ctx: Ctx) -> Response:
    appeal, employee = await service.get_appeal(
        ctx.session, ctx.principal, ctx.request.path_params["id"]
    )
    can_decide = (
        ctx.principal.can(Permission.resolve_appeals)
        and appeal.status == AppealStatus.open
        and ctx.principal.employee_id != employee.id
    )
    around = await service.context(ctx.session, ctx.settings, appeal)
    return render(
        ctx.request,
        "appeals/detail.html",
        appeal=appeal,
        employee=employee,
        around=around,
        own=ctx.principal.employee_id == employee.id,
        can_decide=can_decide,
        show_context=ctx.principal.can(Permission.view_appeals),
        overdue=service.is_overdue(appeal, ctx.settings),
        filed=ctx.request.query_params.get("filed") == "1",
    )


@page(Permission.resolve_appeals)
async def decide(ctx: Ctx) -> Response:
    appeal_id = ctx.request.path_params["id"]
    action = ctx.request.path_params["action"]
    if action not in ("resolve", "reject"):
        raise NotFound(_("This page does not exist"))
    form = await ctx.request.form()
    if action == "resolve":
        await service.resolve(
            ctx.session,
            ctx.settings,
            ctx.principal,
            appeal_id,
            points=_points(form.get("points", "")),
            reason=str(form.get("reason", "")),
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    else:
        await service.reject(
            ctx.session,
            ctx.principal,
            appeal_id,
            reason=str(form.get("reason", "")),
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    await ctx.session.commit()
    return RedirectResponse(f"/appeals/{appeal_id}", status_code=303)


# ---- API ------------------------------------------------------------------------------


@api(Permission.view_own)
async def api_appeals(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        body = await _body(ctx, AppealIn)
        appeal = await service.file_appeal(
            ctx.session,
            ctx.settings,
            ctx.principal,
            message=body.message,
            entry_id=body.entry_id,
            occurred_on=_day(body.occurred_on),
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await ctx.session.commit()
        assert appeal.id is not None
        appeal, employee = await service.get_appeal(ctx.session, ctx.principal, appeal.id)
        return JSONResponse(service.appeal_json(appeal, employee, ctx.settings), status_code=201)
    rows = await service.list_appeals(
        ctx.session, ctx.principal, status=ctx.request.query_params.get("status") or None
    )
    return JSONResponse({"items": [service.appeal_json(a, e, ctx.settings) for a, e in rows]})


@api(Permission.view_own)
async def api_appeal(ctx: Ctx) -> Response:
    appeal, employee = await service.get_appeal(
        ctx.session, ctx.principal, ctx.request.path_params["id"]
    )
    return JSONResponse(service.appeal_json(appeal, employee, ctx.settings))


@api(Permission.resolve_appeals)
async def api_resolve(ctx: Ctx) -> Response:
    body = await _body(ctx, ResolveIn)
    appeal = await service.resolve(
        ctx.session,
        ctx.settings,
        ctx.principal,
        ctx.request.path_params["id"],
        points=body.points,
        reason=body.reason,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    assert appeal.id is not None
    appeal, employee = await service.get_appeal(ctx.session, ctx.principal, appeal.id)
    return JSONResponse(service.appeal_json(appeal, employee, ctx.settings))


@api(Permission.resolve_appeals)
async def api_reject(ctx: Ctx) -> Response:
    body = await _body(ctx, RejectIn)
    appeal = await service.reject(
        ctx.session,
        ctx.principal,
        ctx.request.path_params["id"],
        reason=body.reason,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    assert appeal.id is not None
    appeal, employee = await service.get_appeal(ctx.session, ctx.principal, appeal.id)
    return JSONResponse(service.appeal_json(appeal, employee, ctx.settings))


routes = [
    Route("/appeals", appeals_page),
    Route("/appeals/new", new_appeal, methods=["GET", "POST"]),
    Route("/appeals/{id:int}", appeal_page),
    Route("/appeals/{id:int}/{action:str}", decide, methods=["POST"]),
    Route("/api/v1/appeals", api_appeals, methods=["GET", "POST"]),
    Route("/api/v1/appeals/{id:int}", api_appeal),
    Route("/api/v1/appeals/{id:int}/resolve", api_resolve, methods=["POST"]),
    Route("/api/v1/appeals/{id:int}/reject", api_reject, methods=["POST"]),
]
