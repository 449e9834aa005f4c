"""Integrity review (积分异常复核): HR's queue of patterns, a flag's evidence and events, the
review with a note, and ``GET /api/v1/integrity/flags``."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import InvalidInput
from points.i18n import _
from points.integrity import service
from web.api_schemas import IntegrityFlagList
from web.security import Ctx, api, page
from web.templating import render


def _status(ctx: Ctx) -> str | None:
    return ctx.request.query_params.get("status") or None


@page(Permission.review_integrity)
async def queue(ctx: Ctx) -> Response:
    status = _status(ctx)
    rows = await service.list_flags(ctx.session, status=status)
    return render(
        ctx.request,
        "integrity/index.html",
        rows=[(flag, employee, service.describe(flag)) for flag, employee in rows],
        status=status or "",
        label=service.pattern_label,
        cap_days=ctx.settings.INTEGRITY_CAP_DAYS,
    )


async def _detail(ctx: Ctx, flag_id: int, problem: str | None = None, note: str = "") -> Response:
    flag, employee = await service.get_flag(ctx.session, flag_id)
    events, total = await service.flag_events(ctx.session, ctx.settings, flag, employee)
    reason = _("Integrity review #{id}: {pattern}").format(
        id=flag.id, pattern=service.pattern_label(str(flag.pattern))
    )
    return render(
        ctx.request,
        "integrity/detail.html",
        status_code=422 if problem else 200,
        flag=flag,
        employee=employee,
        lines=service.describe(flag),
        label=service.pattern_label(str(flag.pattern)),
        events=events,
        total=total,
        problem=problem,
        note=note,
        own=ctx.principal.userid in (employee.userid, flag.subject),
        adjust_url=f"/people/{quote(employee.userid)}?{urlencode({'reason': reason})}#adjust",
        reviewed=ctx.request.query_params.get("done") == "reviewed",
    )


@page(Permission.review_integrity)
async def flag_page(ctx: Ctx) -> Response:
    return await _detail(ctx, ctx.request.path_params["id"])


@page(Permission.review_integrity)
async def review(ctx: Ctx) -> Response:
    flag_id: int = ctx.request.path_params["id"]
    form = await ctx.request.form()
    note = str(form.get("note", ""))
    try:
        await service.review(
            ctx.session,
            ctx.principal,
            flag_id,
            note=note,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    except InvalidInput as refused:
        await ctx.session.rollback()
        return await _detail(ctx, flag_id, problem=refused.message, note=note)
    await ctx.session.commit()
    return RedirectResponse(f"/integrity/{flag_id}?done=reviewed", status_code=303)


@api(Permission.review_integrity)
async def api_flags(ctx: Ctx) -> Response:
    rows = await service.list_flags(ctx.session, status=_status(ctx))
    body = IntegrityFlagList.model_validate(
        {"items": [service.flag_json(flag, employee) for flag, employee in rows]}
    )
    return JSONResponse(body.model_dump(mode="json"))


routes = [
    Route("/integrity", queue),
    Route("/integrity/{id:int}", flag_page),
    Route("/integrity/{id:int}/review", review, methods=["POST"]),
    Route("/api/v1/integrity/flags", api_flags),
]
