"""The reward catalogue: what is offered, to whom, and what each person can afford."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.ledger.models import AccountKind
from points.ledger.service import (
    balances,
)
from points.org.models import Department, Employee
from points.rewards.models import (
    Approver,
    Fulfilment,
    Reward,
    VoucherCode,
)
from points.rewards.policy import Actor, in_audience, in_window
from points.rewards.schemas import RewardCreate
from points.shared_reads import shared

MAX_PICTURE_BYTES = 512 * 1024
PICTURE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")


async def get_reward(session: AsyncSession, reward_id: int) -> Reward:
    reward = await session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(_("No such reward."))
    return reward


async def list_rewards(session: AsyncSession, *, include_inactive: bool = False) -> list[Reward]:
    query = select(Reward)
    if not include_inactive:
        query = query.where(col(Reward.active).is_(True))
    rows = await session.exec(query.order_by(col(Reward.sort_order), col(Reward.price)))
    return list(rows.all())


@dataclass
class CatalogueItem:
    """A reward as one person sees it: can they afford it, how much is missing."""

    reward: Reward
    remaining: int | None  # units left (stock, or free codes); None is unlimited
    shortfall: int  # points still missing; 0 when affordable
    open_now: bool
    for_me: bool

    @property
    def affordable(self) -> bool:
        return self.shortfall == 0

    @property
    def sold_out(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    @property
    def low_stock(self) -> bool:
        return self.remaining is not None and 0 < self.remaining <= self.reward.low_stock_at


async def free_codes(session: AsyncSession, reward_ids: Sequence[int]) -> dict[int, int]:
    """How many unreserved codes each voucher reward has left."""
    if not reward_ids:
        return {}
    rows = await session.exec(
        select(VoucherCode.reward_id, func.count())
        .where(col(VoucherCode.reward_id).in_(reward_ids), col(VoucherCode.redemption_id).is_(None))
        .group_by(col(VoucherCode.reward_id))
    )
    return {reward_id: count for reward_id, count in rows.all()}


def _voucher_ids(rewards: Sequence[Reward]) -> list[int]:
    return [r.id for r in rewards if r.id and r.fulfilment == Fulfilment.voucher]


async def _offered(session: AsyncSession) -> tuple[list[Reward], dict[int, int]]:
    """The active rewards (as copies that belong to no session) and their free codes:
    the same for everyone, kept a moment by the process (:mod:`points.shared_reads`)."""
    rewards = await list_rewards(session)
    codes = await free_codes(session, _voucher_ids(rewards))
    return [Reward(**{n: getattr(r, n) for n in Reward.model_fields}) for r in rewards], codes


async def catalogue(
    session: AsyncSession,
    employee: Employee | None,
    *,
    include_inactive: bool = False,
    now: datetime | None = None,
    money: dict[AccountKind, int] | None = None,
) -> list[CatalogueItem]:
    """The rewards a person may see (their audience), with what they can afford.

    ``money``: the person's balances when the caller has read them already.
    """
    now = now or utcnow()
    if include_inactive:
        rewards = await list_rewards(session, include_inactive=True)
        codes = await free_codes(session, _voucher_ids(rewards))
    else:
        rewards, codes = await shared(session, "catalogue", lambda: _offered(session))
    available = 0
    path = "/"
    if employee is not None and employee.id is not None:
        money = money if money is not None else await balances(session, employee.id)
        available = money[AccountKind.available]
        department = await session.get(Department, employee.department_id)
        path = department.path if department else "/"
    items = []
    for reward in rewards:
        for_me = employee is None or in_audience(reward, path)
        if not for_me and not include_inactive:
            continue
        remaining = reward.stock
        if reward.fulfilment == Fulfilment.voucher:
            pool = codes.get(reward.id or 0, 0)
            remaining = pool if remaining is None else min(remaining, pool)
        items.append(
            CatalogueItem(
                reward=reward,
                remaining=remaining,
                shortfall=max(0, reward.price - available) if employee is not None else 0,
                open_now=in_window(reward, now),
                for_me=for_me,
            )
        )
    return items


async def save_reward(
    session: AsyncSession, data: RewardCreate, actor: Actor, reward_id: int | None = None
) -> Reward:
    """Create a reward or change one; audited."""
    reward = (
        Reward(name=data.name, price=data.price)
        if reward_id is None
        else await get_reward(session, reward_id)
    )
    before = {} if reward_id is None else _reward_summary(reward)
    for name, value in data.model_dump().items():
        setattr(reward, name, value)
    reward.audience = sorted(set(data.audience))
    reward.updated_at = utcnow()
    reward.updated_by = actor.name
    if reward.fulfilment == Fulfilment.leave:
        reward.approver = Approver.head
    if reward.audience:
        known = (
            await session.exec(select(Department.id).where(col(Department.id).in_(reward.audience)))
        ).all()
        unknown = sorted(set(reward.audience) - set(known))
        if unknown:
            raise InvalidInput(_("Unknown department: {ids}").format(ids=unknown))
    session.add(reward)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="reward.create" if reward_id is None else "reward.update",
        target=f"reward:{reward.id}",
        details={"before": before, "after": _reward_summary(reward)}
        if before
        else _reward_summary(reward),
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    return reward


def _reward_summary(reward: Reward) -> dict[str, Any]:
    return {
        "name": reward.name,
        "price": reward.price,
        "stock": reward.stock,
        "limit": [reward.limit_count, reward.limit_period],
        "audience": list(reward.audience or []),
        "fulfilment": reward.fulfilment,
        "approver": reward.approver,
        "active": reward.active,
    }


async def set_picture(
    session: AsyncSession, reward_id: int, data: bytes, content_type: str, actor: Actor
) -> None:
    """Store an uploaded picture in the database (no file storage to back up separately)."""
    if content_type not in PICTURE_TYPES:
        raise InvalidInput(_("Upload a PNG, JPEG, WebP or GIF picture."))
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidInput(_("The picture is larger than 512 KB."))
    reward = await get_reward(session, reward_id)
    reward.picture, reward.picture_type = data, content_type
    session.add(reward)
    await record(
        session,
        actor=actor.name,
        action="reward.picture",
        target=f"reward:{reward_id}",
        details={"bytes": len(data), "type": content_type},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
