"""REST API for rewards and redemptions under /api/v1 (bearer tokens)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.errors import Forbidden, InvalidInput, NotFound
from points.i18n import _
from points.org import service as org
from points.rewards import catalogue, queues, redeem, workflow
from points.rewards.policy import Actor
from points.rewards.schemas import (
    DeclineIn,
    RedemptionIn,
    RedemptionPublic,
    RewardCreate,
    RewardPublic,
)
from web.api_schemas import Catalogue, CatalogueItem
from web.security import Ctx, api

M = TypeVar("M", bound=BaseModel)


def actor(ctx: Ctx) -> Actor:
    return Actor(ctx.principal, ctx.client_ip, ctx.user_agent)


async def body_as(ctx: Ctx, model: type[M]) -> M:
    try:
        raw: Any = json.loads(await ctx.request.body() or b"{}")
        return model.model_validate(raw)
    except json.JSONDecodeError:
        raise InvalidInput(_("The body is not JSON.")) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"{where}: {first['msg']}" if where else str(first["msg"])) from None


def dumped(model: BaseModel, status_code: int = 200) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status_code)


@api(Permission.view_own)
async def rewards(ctx: Ctx) -> Response:
    if ctx.request.method == "POST":
        ctx.principal.require(Permission.manage_rewards)
        data = await body_as(ctx, RewardCreate)
        reward = await catalogue.save_reward(ctx.session, data, actor(ctx))
        await ctx.session.commit()
        return dumped(RewardPublic.of(reward), status_code=201)
    employee = await ctx.employee() if ctx.principal.employee_id is not None else None
    items = await catalogue.catalogue(ctx.session, employee)
    answer = Catalogue(
        items=[
            CatalogueItem(
                **RewardPublic.of(item.reward).model_dump(),
                remaining=item.remaining,
                affordable=item.affordable,
                shortfall=item.shortfall,
                open_now=item.open_now,
            )
            for item in items
        ]
    )
    return dumped(answer)


@api(Permission.redeem)
async def redemptions(ctx: Ctx) -> Response:
    """Request a redemption; ``Idempotency-Key`` makes a retry return the first answer."""
    data = await body_as(ctx, RedemptionIn)
    employee_id = ctx.principal.employee_id
    if data.employee is not None:
        if not ctx.principal.can(Permission.manage_rewards):
            raise Forbidden(_("Only HR can redeem on someone's behalf."))
        employee_id = (await org.get_employee(ctx.session, data.employee)).id
    if employee_id is None:
        raise InvalidInput(_("Say whose redemption this is: employee."))
    result = await redeem.request_redemption(
        ctx.session,
        ctx.settings,
        reward_id=data.reward_id,
        employee_id=employee_id,
        actor=actor(ctx),
        idempotency_key=ctx.request.headers.get("idempotency-key"),
        leave_date=data.leave_date,
    )
    await ctx.session.commit()
    return dumped(RedemptionPublic.of(result.redemption), 201 if result.created else 200)


@api(Permission.view_own)
async def redemption(ctx: Ctx) -> Response:
    view = await queues.redemption_view(ctx.session, ctx.request.path_params["id"], ctx.principal)
    return dumped(RedemptionPublic.of(view.redemption, view.voucher_code))


@api(Permission.view_own)
async def transition(ctx: Ctx) -> Response:
    redemption_id: int = ctx.request.path_params["id"]
    action = ctx.request.path_params["action"]
    if action == "approve":
        ctx.principal.require(Permission.approve_redemptions)
        done = await workflow.approve(ctx.session, ctx.settings, redemption_id, actor(ctx))
    elif action == "decline":
        ctx.principal.require(Permission.approve_redemptions)
        reason = (await body_as(ctx, DeclineIn)).reason
        done = await workflow.decline(ctx.session, ctx.settings, redemption_id, reason, actor(ctx))
    elif action == "fulfil":
        ctx.principal.require(Permission.fulfil_redemptions)
        done = await workflow.fulfil(ctx.session, ctx.settings, redemption_id, actor(ctx))
    elif action == "cancel":
        ctx.principal.require(Permission.redeem)
        done = await workflow.cancel(ctx.session, ctx.settings, redemption_id, actor(ctx))
    else:
        raise NotFound(_("No such action."))
    await ctx.session.commit()
    return dumped(RedemptionPublic.of(done))


routes = [
    Route("/api/v1/rewards", rewards, methods=["GET", "POST"]),
    Route("/api/v1/redemptions", redemptions, methods=["POST"]),
    Route("/api/v1/redemptions/{id:int}", redemption),
    Route("/api/v1/redemptions/{id:int}/{action:str}", transition, methods=["POST"]),
]
