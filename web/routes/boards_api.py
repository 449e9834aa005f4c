"""Leaderboards and dashboard figures as JSON, e.g. for a board on an office screen."""

from __future__ import annotations

from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.boards import departments as board_departments
from points.boards import leaderboard as board_leaderboard
from points.boards import windows as board_windows
from points.errors import InvalidInput
from points.i18n import _
from points.org import service as org
from web.forms import date_param, int_param
from web.routes.dashboards import requested_dashboard
from web.security import Ctx, api


@api(Permission.view_own)
async def leaderboard(ctx: Ctx) -> Response:
    params = ctx.request.query_params
    period = ctx.request.path_params["period"]
    window = board_windows.resolve_window(
        period,
        params.get("key") or None,
        ctx.settings.zone,
        start=date_param(ctx.request, "from"),
        end=date_param(ctx.request, "to"),
    )
    scope = await board_windows.resolve_scope(ctx.session, params.get("scope"))
    if params.get("view") == "departments":
        board = await board_departments.department_board(
            ctx.session,
            window=window,
            scope=scope,
            zone=ctx.settings.zone,
            order=params.get("order") or "per_head",
        )
        return JSONResponse(board.to_dict())
    viewer_id = None
    if ctx.principal.employee_id is not None:
        viewer_id = ctx.principal.employee_id
    around_id = None
    if params.get("around"):
        around_id = (await org.get_employee(ctx.session, params["around"])).id
    limit = int_param(ctx.request, "limit") or 50
    if not 1 <= limit <= board_leaderboard.MAX_TOP:
        raise InvalidInput(_("limit must be between 1 and 200"))
    result = await board_leaderboard.leaderboard(
        ctx.session,
        window=window,
        scope=scope,
        viewer_id=viewer_id,
        around_id=around_id,
        limit=limit,
        zone=ctx.settings.zone,
    )
    return JSONResponse(result.to_dict())


@api(Permission.view_department)
async def dashboard_figures(ctx: Ctx) -> Response:
    _period, board = await requested_dashboard(ctx)
    body = board.to_dict()
    if board.inactive is not None:
        body["inactive"] = {
            "total": board.inactive_total,
            "people": [{"userid": e.userid, "name": e.name} for e, _d in board.inactive],
        }
    return JSONResponse(body)


routes = [
    Route("/api/v1/leaderboards/{period}", leaderboard),
    Route("/api/v1/dashboard", dashboard_figures),
]
