"""REST API under /api/v1 (bearer tokens). Routes parse, call a service, answer JSON."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from points.audit.service import record
from points.auth.permissions import Permission
from points.auth.scope import require_department, visible_departments
from points.boards.personal import history, person_figures
from points.errors import Forbidden, InvalidInput
from points.events.service import MAX_BATCH, ingest_payloads
from points.i18n import _
from points.jobs import commit
from points.org import service as org
from points.org.models import Employee
from web.api_schemas import (
    EmployeeFigures,
    EmployeeOut,
    EmployeePage,
    EntryOut,
    EntryPage,
    EventResults,
)
from web.forms import int_param, page_params
from web.security import Ctx, api


@api(Permission.view_department)
async def list_employees(ctx: Ctx) -> Response:
    offset, limit = page_params(ctx.request)
    department = int_param(ctx.request, "department")
    visible = await visible_departments(ctx.session, ctx.principal)
    ids: list[int] | None = None
    if department is not None:
        await require_department(ctx.session, ctx.principal, department)
        ids = await org.subtree_ids(ctx.session, department)
    elif visible is not None:
        ids = sorted(visible)
    rows, total = await org.search_employees(
        ctx.session,
        department_ids=ids,
        q=ctx.request.query_params.get("q") or None,
        limit=limit,
        offset=offset,
    )
    page = EmployeePage(
        items=[EmployeeOut.of(e) for e in rows], total=total, offset=offset, limit=limit
    )
    return JSONResponse(page.model_dump(mode="json"))


async def _visible_employee(ctx: Ctx) -> Employee:
    """The employee in the path, if the caller may see them (self, or their subtree)."""
    employee = await org.get_employee(ctx.session, ctx.request.path_params["userid"])
    if employee.userid != ctx.principal.userid:
        if not ctx.principal.can(Permission.view_department):
            raise Forbidden(_("You can only see your own figures."))
        await require_department(ctx.session, ctx.principal, employee.department_id)
    return employee


@api(Permission.view_own)
async def get_employee(ctx: Ctx) -> Response:
    employee = await _visible_employee(ctx)
    figures = await person_figures(ctx.session, ctx.settings, employee)
    return JSONResponse(EmployeeFigures.build(employee, figures).model_dump(mode="json"))


@api(Permission.view_own)
async def employee_entries(ctx: Ctx) -> Response:
    employee = await _visible_employee(ctx)
    offset, limit = page_params(ctx.request)
    assert employee.id is not None
    rows, total = await history(ctx.session, employee.id, offset=offset, limit=limit)
    page = EntryPage(items=[EntryOut.of(r) for r in rows], total=total, offset=offset, limit=limit)
    return JSONResponse(page.model_dump(mode="json"))


@api(Permission.submit_events)
async def post_events(ctx: Ctx) -> Response:
    """One event or a batch (≤ 1,000); a bad event does not sink the good ones."""
    try:
        body = await ctx.request.json()
    except ValueError:
        raise InvalidInput(_("The body must be JSON.")) from None
    items = body if isinstance(body, list) else [body]
    if not items or len(items) > MAX_BATCH:
        raise InvalidInput(_("Send between 1 and 1000 events."))
    source = ctx.request.query_params.get("source", "api")
    principal = ctx.principal
    results = await ingest_payloads(
        ctx.session,
        source,
        items,
        submitted_by=principal.audit_name,
        submitter_userid=principal.userid if principal.employee_id is not None else None,
    )
    counts: dict[str, int] = {}
    for result in results:
        counts[str(result["status"])] = counts.get(str(result["status"]), 0) + 1
    await record(
        ctx.session,
        actor=principal.audit_name,
        action="events.post",
        target=source,
        details={"events": len(items), **counts},
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await commit(ctx.session, ctx.queue)
    status = 200 if all(r["status"] != "invalid" for r in results) else 207
    answer = EventResults.model_validate({"results": results})
    return JSONResponse(answer.model_dump(mode="json"), status_code=status)


routes = [
    Route("/api/v1/events", post_events, methods=["POST"]),
    Route("/api/v1/employees", list_employees),
    Route("/api/v1/employees/{userid}", get_employee),
    Route("/api/v1/employees/{userid}/entries", employee_entries),
]
