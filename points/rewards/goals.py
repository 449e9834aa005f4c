"""A reward a person pins as their goal: home shows how far they are from it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.errors import NotFound
from points.i18n import _
from points.ledger.models import AccountKind
from points.ledger.service import balances
from points.rewards.models import Reward, RewardGoal


@dataclass(frozen=True)
class GoalProgress:
    reward: Reward
    available: int

    @property
    def missing(self) -> int:
        return max(0, self.reward.price - self.available)

    @property
    def progress(self) -> int:
        return min(100, 100 * self.available // self.reward.price) if self.reward.price else 100


async def pin_goal(session: AsyncSession, employee_id: int, reward_id: int) -> None:
    """Make ``reward_id`` the person's goal (replacing any other); the caller commits."""
    reward = await session.get(Reward, reward_id)
    if reward is None or not reward.active:
        raise NotFound(_("No such reward."))
    goal = await session.get(RewardGoal, employee_id)
    if goal is None:
        goal = RewardGoal(employee_id=employee_id, reward_id=reward_id)
    goal.reward_id, goal.pinned_at = reward_id, utcnow()
    session.add(goal)


async def unpin_goal(session: AsyncSession, employee_id: int) -> None:
    goal = await session.get(RewardGoal, employee_id)
    if goal is not None:
        await session.delete(goal)


async def goal_progress(session: AsyncSession, employee_id: int) -> GoalProgress | None:
    """The pinned reward and the person's available points (None without a goal)."""
    goal = await session.get(RewardGoal, employee_id)
    if goal is None:
        return None
    reward = await session.get(Reward, goal.reward_id)
    if reward is None or not reward.active:
        return None
    available = (await balances(session, employee_id))[AccountKind.available]
    return GoalProgress(reward, available)
