"""HR sets the level ladder (等级): a name per threshold of all-time points."""

from __future__ import annotations

from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.levels import service as levels
from points.levels.service import Rung
from web.security import Ctx, page
from web.templating import render

EMPTY_ROWS = 2


@page(Permission.manage_rules)
async def levels_page(ctx: Ctx) -> Response:
    problems: dict[int, str] = {}
    if ctx.request.method == "POST":
        form = await ctx.request.form()
        rungs, unreadable = _rungs(form)
        problems = unreadable or levels.check_ladder(rungs)
        if not problems:
            await levels.save_ladder(
                ctx.session, rungs, actor=ctx.principal.userid, ip=ctx.client_ip
            )
            await ctx.session.commit()
            return RedirectResponse("/rules/levels?done=levels_saved", status_code=303)
    else:
        rungs = await levels.ladder(ctx.session)
    rows = [*rungs, *[Rung(-1, "", "") for _ in range(EMPTY_ROWS)]]
    return render(
        ctx.request,
        "rules/levels.html",
        status_code=422 if problems else 200,
        rows=rows[: levels.MAX_LEVELS],
        problems=problems,
    )


def _rungs(form: object) -> tuple[list[Rung], dict[int, str]]:
    """The typed rows (blank ones skipped) and rows whose points are not a number."""
    from points.i18n import _

    rungs: list[Rung] = []
    unreadable: dict[int, str] = {}
    for i in range(levels.MAX_LEVELS):
        get = form.get  # type: ignore[attr-defined]
        raw = str(get(f"min_points_{i}", "") or "").strip()
        name = str(get(f"name_{i}", "") or "").strip()
        name_en = str(get(f"name_en_{i}", "") or "").strip()
        if not (raw or name or name_en):
            continue
        if not raw.isdigit():
            unreadable[len(rungs)] = _("Enter the points as a whole number.")
            raw = "-1"
        rungs.append(Rung(int(raw), name, name_en))
    return rungs, unreadable


routes = [Route("/rules/levels", levels_page, methods=["GET", "POST"])]
