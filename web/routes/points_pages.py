"""What an employee sees of their points, and what HR does to them by hand."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.adjustments.service import Outcome, request_adjustment
from points.appeals import service as appeals
from points.auth.permissions import Permission
from points.auth.scope import require_department
from points.boards.personal import history, person_figures
from points.bounds import check_int
from points.challenges.service import standing as challenge_standing
from points.dashboards import pulse
from points.db import utcnow
from points.errors import InvalidInput
from points.i18n import N_, _
from points.ledger.expiry_reminders import expiring
from points.ledger.models import TransactionKind
from points.levels import service as levels
from points.org import service as org
from points.progress import milestone_goals, streak_goals
from points.reviews.service import for_person
from points.rewards.goals import goal_progress
from points.shared_reads import shared
from points.statement import STATEMENT_KINDS, statement
from web.forms import date_param, day_start, page_params
from web.security import Ctx, page
from web.templating import render

# A redemption is one line (its hold), so "redeemed" lists holds only.
HISTORY_FILTERS = {
    "earned": [TransactionKind.award, TransactionKind.backapply],
    "adjusted": [TransactionKind.adjustment, TransactionKind.reversal],
    "redeemed": [TransactionKind.hold],
    "expired": [TransactionKind.expiry],
}
EMPTY_FILTER = {
    "earned": N_("Nothing earned in this selection."),
    "adjusted": N_("No adjustments in this selection."),
    "redeemed": N_("No redemptions in this selection."),
    "expired": N_("None of your points have expired."),
}


@page(Permission.view_own)
async def home(ctx: Ctx) -> Response:
    employee = await ctx.employee()
    assert employee.id is not None
    chain = await org.department_chain(ctx.session, employee.department_id)
    figures = await person_figures(ctx.session, ctx.settings, employee)
    rows, _total = await history(
        ctx.session, employee.id, kinds=STATEMENT_KINDS, limit=8, count=False
    )
    latest = await statement(ctx.session, rows)
    today = utcnow().astimezone(ctx.settings.zone).date()
    return render(
        ctx.request,
        "home.html",
        employee=employee,
        department_chain=chain,
        figures=figures,
        latest=latest,
        level=levels.standing(
            await shared(ctx.session, "level_ladder", lambda: levels.ladder(ctx.session)),
            figures.all_time,
        ),
        streaks=await streak_goals(ctx.session, employee.id, today),
        milestones=await milestone_goals(ctx.session, employee.id),
        goal=await goal_progress(ctx.session, employee.id),
        answers=await appeals.answers_by_entry(ctx.session, [r.id for r in rows if r.id]),
        appeals=await appeals.for_home(ctx.session, employee.id),
        expiring=await expiring(ctx.session, ctx.settings, employee.id, today),
        reviews=await for_person(ctx.session, employee.id),
        pulses=await pulse.for_home(ctx.session, ctx.settings, employee),
        challenges=await challenge_standing(ctx.session, ctx.settings, employee, today),
        today=today,
    )


@page(Permission.view_own)
async def my_history(ctx: Ctx) -> Response:
    employee = await ctx.employee()
    assert employee.id is not None
    reviews = await for_person(ctx.session, employee.id)
    return await _history_page(ctx, employee.userid, "history.html", reviews=reviews)


async def _history_page(ctx: Ctx, userid: str, template: str, **extra: Any) -> Response:
    request = ctx.request
    employee = await org.get_employee(ctx.session, userid)
    assert employee.id is not None
    kind = request.query_params.get("kind", "")
    if kind and kind not in HISTORY_FILTERS:
        raise InvalidInput(_("Unknown filter."))
    since, until = date_param(request, "since"), date_param(request, "until")
    offset, limit = page_params(request, default_limit=30)
    rows, total = await history(
        ctx.session,
        employee.id,
        kinds=HISTORY_FILTERS.get(kind, STATEMENT_KINDS),
        since=day_start(since, ctx.settings.zone) if since else None,
        until=day_start(until, ctx.settings.zone) + timedelta(days=1) if until else None,
        offset=offset,
        limit=limit,
    )
    return render(
        request,
        template,
        block="entries",
        employee=employee,
        rows=await statement(ctx.session, rows),
        empty=_(EMPTY_FILTER[kind]) if kind else None,
        total=total,
        offset=offset,
        limit=limit,
        kind=kind,
        filters=request.query_params,
        answers=await appeals.answers_by_entry(ctx.session, [r.id for r in rows if r.id]),
        **extra,
    )


@page(Permission.view_department)
async def person(ctx: Ctx) -> Response:
    """One person's figures and history: HR for anyone (and adjusts), heads for their teams."""
    request = ctx.request
    userid = request.path_params["userid"]
    employee = await org.get_employee(ctx.session, userid)
    await require_department(ctx.session, ctx.principal, employee.department_id)
    problem, typed = None, {}
    if request.method == "GET" and request.query_params.get("reason"):
        # An adjustment opened from elsewhere (an integrity flag) arrives with its reason.
        typed = {"reason": request.query_params["reason"][:500]}
    if request.method == "POST":
        ctx.principal.require(Permission.adjust_points)
        form = await request.form()
        typed = {k: str(form.get(k, "")) for k in ("points", "reason")}
        try:
            points = int(typed["points"].strip())
        except ValueError:
            problem = _("Points must be a non-zero whole number up to 100000.")
        else:
            try:
                result = await request_adjustment(
                    ctx.session,
                    ctx.settings,
                    ctx.principal,
                    userid=userid,
                    points=check_int(points, "points"),
                    reason=typed["reason"],
                    request_key=str(form.get("request_key", "")),
                    ip=ctx.client_ip,
                )
            except InvalidInput as refused:
                # Said next to the form, with what was typed still there.
                await ctx.session.rollback()  # expires what was loaded: read it again
                problem = refused.message
                employee = await org.get_employee(ctx.session, userid)
            else:
                await ctx.session.commit()
                flash = {
                    Outcome.applied: "adjusted",
                    Outcome.repeat: "repeat",
                    Outcome.pending: "pending",
                }[result.outcome]
                return RedirectResponse(f"/people/{quote(userid)}?done={flash}", status_code=303)
    figures = await person_figures(ctx.session, ctx.settings, employee)
    today = utcnow().astimezone(ctx.settings.zone).date()
    response = await _history_page(
        ctx,
        userid,
        "person.html",
        figures=figures,
        department_chain=await org.department_chain(ctx.session, employee.department_id),
        problem=problem,
        typed=typed,
        request_key=secrets.token_urlsafe(16),
        milestones=await milestone_goals(ctx.session, employee.id or 0),
        review_above=ctx.settings.ADJUSTMENT_REVIEW_ABOVE,
        challenges=await challenge_standing(ctx.session, ctx.settings, employee, today),
        today=today,
    )
    if problem:
        response.status_code = 422
    return response


routes = [
    Route("/", home),
    Route("/history", my_history),
    Route("/people/{userid}", person, methods=["GET", "POST"]),
]
