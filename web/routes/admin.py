"""Admin pages: the audit log and who holds which role."""

from __future__ import annotations

from datetime import timedelta

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.audit import service as audit
from points.audit.service import record
from points.auth.permissions import Permission
from points.auth.service import create_token, list_tokens, revoke_token
from points.bounds import check_int
from points.errors import InvalidInput
from points.events import service as intake
from points.i18n import _
from points.jobs import JobContext
from points.org import service as org
from points.org.models import Role
from points.scoring.jobs import retry_parked
from points.wecom import connectors as wecom_connectors
from web.forms import date_param, day_start, page_params
from web.security import Ctx, page
from web.templating import render


@page(Permission.view_audit)
async def audit_log(ctx: Ctx) -> Response:
    request = ctx.request
    zone = ctx.settings.zone
    since, until = date_param(request, "since"), date_param(request, "until")
    offset, limit = page_params(request)
    rows, total = await audit.search(
        ctx.session,
        actor=request.query_params.get("actor") or None,
        action=request.query_params.get("action") or None,
        since=day_start(since, zone) if since else None,
        until=day_start(until, zone) + timedelta(days=1) if until else None,
        limit=limit,
        offset=offset,
    )
    return render(
        request,
        "admin/audit.html",
        block="results",
        rows=rows,
        total=total,
        offset=offset,
        limit=limit,
        actions=await audit.known_actions(ctx.session),
        names=await org.names_by_userid(ctx.session, {row.actor for row in rows}),
        filters=request.query_params,
    )


@page(Permission.manage_roles)
async def roles(ctx: Ctx) -> Response:
    request = ctx.request
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form()
        typed = {k: str(form.get(k, "")).strip() for k in ("userid", "role", "department_id")}
        action = str(form.get("action", "grant"))
        try:
            role = Role(typed["role"])
        except ValueError:
            raise InvalidInput(_("Choose a role.")) from None
        if action == "revoke":
            await org.revoke_role(
                ctx.session,
                userid=typed["userid"],
                role=role,
                revoked_by=ctx.principal.userid,
                ip=ctx.client_ip,
                user_agent=ctx.user_agent,
            )
            await ctx.session.commit()
            return RedirectResponse("/admin/roles?done=revoked", status_code=303)
        department_id = (
            check_int(int(typed["department_id"]), "department_id")
            if typed["department_id"].isdigit()
            else None
        )
        problems = await _grant_problems(ctx, typed["userid"], role, department_id)
        if not problems:
            await org.grant_role(
                ctx.session,
                userid=typed["userid"],
                role=role,
                department_id=department_id,
                granted_by=ctx.principal.userid,
                ip=ctx.client_ip,
                user_agent=ctx.user_agent,
            )
            await ctx.session.commit()
            return RedirectResponse("/admin/roles?done=granted", status_code=303)
    departments = await org.list_departments(ctx.session)
    return render(
        request,
        "admin/roles.html",
        status_code=422 if problems else 200,
        assignments=await org.people_with_roles(ctx.session),
        departments=departments,
        names={d.id: d.name for d in departments},
        roles=[r for r in Role if r != Role.employee],
        problems=problems,
        typed=typed,
        picked=await _picked(ctx, typed.get("userid", "")),
    )


async def _grant_problems(
    ctx: Ctx, userid: str, role: Role, department_id: int | None
) -> dict[str, str]:
    """What is wrong with a grant, per field, in the person's language."""
    problems: dict[str, str] = {}
    if not userid or not await org.names_by_userid(ctx.session, {userid}):
        problems["userid"] = _("Pick a person from the list.")
    if role == Role.head and department_id is None:
        problems["department_id"] = _("A department head needs the department they run.")
    return problems


async def _picked(ctx: Ctx, userid: str) -> list[dict[str, str]]:
    """The person already chosen, so a form shown again keeps the choice."""
    if not userid:
        return []
    people = await org.pick_people(ctx.session, userid, limit=1)
    return [p for p in people if p["userid"] == userid]


