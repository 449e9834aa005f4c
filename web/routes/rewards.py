"""Reward pages: the catalogue and my redemptions (employees), approvals (heads),
and fulfilment, the catalogue editor, code pools and spend (HR)."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import InvalidInput, NotFound
from points.i18n import N_, _
from points.ledger.models import AccountKind
from points.ledger.service import balances
from points.org import service as org
from points.rewards import catalogue, goals, queues, redeem, reports, vouchers, workflow
from points.rewards.models import (
    LIMIT_PERIODS,
    Approver,
    Fulfilment,
    RedemptionStatus,
)
from points.rewards.notices import STATUS_LABELS
from points.rewards.policy import LEAVE_AHEAD, Actor, RedemptionRefused
from points.rewards.schemas import RewardCreate
from points.rewards.visibility import may_see_reward
from web.forms import date_param, day_start, int_param, page_params
from web.redirects import safe_next
from web.security import Ctx, page
from web.templating import render


def actor(ctx: Ctx) -> Actor:
    return Actor(ctx.principal, ctx.client_ip, ctx.user_agent)


def nonce() -> str:
    """A fresh idempotency key per rendered form: a double-click sends it twice, once."""
    return secrets.token_urlsafe(16)


def path_id(ctx: Ctx, name: str = "id") -> int:
    value: int = ctx.request.path_params[name]
    return value


LIMIT_PERIOD_NAMES = {
    "day": N_("day"),
    "week": N_("week"),
    "month": N_("month"),
    "quarter": N_("quarter"),
    "year": N_("year"),
}


def base_values() -> dict[str, Any]:
    return {"status_labels": STATUS_LABELS, "limit_periods": LIMIT_PERIOD_NAMES}


# ---------------------------------------------------------------- employees


@page(Permission.redeem)
async def catalogue_page(ctx: Ctx) -> Response:
    employee = await ctx.employee()
    assert employee.id is not None
    money = await balances(ctx.session, employee.id)
    items = await catalogue.catalogue(ctx.session, employee, money=money)
    return render(
        ctx.request,
        "rewards/catalogue.html",
        items=items,
        available=money[AccountKind.available],
        held=money[AccountKind.held],
        **base_values(),
    )


@page(Permission.redeem)
async def reward_page(ctx: Ctx) -> Response:
    return await _reward_page(ctx, confirm=False)


async def _reward_page(
    ctx: Ctx,
    *,
    confirm: bool,
    refusal: str | None = None,
    status_code: int = 200,
    leave_date: str = "",
    leave_error: str | None = None,
) -> Response:
    employee = await ctx.employee()
    reward_id = path_id(ctx)
    assert employee.id is not None
    money = await balances(ctx.session, employee.id)
    items = [
        i
        for i in await catalogue.catalogue(ctx.session, employee, money=money)
        if i.reward.id == reward_id
    ]
    if not items:
        raise NotFound(_("No such reward."))
    available = money[AccountKind.available]
    return render(
        ctx.request,
        "rewards/reward.html",
        status_code=status_code,
        item=items[0],
        available=available,
        confirm=confirm,
        refusal=refusal,
        nonce=nonce(),
        goal=await goals.goal_progress(ctx.session, employee.id),
        leave_date=leave_date,
        leave_error=leave_error,
        leave_range=leave_range(ctx),
        **base_values(),
    )


def leave_range(ctx: Ctx) -> tuple[date, date]:
    """The days a person may ask to take off: today to a year ahead (the form's min/max)."""
    today = datetime.now(ctx.settings.zone).date()
    return today, today + LEAVE_AHEAD


def parse_day(raw: str) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


@page(Permission.redeem)
async def pin_goal(ctx: Ctx) -> Response:
    """Pin (or, with unpin=1, unpin) this reward as the person's goal."""
    form = await ctx.request.form()
    employee = await ctx.employee()
    assert employee.id is not None
    if form.get("unpin") == "1":
        await goals.unpin_goal(ctx.session, employee.id)
        done = "goal_unpinned"
    else:
        await goals.pin_goal(ctx.session, employee.id, path_id(ctx))
        done = "goal_pinned"
    await ctx.session.commit()
    return RedirectResponse(f"/rewards/{path_id(ctx)}?done={done}", status_code=303)


@page(Permission.redeem)
async def redeem_page(ctx: Ctx) -> Response:
    """GET: the confirmation step. POST: hold the price (the form's nonce is the key)."""
    if ctx.request.method == "GET":
        return await _reward_page(ctx, confirm=True)
    form = await ctx.request.form()
    key = str(form.get("nonce", "")).strip() or None
    typed_day = str(form.get("leave_date", "")).strip()[:32]
    day = parse_day(typed_day)
    employee = await ctx.employee()
    assert employee.id is not None
    try:
        if typed_day and day is None:
            raise InvalidInput(_("Choose the day you want off."), code="leave_date")
        result = await redeem.request_redemption(
            ctx.session,
            ctx.settings,
            reward_id=path_id(ctx),
            employee_id=employee.id,
            actor=actor(ctx),
            idempotency_key=key,
            leave_date=day,
        )
    except RedemptionRefused as refusal:
        await ctx.session.rollback()
        return await _reward_page(
            ctx, confirm=True, refusal=refusal.message, status_code=409, leave_date=typed_day
        )
    except InvalidInput as problem:
        if problem.code != "leave_date":
            raise
        await ctx.session.rollback()
        return await _reward_page(
            ctx,
            confirm=True,
            status_code=422,
            leave_date=typed_day,
            leave_error=problem.message,
        )
    await ctx.session.commit()
    return RedirectResponse(f"/rewards/mine/{result.redemption.id}?done=redeemed", status_code=303)


@page(Permission.redeem)
async def mine(ctx: Ctx) -> Response:
    employee = await ctx.employee()
    assert employee.id is not None
    rows = await queues.my_redemptions(ctx.session, employee.id)
    return render(ctx.request, "rewards/mine.html", rows=rows, **base_values())


@page(Permission.view_own)
async def redemption_page(ctx: Ctx) -> Response:
    view = await queues.redemption_view(ctx.session, path_id(ctx), ctx.principal)
    return render(
        ctx.request,
        "rewards/redemption.html",
        view=view,
        owner=view.redemption.employee_id == ctx.principal.employee_id,
        **base_values(),
    )


@page(Permission.redeem)
async def cancel(ctx: Ctx) -> Response:
    redemption = await workflow.cancel(ctx.session, ctx.settings, path_id(ctx), actor(ctx))
    await ctx.session.commit()
    return RedirectResponse(f"/rewards/mine/{redemption.id}?done=cancelled", status_code=303)


@page(Permission.view_own)
async def picture(ctx: Ctx) -> Response:
    reward = await catalogue.get_reward(ctx.session, path_id(ctx))
    if reward.picture is None or reward.picture_type is None:
        raise NotFound(_("No such reward."))
    if not await may_see_reward(ctx.session, ctx.principal, reward):
        raise NotFound(_("No such reward."))  # as if absent: restricted rewards stay unlisted
    return Response(
        reward.picture,
        media_type=reward.picture_type,
        headers={"Cache-Control": "private, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


# ---------------------------------------------------------------- approvers


@page(Permission.approve_redemptions)
async def approvals(ctx: Ctx) -> Response:
    rows = await queues.approval_queue(ctx.session, ctx.principal)
    return render(
        ctx.request,
        "rewards/approvals.html",
        rows=rows,
        context=await queues.approval_context(ctx.session, rows, ctx.settings.zone),
        hr=ctx.principal.can(Permission.fulfil_redemptions),
        tab="approvals",
        **base_values(),
    )


@page(Permission.approve_redemptions)
async def decide(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    redemption_id = path_id(ctx)
    action = ctx.request.path_params["action"]
    if action not in ("approve", "decline"):
        raise NotFound(_("No such redemption."))
    if action == "approve":
        await workflow.approve(ctx.session, ctx.settings, redemption_id, actor(ctx))
    else:
        reason = str(form.get("reason", ""))
        await workflow.decline(ctx.session, ctx.settings, redemption_id, reason, actor(ctx))
    await ctx.session.commit()
    back = safe_next(str(form.get("back", "")), default="/approvals")
    done = "approved" if action == "approve" else "declined"
    return RedirectResponse(f"{back}{'&' if '?' in back else '?'}done={done}", status_code=303)


# ---------------------------------------------------------------- HR


QUEUE_STATUSES = {
    "": [RedemptionStatus.awaiting_fulfilment],
    "approval": [RedemptionStatus.awaiting_approval],
    "pending": [RedemptionStatus.awaiting_approval, RedemptionStatus.awaiting_fulfilment],
    "fulfilled": [RedemptionStatus.fulfilled],
    "closed": [RedemptionStatus.declined, RedemptionStatus.cancelled, RedemptionStatus.expired],
}


@page(Permission.fulfil_redemptions)
async def queue(ctx: Ctx) -> Response:
    request = ctx.request
    status = request.query_params.get("status", "")
    if status not in QUEUE_STATUSES:
        raise InvalidInput(_("Unknown filter."))
    department = int_param(request, "department")
    offset, limit = page_params(request)
    rows, total = await queues.fulfilment_queue(
        ctx.session,
        statuses=QUEUE_STATUSES[status],
        reward_id=int_param(request, "reward"),
        department_ids=await org.subtree_ids(ctx.session, department) if department else None,
        q=request.query_params.get("q") or None,
        offset=offset,
        limit=limit,
    )
    return render(
        request,
        "rewards/queue.html",
        block="results",
        rows=rows,
        total=total,
        offset=offset,
        limit=limit,
        filters=request.query_params,
        rewards=await catalogue.list_rewards(ctx.session, include_inactive=True),
        departments=await org.list_departments(ctx.session),
        tab="queue",
        **base_values(),
    )


@page(Permission.fulfil_redemptions)
async def bulk_fulfil(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    ids = [
        int(v) for v in form.getlist("ids") if isinstance(v, str) and v.isdigit() and len(v) <= 9
    ]
    if not ids:
        # Said above the list, which stays as it was.
        return RedirectResponse("/fulfilment?problem=nothing_ticked", status_code=303)
    await workflow.fulfil_many(ctx.session, ctx.settings, ids, actor(ctx))
    await ctx.session.commit()
    return RedirectResponse("/fulfilment?done=fulfilled", status_code=303)


@page(Permission.manage_rewards)
async def manage(ctx: Ctx) -> Response:
    items = await catalogue.catalogue(ctx.session, None, include_inactive=True)
    return render(ctx.request, "rewards/manage.html", items=items, tab="catalogue")


@page(Permission.manage_rewards)
async def edit(ctx: Ctx) -> Response:
    raw_id = ctx.request.path_params.get("id")
    reward_id = int(raw_id) if raw_id is not None else None
    problems: dict[str, str] = {}
    typed: Any = None
    if ctx.request.method == "POST":
        form = await ctx.request.form()
        data, values, problems = reward_from_form(form, ctx.settings.zone)
        if data is not None:
            saved = await catalogue.save_reward(ctx.session, data, actor(ctx), reward_id)
            await ctx.session.commit()
            return RedirectResponse(
                f"/fulfilment/catalogue/{saved.id}?done=reward_saved", status_code=303
            )
        # Shown again as typed, with each problem next to its field.
        typed = RewardCreate.model_construct(**values)
    reward = await catalogue.get_reward(ctx.session, reward_id) if reward_id else None
    pool = await vouchers.code_pool(ctx.session, reward_id) if reward_id else None
    return render(
        ctx.request,
        "rewards/edit.html",
        status_code=422 if problems else 200,
        reward=reward,
        typed=typed,
        pool=pool,
        problems=problems,
        departments=await org.list_departments(ctx.session),
        fulfilments=list(Fulfilment),
        approvers=list(Approver),
        periods=list(LIMIT_PERIODS),
        zone=ctx.settings.zone,
        tab="catalogue",
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# The schema's own checks, said to HR next to the field they concern.
MODEL_PROBLEMS = {
    "a per-person limit needs both a count and a period": (
        "limit_count",
        N_("A per-person limit needs both a count and a period."),
    ),
    "the window must end after it starts": (
        "available_until",
        N_("The end must come after the start."),
    ),
    "paid leave needs its hours": ("leave_hours", N_("Paid leave needs its hours.")),
}


def _field_problem(error: Any) -> tuple[str, str]:
    """(field, message in the person's language) for one pydantic error."""
    field = ".".join(str(part) for part in error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "value_error":
        text = str(ctx.get("error", error["msg"]))
        for known, (where, message) in MODEL_PROBLEMS.items():
            if known in text:
                return where, _(message)
    if kind == "greater_than":
        return field, _("Must be more than {n}.").format(n=ctx.get("gt"))
    if kind == "greater_than_equal":
        return field, _("Must be at least {n}.").format(n=ctx.get("ge"))
    if kind in ("missing", "string_too_short"):
        return field, _("Required.")
    if kind == "string_too_long":
        return field, _("At most {n} characters.").format(n=ctx.get("max_length"))
    return field or "form", _("Check this value.")


def reward_from_form(
    form: FormData, zone: Any
) -> tuple[RewardCreate | None, dict[str, Any], dict[str, str]]:
    """The editor's fields: (the reward, or None; the values as typed; field -> problem)."""
    problems: dict[str, str] = {}

    def number(name: str) -> int | None:
        raw = _field(form, name)
        if not raw:
            return None
        if not raw.lstrip("-").isdigit():
            problems[name] = _("Enter a whole number.")
            return None
        return int(raw)

    def moment(name: str) -> datetime | None:
        raw = _field(form, name)
        if not raw:
            return None
        try:
            return datetime.fromisoformat(raw).replace(tzinfo=zone)
        except ValueError:
            problems[name] = _("Enter a date and time.")
            return None

    values: dict[str, Any] = {
        "name": _field(form, "name"),
        "name_en": _field(form, "name_en"),
        "description": _field(form, "description"),
        "description_en": _field(form, "description_en"),
        "icon": _field(form, "icon") or "🎁",
        "price": number("price") or 0,
        "stock": number("stock"),
        "low_stock_at": number("low_stock_at") or 0,
        "limit_count": number("limit_count"),
        "limit_period": _field(form, "limit_period") or None,
        "audience": [
            int(v) for v in form.getlist("audience") if isinstance(v, str) and v.isdigit()
        ],
        "available_from": moment("available_from"),
        "available_until": moment("available_until"),
        "fulfilment": _field(form, "fulfilment") or "manual",
        "leave_hours": number("leave_hours"),
        "approver": _field(form, "approver") or "none",
        "expire_after_days": number("expire_after_days") or 14,
        "active": form.get("active") == "on",
        "sort_order": number("sort_order") or 0,
    }
    start, end = values["available_from"], values["available_until"]
    if start and end and end <= start:
        # Checked here too: the schema only checks it once every field is valid.
        problems["available_until"] = _("The end must come after the start.")
    try:
        reward = RewardCreate(**values)
    except ValidationError as exc:
        for error in exc.errors():
            where, message = _field_problem(error)
            problems.setdefault(where, message)
        reward = None
    return (None if problems else reward), values, problems


@page(Permission.manage_rewards)
async def upload_codes(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    try:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(_("Choose a CSV file of codes."))
        text = (await upload.read(5_000_000)).decode("utf-8-sig", errors="replace")
        filename = upload.filename or "codes.csv"
    finally:
        await form.close()
    await vouchers.upload_codes(ctx.session, path_id(ctx), text, filename, actor(ctx))
    await ctx.session.commit()
    return RedirectResponse(f"/fulfilment/catalogue/{path_id(ctx)}?saved=1", status_code=303)


@page(Permission.manage_rewards)
async def upload_picture(ctx: Ctx) -> Response:
    form = await ctx.request.form()
    try:
        upload = form.get("picture")
        if not isinstance(upload, UploadFile):
            raise InvalidInput(_("Upload a PNG, JPEG, WebP or GIF picture."))
        data = await upload.read(catalogue.MAX_PICTURE_BYTES + 1)
        content_type = upload.content_type or ""
    finally:
        await form.close()
    await catalogue.set_picture(ctx.session, path_id(ctx), data, content_type, actor(ctx))
    await ctx.session.commit()
    return RedirectResponse(f"/fulfilment/catalogue/{path_id(ctx)}?saved=1", status_code=303)


def _range(ctx: Ctx) -> tuple[datetime | None, datetime | None]:
    zone = ctx.settings.zone
    since, until = date_param(ctx.request, "since"), date_param(ctx.request, "until")
    return (
        day_start(since, zone) if since else None,
        day_start(until, zone) + timedelta(days=1) if until else None,
    )


@page(Permission.view_spend)
async def spend(ctx: Ctx) -> Response:
    since, until = _range(ctx)
    by = ctx.request.query_params.get("by", "reward")
    rows = await reports.spend_report(ctx.session, by=by, since=since, until=until)
    return render(
        ctx.request,
        "rewards/spend.html",
        rows=rows,
        by=by,
        filters=ctx.request.query_params,
        can_export=ctx.principal.can(Permission.export),
        tab="spend",
    )


@page(Permission.export)
async def spend_export(ctx: Ctx) -> Response:
    since, until = _range(ctx)
    by = ctx.request.query_params.get("by", "reward")
    rows = await reports.spend_report(ctx.session, by=by, since=since, until=until)
    await reports.record_export(ctx.session, actor(ctx), by, len(rows), since, until)
    await ctx.session.commit()
    return Response(
        reports.spend_csv(rows, by),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reward-spend-by-{by}.csv"'},
    )


routes = [
    Route("/rewards", catalogue_page),
    Route("/rewards/mine", mine),
    Route("/rewards/mine/{id:int}", redemption_page),
    Route("/rewards/mine/{id:int}/cancel", cancel, methods=["POST"]),
    Route("/rewards/{id:int}", reward_page),
    Route("/rewards/{id:int}/picture", picture),
    Route("/rewards/{id:int}/redeem", redeem_page, methods=["GET", "POST"]),
    Route("/rewards/{id:int}/goal", pin_goal, methods=["POST"]),
    Route("/approvals", approvals),
    Route("/approvals/{id:int}/{action:str}", decide, methods=["POST"]),
    Route("/fulfilment", queue),
    Route("/fulfilment/fulfil", bulk_fulfil, methods=["POST"]),
    Route("/fulfilment/approvals", approvals),
    Route("/fulfilment/catalogue", manage),
    Route("/fulfilment/catalogue/new", edit, methods=["GET", "POST"]),
    Route("/fulfilment/catalogue/{id:int}", edit, methods=["GET", "POST"]),
    Route("/fulfilment/catalogue/{id:int}/codes", upload_codes, methods=["POST"]),
    Route("/fulfilment/catalogue/{id:int}/picture", upload_picture, methods=["POST"]),
    Route("/fulfilment/spend", spend),
    Route("/fulfilment/spend.csv", spend_export),
]
