"""Leaderboard pages: individual and department boards, opting out, CSV export (HR)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, tzinfo
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.boards import departments as board_departments
from points.boards import export as board_export
from points.boards import frozen as board_frozen
from points.boards import leaderboard as board_leaderboard
from points.boards import windows as board_windows
from points.boards.jobs import FREEZE_JOB
from points.boards.standing import standing
from points.boards.windows import BOARD_PERIODS
from points.calendar import key_at, previous_key, recent_keys
from points.csv_export import csv_text
from points.db import utcnow
from points.errors import InvalidInput
from points.i18n import N_, _
from points.ledger.models import Period
from points.org import service as org
from web.forms import date_param
from web.security import Ctx, page
from web.templating import render

PERIOD_LABELS = {
    "week": N_("Week"),
    "month": N_("Month"),
    "quarter": N_("Quarter"),
    "year": N_("Year"),
    "all": N_("All time"),
    "campaign": N_("Campaign"),
}
# How many earlier periods the key chooser offers.
CHOOSER = {Period.week: 12, Period.month: 12, Period.quarter: 8, Period.year: 5, Period.all: 1}


def csv_response(rows: list[list[str]], filename: str) -> Response:
    """CSV in UTF-8 with a BOM, so Excel opens Chinese text correctly; formulas made inert."""
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@dataclass
class BoardQuery:
    """What the board's query string asks for, read strictly."""

    period: str
    window: board_windows.Window
    scope: board_windows.Scope
    view: str
    order: str
    start: date | None
    end: date | None


async def read_query(ctx: Ctx, default_scope: str | None = None) -> BoardQuery:
    request: Request = ctx.request
    params = request.query_params
    period = params.get("period") or "month"
    if period != "campaign" and period not in {p.value for p in BOARD_PERIODS}:
        raise InvalidInput(_("Unknown period."))
    start, end = date_param(request, "from"), date_param(request, "to")
    window = board_windows.resolve_window(
        period, params.get("key") or None, ctx.settings.zone, start=start, end=end
    )
    scope = await board_windows.resolve_scope(ctx.session, params.get("scope") or default_scope)
    view = params.get("view") or "people"
    if view not in ("people", "departments"):
        raise InvalidInput(_("view must be people or departments"))
    return BoardQuery(period, window, scope, view, params.get("order") or "per_head", start, end)


def period_tabs(request: Request, query: BoardQuery, zone: tzinfo) -> list[dict[str, object]]:
    """One link per period; a tab shows the current period (a campaign: this month so far)."""
    kept = {k: v for k, v in request.query_params.items() if k in ("view", "scope", "order")}
    today = utcnow().astimezone(zone).date()
    tabs = []
    for period in [*(p.value for p in BOARD_PERIODS), "campaign"]:
        params = {**kept, "period": period}
        if period == "campaign":
            params["from"] = (query.start or today.replace(day=1)).isoformat()
            params["to"] = (query.end or today).isoformat()
        tabs.append(
            {
                "label": PERIOD_LABELS[period],
                "href": f"/boards?{urlencode(params)}",
                "active": period == query.period,
            }
        )
    return tabs


@page(Permission.view_own)
async def board_page(ctx: Ctx) -> Response:
    employee = await ctx.employee()
    query = await read_query(ctx)
    if await board_frozen.has_unfrozen_closed(ctx.session, ctx.settings.zone):
        # The embedded default has no scheduler: the first visitor after a close
        # sets the freezing going (a no-op when the worker's schedule got there first).
        await ctx.queue.enqueue(FREEZE_JOB)
    people_board = department_board = None
    if query.view == "departments":
        department_board = await board_departments.department_board(
            ctx.session,
            window=query.window,
            scope=query.scope,
            zone=ctx.settings.zone,
            order=query.order,
        )
    else:
        people_board = await board_leaderboard.leaderboard(
            ctx.session,
            window=query.window,
            scope=query.scope,
            viewer_id=employee.id,
            zone=ctx.settings.zone,
        )
    keys: list[str] = []
    if query.window.period is not None:
        now_key = key_at(query.window.period, utcnow(), ctx.settings.zone)
        keys = recent_keys(query.window.period, now_key, CHOOSER[query.window.period])
        if query.window.key not in keys:
            keys.insert(0, query.window.key)
    chain = await org.department_chain(ctx.session, employee.department_id)
    department_rows = None
    if department_board is not None:
        every = ctx.request.query_params.get("all") == "1"
        department_rows = department_board.shown(
            None if every else board_departments.SHOWN_DEPARTMENTS, [d.id for d in chain]
        )
    me = None
    if people_board is not None:
        previous = None
        if query.window.period not in (None, Period.all):
            assert query.window.period is not None
            previous = await board_leaderboard.leaderboard(
                ctx.session,
                window=board_windows.Window(
                    query.window.period, previous_key(query.window.period, query.window.key)
                ),
                scope=query.scope,
                viewer_id=employee.id,
                limit=1,
                zone=ctx.settings.zone,
                names=False,  # only the viewer's points last period are shown
            )
        me = standing(people_board, previous)
    return render(
        ctx.request,
        "boards/index.html",
        q=query,
        me=me,
        tabs=period_tabs(ctx.request, query, ctx.settings.zone),
        board=people_board,
        departments=department_board,
        department_rows=department_rows,
        keys=keys,
        periods=[p.value for p in BOARD_PERIODS],
        period_labels=PERIOD_LABELS,
        my_departments=chain,
        employee=employee,
        can_export=ctx.principal.can(Permission.export),
        query_string=str(ctx.request.query_params),
    )


@page(Permission.view_own)
async def opt_out(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    employee = await ctx.employee()
    await board_leaderboard.set_board_opt_out(
        ctx.session,
        employee,
        form.get("opt_out") == "1",
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    return RedirectResponse("/boards", status_code=303)


@page(Permission.export)
async def export_board(ctx: Ctx) -> Response:
    query = await read_query(ctx)
    if query.view == "departments":
        board = await board_departments.department_board(
            ctx.session,
            window=query.window,
            scope=query.scope,
            zone=ctx.settings.zone,
            order=query.order,
        )
        rows = await board_export.export_department_board(
            ctx.session,
            board=board,
            actor=ctx.principal.audit_name,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    else:
        rows = await board_export.export_board(
            ctx.session,
            window=query.window,
            scope=query.scope,
            actor=ctx.principal.audit_name,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
    await ctx.session.commit()
    name = f"board-{query.view}-{query.window.key.replace('..', '_')}.csv"
    return csv_response(rows, name)


routes = [
    Route("/boards", board_page),
    Route("/boards/opt-out", opt_out, methods=["POST"]),
    Route("/boards/export.csv", export_board),
]
