"""The department head's dashboard, pilot programmes (试点) and the figures export."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from urllib.parse import urlencode

from markupsafe import Markup
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission, Principal
from points.auth.scope import require_department, visible_departments
from points.bounds import check_day, check_int
from points.calendar import fit_key, key_at, recent_keys
from points.dashboards import dashboard as dashboard_service
from points.dashboards import figures as dashboard_figures
from points.dashboards import pilot_report, pulse
from points.dashboards import pilots as dashboard_pilots
from points.db import utcnow
from points.errors import Forbidden, InvalidInput, NotFound
from points.i18n import N_, _
from points.jobs import commit
from points.ledger.models import Period
from points.org import service as org
from points.org.models import Department
from points.team_goals import service as team_goals
from web.charts import bar_chart, line_chart
from web.forms import int_param
from web.routes.boards import csv_response
from web.security import Ctx, page
from web.templating import render

PERIOD_LABELS = {"week": N_("Week"), "month": N_("Month"), "quarter": N_("Quarter")}
GOAL_ROWS = 3


async def chosen_department(ctx: Ctx) -> Department | None:
    """The department asked for (checked against the viewer's scope), or their default.

    None means the whole company, which only HR and admins may see.
    """
    chosen = int_param(ctx.request, "department")
    if chosen is None and ctx.principal.head_of:
        chosen = min(ctx.principal.head_of)
    if chosen is None:
        if not ctx.principal.can(Permission.view_company):
            raise Forbidden(_("You can only see the departments you run."))
        return None
    await require_department(ctx.session, ctx.principal, chosen)
    department = await ctx.session.get(Department, chosen)
    if department is None:
        raise NotFound(_("No such department."))
    return department


async def heads_department(
    session: AsyncSession, principal: Principal, department: Department | None
) -> bool:
    """Whether the viewer is the head of this department (or one above it)."""
    if department is None:
        return False
    for head_of in principal.head_of:
        if department.id in await org.subtree_ids(session, head_of):
            return True
    return False


def dashboard_period(ctx: Ctx) -> tuple[Period, str]:
    raw = ctx.request.query_params.get("period") or "month"
    try:
        period = Period(raw)
    except ValueError:
        raise InvalidInput(_("Unknown period.")) from None
    if period not in dashboard_service.DASHBOARD_PERIODS:
        raise InvalidInput(_("The dashboard covers a week, a month or a quarter."))
    # A key of another period (the form kept last month's) means the current period.
    key = fit_key(period, ctx.request.query_params.get("key"), utcnow(), ctx.settings.zone)
    return period, key


def _charts(board: dashboard_service.Dashboard) -> list[tuple[str, Markup]]:
    labels = [
        f.start.astimezone(board.trend[0].start.tzinfo).strftime("%m/%d") for f in board.trend
    ]
    series: list[tuple[str, Callable[..., Markup], list[float | None]]] = [
        (_("Active users (%)"), line_chart, [f.active_share for f in board.trend]),
        (
            _("Approvals submitted online"),
            bar_chart,
            [float(f.approvals_submitted) for f in board.trend],
        ),
        (
            _("Average approval turnaround (h)"),
            line_chart,
            [f.turnaround_hours for f in board.trend],
        ),
        (_("Documents shared"), bar_chart, [float(f.docs_shared) for f in board.trend]),
    ]
    return [(title, draw(title, labels, values)) for title, draw, values in series]


async def requested_dashboard(ctx: Ctx) -> tuple[Period, dashboard_service.Dashboard]:
    """The dashboard the query string asks for, as the page and the API both show it."""
    department = await chosen_department(ctx)
    period, key = dashboard_period(ctx)
    board = await dashboard_service.dashboard(
        ctx.session,
        department=department,
        period=period,
        key=key,
        zone=ctx.settings.zone,
        show_inactive=await heads_department(ctx.session, ctx.principal, department),
    )
    return period, board


@page(Permission.view_department)
async def dashboard_page(ctx: Ctx) -> Response:
    period, board = await requested_dashboard(ctx)
    visible = await visible_departments(ctx.session, ctx.principal)
    choices = [
        d for d in await org.list_departments(ctx.session) if visible is None or d.id in visible
    ]
    now_key = key_at(period, utcnow(), ctx.settings.zone)
    department = ctx.request.query_params.get("department")
    tabs = [
        {
            "label": label,
            "href": "/dashboard?"
            + urlencode({"period": value, **({"department": department} if department else {})}),
            "active": value == period.value,
        }
        for value, label in PERIOD_LABELS.items()
    ]
    return render(
        ctx.request,
        "dashboards/index.html",
        board=board,
        tabs=tabs,
        figures=dashboard_figures.FIGURES,
        charts=_charts(board),
        choices=choices,
        company_allowed=visible is None,
        period_labels=PERIOD_LABELS,
        keys=recent_keys(period, now_key, 12),
        can_export=ctx.principal.can(Permission.export),
        can_manage_pilots=ctx.principal.can(Permission.manage_pilots),
        query_string=str(ctx.request.query_params),
        team_goals=await team_goals.progress(ctx.session, ctx.settings, visible),
    )


@page(Permission.export)
async def export_dashboard(ctx: Ctx) -> Response:
    department = await chosen_department(ctx)
    period, key = dashboard_period(ctx)
    board = await dashboard_service.dashboard(
        ctx.session,
        department=department,
        period=period,
        key=key,
        zone=ctx.settings.zone,
        show_inactive=False,
    )
    rows = await dashboard_service.export_figures(
        ctx.session,
        board,
        actor=ctx.principal.audit_name,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    return csv_response(rows, f"dashboard-{department.id if department else 'company'}-{key}.csv")


@page(Permission.view_department)
async def pilots_page(ctx: Ctx) -> Response:
    visible = await visible_departments(ctx.session, ctx.principal)
    pilots = await dashboard_pilots.list_pilots(ctx.session, visible)
    choices = [
        d for d in await org.list_departments(ctx.session) if visible is None or d.id in visible
    ]
    return render(
        ctx.request,
        "dashboards/pilots.html",
        pilots=pilots,
        choices=choices,
        figures=dashboard_figures.FIGURES,
        goal_rows=range(GOAL_ROWS),
        can_manage=ctx.principal.can(Permission.manage_pilots),
        today=date.today().isoformat(),
    )


@page(Permission.manage_pilots)
async def create_pilot(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    try:
        department_ids = [
            check_int(int(str(v)), "departments") for v in form.getlist("departments")
        ]
        start_on = check_day(date.fromisoformat(str(form.get("start_on", ""))), "start_on")
        days = check_int(int(str(form.get("days") or 30)), "days")
    except ValueError:
        raise InvalidInput(_("Check the departments, start date and duration.")) from None
    goals = [
        {
            "figure": form.get(f"goal_figure_{i}"),
            "kind": form.get(f"goal_kind_{i}") or "target",
            "value": form.get(f"goal_value_{i}"),
            "label": form.get(f"goal_label_{i}") or "",
            "templates": str(form.get(f"goal_templates_{i}") or ""),
        }
        for i in range(GOAL_ROWS)
        if form.get(f"goal_figure_{i}") and form.get(f"goal_value_{i}")
    ]
    pilot = await dashboard_pilots.create_pilot(
        ctx.session,
        actor=ctx.principal.audit_name,
        name=str(form.get("name", "")),
        department_ids=department_ids,
        start_on=start_on,
        days=days,
        goals=goals,
        note=str(form.get("note", "")),
        reward_rule=str(form.get("reward_rule", "")),
        owner=str(form.get("owner", "")) or ctx.principal.userid,
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    return RedirectResponse(f"/dashboard/pilots/{pilot.id}", status_code=303)


async def _visible_pilot(ctx: Ctx) -> tuple[dashboard_pilots.PilotProgress, set[int] | None]:
    pilot = await dashboard_pilots.get_pilot(ctx.session, int(ctx.request.path_params["pilot_id"]))
    visible = await visible_departments(ctx.session, ctx.principal)
    if visible is not None and not set(pilot.department_ids) & visible:
        raise Forbidden(_("You can only see the departments you run."))
    progress = await dashboard_pilots.pilot_progress(
        ctx.session, pilot, ctx.settings.zone, visible=visible
    )
    return progress, visible


@page(Permission.view_department)
async def pilot_page(ctx: Ctx) -> Response:
    progress, visible = await _visible_pilot(ctx)
    stake = None
    if progress.pilot.reward_rule:  # a team goal the pilot names: the reward at stake
        stake = await team_goals.at_stake(ctx.session, ctx.settings, progress.pilot.reward_rule)
    return render(
        ctx.request,
        "dashboards/pilot.html",
        progress=progress,
        summary=dashboard_pilots.newsletter_summary(progress),
        team_goals=[
            t for t in (stake[1] if stake else []) if visible is None or t.department.id in visible
        ],
        weeks=await pulse.weeks(ctx.session, progress.pilot),
        members=len(await pulse.members(ctx.session, progress.pilot)),
    )


@page(Permission.view_department)
async def export_pilot(ctx: Ctx) -> Response:
    """Goals in words and the weekly pulse, as CSV (comments without names)."""
    progress, _visible = await _visible_pilot(ctx)
    rows = pilot_report.csv_rows(progress, await pulse.weeks(ctx.session, progress.pilot))
    return csv_response(
        [[str(cell) for cell in row] for row in rows], f"pilot-{progress.pilot.id}.csv"
    )


@page(Permission.view_own)
async def answer_pulse(ctx: Ctx) -> Response:
    """A pilot member answers this week's pulse from home; a second answer is refused."""
    form = await ctx.request.form()
    try:
        pilot_id = check_int(int(str(form.get("pilot_id", ""))), "pilot_id")
    except ValueError:
        raise InvalidInput(_("No such pilot.")) from None
    employee = await ctx.employee()
    await pulse.answer(
        ctx.session, ctx.settings, employee, pilot_id, form.get("score"), form.get("comment")
    )
    await commit(ctx.session, ctx.queue)
    return RedirectResponse("/?done=pulse#pulse", status_code=303)


routes = [
    Route("/dashboard", dashboard_page),
    Route("/dashboard/export.csv", export_dashboard),
    Route("/dashboard/pilots", pilots_page),
    Route("/dashboard/pilots/new", create_pilot, methods=["POST"]),
    Route("/dashboard/pilots/{pilot_id:int}", pilot_page),
    Route("/dashboard/pilots/{pilot_id:int}/export.csv", export_pilot),
    Route("/pulse", answer_pulse, methods=["POST"]),
]
