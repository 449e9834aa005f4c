"""Who may see a reward (its page, its picture): the catalogue's rules, in one place."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.auth.permissions import Permission, Principal
from points.org.models import Department, Employee
from points.rewards.models import Redemption, Reward
from points.rewards.policy import in_audience


async def may_see_reward(session: AsyncSession, principal: Principal, reward: Reward) -> bool:
    """HR and approvers see every reward they may handle; others see an active reward of
    their audience, or one they have redeemed (it stays in their history)."""
    if principal.can(Permission.manage_rewards) or principal.can(Permission.approve_redemptions):
        return True
    if principal.employee_id is None:
        return False
    employee = await session.get(Employee, principal.employee_id)
    if employee is None:
        return False
    department = await session.get(Department, employee.department_id)
    if reward.active and in_audience(reward, department.path if department else "/"):
        return True
    redeemed = await session.exec(
        select(Redemption.id).where(
            Redemption.employee_id == principal.employee_id, Redemption.reward_id == reward.id
        )
    )
    return redeemed.first() is not None
