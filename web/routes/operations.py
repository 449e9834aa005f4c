"""Running the product: the periodic jobs page, and the spend report for finance's tools."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import InvalidInput
from points.i18n import _
from points.ops import scheduler
from points.rewards import reports as rewards
from points.rewards.policy import Actor
from web.forms import date_param, day_start
from web.security import Ctx, api, page
from web.templating import render


@page(Permission.run_jobs)
async def jobs_page(ctx: Ctx) -> Response:
    """Each periodic job: schedule, last run and result, next run; run one now."""
    request = ctx.request
    db = request.app.state.db
    if request.method == "POST":
        form = await request.form()
        name = str(form.get("job", ""))
        if name not in {p.name for p in scheduler.periodic_jobs()}:
            raise InvalidInput(_("Unknown job."), code="unknown_job")
        await scheduler.execute(
            ctx.settings,
            db,
            ctx.queue,
            name,
            trigger="admin",
            actor=ctx.principal.audit_name,
            ip=ctx.client_ip,
        )
        return RedirectResponse("/admin/jobs", status_code=303)
    return render(
        request,
        "admin/jobs.html",
        jobs=await scheduler.status(ctx.settings, db),
        runs=await scheduler.recent_runs(db, limit=30),
        embedded=not ctx.settings.REDIS_URL,
        scheduler_on=ctx.settings.SCHEDULER,
    )


@api(Permission.view_spend)
async def spend_report(ctx: Ctx) -> Response:
    """The reward spend report (``?by=reward|department&since=&until=&format=csv``)."""
    zone = ctx.settings.zone
    since, until = date_param(ctx.request, "since"), date_param(ctx.request, "until")
    start = day_start(since, zone) if since else None
    end = day_start(until, zone) + timedelta(days=1) if until else None
    by = ctx.request.query_params.get("by", "reward")
    rows = await rewards.spend_report(ctx.session, by=by, since=start, until=end)
    if ctx.request.query_params.get("format") == "csv":
        ctx.principal.require(Permission.export)
        actor = Actor(ctx.principal, ip=ctx.client_ip, user_agent=ctx.user_agent)
        await rewards.record_export(ctx.session, actor, by, len(rows), start, end)
        await ctx.session.commit()
        return Response(
            rewards.spend_csv(rows, by),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="reward-spend-by-{by}.csv"'},
        )
    return JSONResponse({"by": by, "items": [asdict(row) for row in rows]})


routes = [
    Route("/admin/jobs", jobs_page, methods=["GET", "POST"]),
    Route("/api/v1/reports/spend", spend_report),
]
