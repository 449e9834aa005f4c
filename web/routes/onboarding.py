"""Onboarding (新手任务) for HR and heads: completion by department, who is stuck, nudges."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.challenges import onboarding
from points.db import utcnow
from web.security import Ctx, page
from web.templating import render


@page(Permission.view_department)
async def onboarding_page(ctx: Ctx) -> Response:
    today = utcnow().astimezone(ctx.settings.zone).date()
    found = await onboarding.overview(ctx.session, ctx.settings, ctx.principal, today)
    return render(
        ctx.request,
        "challenges/onboarding.html",
        overview=found,
        days=ctx.settings.ONBOARDING_DAYS,
        stuck_after=onboarding.STUCK_AFTER_DAYS,
    )


@page(Permission.nudge_joiners)
async def nudge(ctx: Ctx) -> Response:
    today = utcnow().astimezone(ctx.settings.zone).date()
    sent = await onboarding.nudge(
        ctx.session,
        ctx.settings,
        ctx.principal,
        ctx.request.path_params["userid"],
        today,
        ip=ctx.client_ip,
    )
    await ctx.session.commit()
    return RedirectResponse(
        f"/onboarding?done={'nudged' if sent else 'nudged_already'}", status_code=303
    )


routes = [
    Route("/onboarding", onboarding_page),
    Route("/onboarding/{userid}/nudge", nudge, methods=["POST"]),
]
