"""The privacy notice (/privacy), one's own data export, and the admin's notice editor."""

from __future__ import annotations

import json
from typing import Any

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.audit.service import record
from points.auth.permissions import Permission
from points.i18n import current_locale
from points.privacy import service
from web.security import Ctx, api, page
from web.templating import render


def notice_blocks(text: str) -> list[dict[str, Any]]:
    """The notice's plain-text markup as blocks: "## " headings, "- " lists, paragraphs."""
    blocks: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("## "):
            blocks.append({"kind": "heading", "text": line[3:]})
        elif line.startswith("- "):
            if not blocks or blocks[-1]["kind"] != "list":
                blocks.append({"kind": "list", "items": []})
            blocks[-1]["items"].append(line[2:])
        else:
            blocks.append({"kind": "paragraph", "text": line})
    return blocks


@page(None)
async def privacy_page(ctx: Ctx) -> Response:
    """Anyone, even before logging in, may read what is kept about them and why."""
    text, edited = await service.notice(ctx.session, current_locale.get())
    return render(
        ctx.request,
        "privacy.html",
        blocks=notice_blocks(text),
        edited=edited,
        settings=ctx.settings,
        logged_in=bool(ctx.principal.userid and ctx.principal.employee_id),
    )


async def _my_data(ctx: Ctx) -> dict[str, Any]:
    employee = await ctx.employee()
    data = await service.export_my_data(ctx.session, employee)
    await record(
        ctx.session,
        actor=ctx.principal.audit_name,
        action="privacy.export",
        target=employee.userid,
        details={k: len(data[k]) for k in ("events", "entries", "redemptions", "appeals")},
        ip=ctx.client_ip,
        user_agent=ctx.user_agent,
    )
    await ctx.session.commit()
    return data


@page(Permission.view_own)
async def my_data_csv(ctx: Ctx) -> Response:
    data = await _my_data(ctx)
    return Response(
        service.export_csv(data),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="my-data.csv"'},
    )


@api(Permission.view_own)
async def my_data_json(ctx: Ctx) -> Response:
    if ctx.principal.employee_id is None:
        from points.errors import NotFound
        from points.i18n import _

        raise NotFound(_("This token acts as nobody: bind it to a person."), code="no_person")
    data = await _my_data(ctx)
    return Response(
        json.dumps(data, ensure_ascii=False),
        media_type="application/json",
    )


@page(Permission.manage_settings)
async def edit_notice(ctx: Ctx) -> Response:
    request = ctx.request
    if request.method == "POST":
        form = await request.form()
        await service.save_notice(
            ctx.session,
            locale=str(form.get("locale", "")),
            body=str(form.get("body", "")),
            actor=ctx.principal.audit_name,
            ip=ctx.client_ip,
            user_agent=ctx.user_agent,
        )
        await ctx.session.commit()
        return RedirectResponse("/admin/privacy?saved=1", status_code=303)
    texts = {}
    for locale in service.DEFAULT_NOTICE:
        texts[locale] = (await service.notice(ctx.session, locale))[0]
    return render(
        request, "admin/privacy.html", texts=texts, saved=request.query_params.get("saved") == "1"
    )


routes = [
    Route("/privacy", privacy_page),
    Route("/privacy/my-data.csv", my_data_csv),
    Route("/api/v1/me/export", my_data_json),
    Route("/admin/privacy", edit_notice, methods=["GET", "POST"]),
]
