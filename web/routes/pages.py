"""Logging in and out, language, and the home page."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.audit.service import record
from points.auth.service import person_with_roles, principal_of
from points.errors import Forbidden, InvalidInput
from points.i18n import _, normalize_locale
from points.org import service as org
from points.org.models import EmployeeStatus
from web.ratelimit import FailureLimiter
from web.redirects import safe_next
from web.security import Ctx, page, start_session
from web.templating import render


@page(permission=None)
async def login(ctx: Ctx) -> Response:
    request = ctx.request
    settings = ctx.settings
    if request.method == "POST":
        if not settings.DEV_LOGIN:
            raise Forbidden(_("Log in with WeCom."), code="dev_login_off")
        limiter: FailureLimiter = request.app.state.limiter
        await limiter.check("login", ctx.client_ip)
        form = await request.form()
        userid = str(form.get("userid", "")).strip()
        found = await person_with_roles(ctx.session, userid) if userid else None
        employee, roles = found if found else (None, [])
        if employee is None or employee.status != EmployeeStatus.active:
            await limiter.failed("login", ctx.client_ip)
            raise InvalidInput(_("No active employee with this userid."), code="unknown_user")
        principal = principal_of(employee, roles)
        start_session(request, employee)
        await record(
            ctx.session,
            actor=principal.userid,
            action="login",
            details={"method": "dev"},
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await ctx.session.commit()
        return RedirectResponse(safe_next(str(form.get("next", "/"))), status_code=303)
    people = await org.login_choices(ctx.session) if settings.DEV_LOGIN else {}
    return render(
        request, "login.html", people=people, next=safe_next(request.query_params.get("next"))
    )


@page(permission=None)
async def logout(ctx: Ctx) -> Response:
    """Log out everywhere: every session of this person ends server-side."""
    if ctx.principal.userid:
        employee = await ctx.employee()
        org.end_sessions(employee)
        await record(
            ctx.session,
            actor=ctx.principal.userid,
            action="logout",
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await ctx.session.commit()
    ctx.request.session.clear()
    return RedirectResponse("/login", status_code=303)


async def set_language(request: Request) -> Response:
    """A language preference cookie; harmless, so a plain link works on phones."""
    locale = normalize_locale(request.query_params.get("to")) or "zh_CN"
    response = RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    response.set_cookie("points_lang", locale, max_age=365 * 24 * 3600, samesite="lax")
    return response


@page()
async def more(ctx: Ctx) -> Response:
    """Everything the phone's tab bar has no room for, as one list."""
    return render(ctx.request, "more.html")


routes = [
    Route("/more", more),
    Route("/login", login, methods=["GET", "POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/lang", set_language),
]
