"""Review before award: the queue page, its decision forms and the API."""

from __future__ import annotations

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import NotFound
from points.i18n import _
from points.org.models import Employee
from points.reviews import service
from points.reviews.models import PendingAward
from web.api_schemas import PendingAwardOut, PendingAwardPage, ReviewDecisionIn
from web.routes.rewards_api import body_as
from web.security import Ctx, api, page
from web.templating import render


async def _decide(ctx: Ctx, award_id: int, action: str, reason: str) -> PendingAward:
    if action == "accept":
        return await service.accept(
            ctx.session, ctx.settings, ctx.principal, award_id, ip=ctx.client_ip
        )
    if action == "reject":
        return await service.reject(
            ctx.session, ctx.principal, award_id, reason=reason, ip=ctx.client_ip
        )
    raise NotFound(_("No such action."))


@api(Permission.review_awards)
async def api_queue(ctx: Ctx) -> Response:
    rows = await service.queue(ctx.session, ctx.principal)
    page_ = PendingAwardPage(items=[PendingAwardOut.of(a, e) for a, e in rows])
    return JSONResponse(page_.model_dump(mode="json"))


@api(Permission.review_awards)
async def api_decide(ctx: Ctx) -> Response:
    action = ctx.request.path_params["action"]
    if action not in ("accept", "reject"):
        raise NotFound(_("No such action."))
    data = await body_as(ctx, ReviewDecisionIn)
    award = await _decide(ctx, ctx.request.path_params["id"], action, data.reason)
    await ctx.session.commit()
    employee = await ctx.session.get(Employee, award.employee_id)
    assert employee is not None
    return JSONResponse(PendingAwardOut.of(award, employee).model_dump(mode="json"))


@page(Permission.review_awards)
async def queue_page(ctx: Ctx) -> Response:
    rows = await service.queue(ctx.session, ctx.principal)
    return render(ctx.request, "reviews/queue.html", rows=rows)


@page(Permission.review_awards)
async def decide_page(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    reason = str(form.get("reason", ""))
    params = ctx.request.path_params
    await _decide(ctx, params["id"], params["action"], reason)
    await ctx.session.commit()
    done = "award_accepted" if params["action"] == "accept" else "award_rejected"
    return RedirectResponse(f"/reviews?done={done}", status_code=303)


routes = [
    Route("/api/v1/reviews", api_queue),
    Route("/api/v1/reviews/{id:int}/{action:str}", api_decide, methods=["POST"]),
    Route("/reviews", queue_page),
    Route("/reviews/{id:int}/{action:str}", decide_page, methods=["POST"]),
]
