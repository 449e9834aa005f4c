"""Department and people pages (heads see their subtree, HR and admins everyone)."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.auth.scope import require_department, visible_departments
from points.org import service as org
from web.forms import int_param, page_params
from web.security import Ctx, page
from web.templating import render


@page(Permission.view_department)
async def department(ctx: Ctx) -> Response:
    visible = await visible_departments(ctx.session, ctx.principal)
    all_departments = await org.list_departments(ctx.session)
    choices = [d for d in all_departments if visible is None or d.id in visible]
    chosen = int_param(ctx.request, "department")
    if chosen is None:
        chosen = (
            min(ctx.principal.head_of)
            if ctx.principal.head_of
            else (choices[0].id if choices else None)
        )
    members: list[object] = []
    total = 0
    offset, limit = page_params(ctx.request)
    if chosen is not None:
        await require_department(ctx.session, ctx.principal, chosen)
        ids = await org.subtree_ids(ctx.session, chosen)
        rows, total = await org.search_employees(
            ctx.session,
            department_ids=ids,
            q=ctx.request.query_params.get("q"),
            limit=limit,
            offset=offset,
        )
        members = list(rows)
    names = {d.id: d.name for d in all_departments}
    return render(
        ctx.request,
        "department.html",
        block="members",
        departments=choices,
        chosen=chosen,
        members=members,
        total=total,
        names=names,
        offset=offset,
        limit=limit,
        q=ctx.request.query_params.get("q", ""),
    )


@page(Permission.view_company)
async def people(ctx: Ctx) -> Response:
    offset, limit = page_params(ctx.request)
    q = ctx.request.query_params.get("q", "")
    rows, total = await org.search_employees(ctx.session, q=q or None, limit=limit, offset=offset)
    names = {d.id: d.name for d in await org.list_departments(ctx.session)}
    return render(
        ctx.request,
        "people.html",
        block="members",
        members=rows,
        total=total,
        names=names,
        offset=offset,
        limit=limit,
        q=q,
    )


routes = [
    Route("/department", department),
    Route("/people", people),
]
