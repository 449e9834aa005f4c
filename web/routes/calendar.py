"""HR keeps the working-day calendar (工作日历): holidays and make-up working days."""

from __future__ import annotations

from datetime import date

from starlette.datastructures import UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.db import utcnow
from points.errors import InvalidInput
from points.i18n import _
from points.workdays import service as calendar
from web.forms import int_param
from web.security import Ctx, page
from web.templating import render


def _year(ctx: Ctx) -> int:
    year = int_param(ctx.request, "year") or utcnow().astimezone(ctx.settings.zone).year
    if not 2000 <= year <= 2100:
        raise InvalidInput(_("Choose a year between 2000 and 2100."))
    return year


@page(Permission.manage_rules)
async def calendar_page(ctx: Ctx) -> Response:
    year = _year(ctx)
    problem, typed = "", ""
    if ctx.request.method == "POST":
        form = await ctx.request.form()
        try:
            fields = {
                k: str(form.get(k, "") or "") for k in ("action", "calendar", "day", "kind", "name")
            }
            upload = form.get("file")
            if isinstance(upload, UploadFile) and upload.filename:
                raw = await upload.read(calendar.MAX_IMPORT_BYTES + 1)
                fields["calendar"] = raw.decode("utf-8-sig", errors="replace")
        finally:
            await form.close()
        typed = fields["calendar"]
        try:
            done = await _apply(ctx, fields)
        except InvalidInput as refused:
            await ctx.session.rollback()
            problem = refused.message
        else:
            await ctx.session.commit()
            return RedirectResponse(f"/rules/calendar?year={year}&done={done}", status_code=303)
    days = await calendar.calendar_days(ctx.session, year)
    listed = await calendar.years(ctx.session)
    return render(
        ctx.request,
        "rules/calendar.html",
        status_code=422 if problem else 200,
        year=year,
        days=days,
        years=sorted({*listed, year, year + 1}),
        next_missing=(year + 1) not in listed,
        problem=problem,
        typed=typed,
    )


async def _apply(ctx: Ctx, fields: dict[str, str]) -> str:
    who = {"actor": ctx.principal.userid, "ip": ctx.client_ip}
    action = fields["action"]
    if action == "import":
        await calendar.save_days(ctx.session, calendar.parse_calendar(fields["calendar"]), **who)
        return "calendar_imported"
    try:
        day = date.fromisoformat(fields["day"].strip())
    except ValueError:
        raise InvalidInput(_("Give a date like 2026-10-01.")) from None
    if action == "remove":
        await calendar.remove_days(ctx.session, [day], **who)
        return "calendar_removed"
    if action == "add" and fields["kind"] in ("off", "work"):
        name = fields["name"].strip()[: calendar.MAX_NAME]
        await calendar.save_days(ctx.session, [calendar.Day(day, fields["kind"], name)], **who)
        return "calendar_saved"
    raise InvalidInput(_("Choose what to do with the calendar."))


routes = [Route("/rules/calendar", calendar_page, methods=["GET", "POST"])]
