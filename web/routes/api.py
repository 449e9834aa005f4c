"""REST API under /api/v1 (bearer tokens). Routes parse, call a service, answer JSON."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.auth.scope import require_department, visible_departments
from points.errors import Forbidden
from points.i18n import _
from points.org import service as org
from points.org.models import Employee
from web.forms import int_param, page_params
from web.security import Ctx, api


def employee_json(employee: Employee) -> dict[str, object]:
    return {
        "userid": employee.userid,
        "name": employee.name,
        "department_id": employee.department_id,
        "title": employee.title,
        "status": employee.status,
    }


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
    return JSONResponse(
        {
            "items": [employee_json(e) for e in rows],
            "total": total,
            "offset": offset,
            "limit": limit,
        }
    )


@api(Permission.view_own)
async def get_employee(ctx: Ctx) -> Response:
    employee = await org.get_employee(ctx.session, ctx.request.path_params["userid"])
    if employee.userid != ctx.principal.userid:
        if not ctx.principal.can(Permission.view_department):
            raise Forbidden(_("You can only see your own figures."))
        await require_department(ctx.session, ctx.principal, employee.department_id)
    return JSONResponse(employee_json(employee))


routes = [
    Route("/api/v1/employees", list_employees),
    Route("/api/v1/employees/{userid}", get_employee),
]