@page(Permission.manage_roles)
async def pick_person(ctx: Ctx) -> Response:
    """People matching what was typed (name or userid), to pick one by name."""
    q = ctx.request.query_params.get("person_q", "").strip()
    people = await org.pick_people(ctx.session, q) if q else []
    return render(ctx.request, "_picks.html", people=people, q=q)


@page(Permission.view_audit)
async def events(ctx: Ctx) -> Response:
    """Intake health: events by status, parked events (with a retry), conflicting replays."""
    request = ctx.request
    if request.method == "POST":
        form = await request.form()
        ids = [
            int(v)
            for v in form.getlist("event_id")
            if isinstance(v, str) and v.isdigit() and len(v) <= 9
        ]
        job_ctx = JobContext(ctx.settings, request.app.state.db, ctx.queue)
        retried = await retry_parked(job_ctx, ids)
        await record(
            ctx.session,
            actor=ctx.principal.userid,
            action="events.retry",
            details={"events": ids, "retried": retried},
            ip=ctx.client_ip,
        )
        await ctx.session.commit()
        return RedirectResponse("/admin/events", status_code=303)
    return render(
        request,
        "admin/events.html",
        counts=await intake.status_counts(ctx.session),
        submissions=await intake.recent_submissions(ctx.session),
        parked=await intake.parked(ctx.session),
        conflicts=await intake.conflicts(ctx.session),
        quarantine=await wecom_connectors.quarantined(ctx.session),
    )


@page(Permission.manage_tokens)
async def tokens(ctx: Ctx) -> Response:
    """API tokens: create one (shown once), revoke one; both audited."""
    request = ctx.request
    created: str | None = None
    problems: dict[str, str] = {}
    typed: dict[str, str] = {}
    if request.method == "POST":
        form = await request.form()
        if form.get("action") == "revoke":
            raw_id = str(form.get("token_id", ""))
            if not raw_id.isdigit() or len(raw_id) > 9:
                raise InvalidInput(_("Choose a token."))
            await revoke_token(ctx.session, token_id=int(raw_id), revoked_by=ctx.principal.userid)
            await ctx.session.commit()
            return RedirectResponse("/admin/tokens?done=token_revoked", status_code=303)
        try:
            role = Role(str(form.get("role", "")))
        except ValueError:
            raise InvalidInput(_("Choose a role.")) from None
        userid = str(form.get("userid", "")).strip() or None
        name = str(form.get("name", "")).strip()
        typed = {"name": name, "role": role.value, "userid": userid or ""}
        if not 1 <= len(name) <= 64:
            problems["name"] = _("Give the token a name (at most 64 characters).")
        if role in (Role.employee, Role.head) and not userid:
            problems["userid"] = _("A token for this role acts as a person: pick one.")
        elif userid and not await org.names_by_userid(ctx.session, {userid}):
            problems["userid"] = _("Pick a person from the list.")
        if not problems:
            created = await create_token(
                ctx.session,
                name=name,
                role=role,
                userid=userid,
                created_by=ctx.principal.userid,
                read_only=form.get("read_only") == "1",
            )
            await ctx.session.commit()
    return render(
        request,
        "admin/tokens.html",
        status_code=422 if problems else 200,
        tokens=await list_tokens(ctx.session),
        created=created,
        roles=list(Role),
        problems=problems,
        typed=typed,
        picked=await _picked(ctx, typed.get("userid", "")),
    )


@page(Permission.view_audit)
async def hub(ctx: Ctx) -> Response:
    return render(ctx.request, "admin/hub.html")


routes = [
    Route("/admin", hub),
    Route("/admin/events", events, methods=["GET", "POST"]),
    Route("/admin/tokens", tokens, methods=["GET", "POST"]),
    Route("/admin/audit", audit_log),
    Route("/admin/roles", roles, methods=["GET", "POST"]),
    Route("/admin/people", pick_person),
]
