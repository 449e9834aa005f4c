"""Adjustments: the API to make one, and the page where a second person approves."""

from __future__ import annotations

import secrets

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from points.adjustments import service
from points.adjustments.models import PendingAdjustment
from points.adjustments.service import Outcome
from points.auth.permissions import Permission
from points.auth.scope import require_department
from points.errors import NotFound
from points.i18n import _
from points.org import service as org
from points.org.models import Employee
from web.api_schemas import AdjustmentIn, AdjustmentOut, PendingOut
from web.routes.rewards_api import body_as
from web.security import Ctx, api, page
from web.templating import render


@api(Permission.adjust_points)
async def post_adjustment(ctx: Ctx) -> Response:
    userid = ctx.request.path_params["userid"]
    data = await body_as(ctx, AdjustmentIn)
    employee = await org.get_employee(ctx.session, userid)
    await require_department(ctx.session, ctx.principal, employee.department_id)
    result = await service.request_adjustment(
        ctx.session,
        ctx.settings,
        ctx.principal,
        userid=userid,
        points=data.points,
        reason=data.reason,
        # Idempotency-Key makes a retry one adjustment; without it each call is new.
        request_key=ctx.request.headers.get("idempotency-key") or secrets.token_urlsafe(16),
        ip=ctx.client_ip,
    )
    await ctx.session.commit()
    out = AdjustmentOut(
        status=result.outcome, userid=userid, points=data.points, pending_id=result.pending_id
    )
    return JSONResponse(
        out.model_dump(mode="json"), status_code=202 if result.outcome == Outcome.pending else 201
    )


@api(Permission.adjust_points)
async def decide_adjustment(ctx: Ctx) -> Response:
    pending_id: int = ctx.request.path_params["id"]
    action = ctx.request.path_params["action"]
    pending = await _decide(ctx, pending_id, action)
    await ctx.session.commit()
    employee = await ctx.session.get(Employee, pending.employee_id)
    assert employee is not None
    return JSONResponse(PendingOut.of(pending, employee.userid).model_dump(mode="json"))


async def _decide(ctx: Ctx, pending_id: int, action: str) -> PendingAdjustment:
    if action == "approve":
        return await service.approve_adjustment(
            ctx.session, ctx.settings, ctx.principal, pending_id, ip=ctx.client_ip
        )
    if action == "reject":
        return await service.reject_adjustment(
            ctx.session, ctx.principal, pending_id, ip=ctx.client_ip
        )
    raise NotFound(_("No such action."))


@page(Permission.adjust_points)
async def adjustments_page(ctx: Ctx) -> Response:
    return render(ctx.request, "adjustments.html", rows=await service.waiting(ctx.session))


@page(Permission.adjust_points)
async def decide_page(ctx: Ctx) -> Response:
    await _decide(ctx, ctx.request.path_params["id"], ctx.request.path_params["action"])
    await ctx.session.commit()
    return RedirectResponse("/adjustments", status_code=303)


routes = [
    Route("/api/v1/employees/{userid}/adjustments", post_adjustment, methods=["POST"]),
    Route("/api/v1/adjustments/{id:int}/{action:str}", decide_adjustment, methods=["POST"]),
    Route("/adjustments", adjustments_page),
    Route("/adjustments/{id:int}/{action:str}", decide_page, methods=["POST"]),
]
