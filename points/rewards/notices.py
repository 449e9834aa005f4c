"""What a redemption tells people: the person's notices, the approvers' requests and
the redemption's timeline."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.i18n import N_, _, use_locale
from points.notifications.service import notify
from points.org.models import Employee, EmployeeStatus, Role, RoleAssignment
from points.rewards.models import (
    Redemption,
    RedemptionStatus,
    RedemptionStep,
    Reward,
)
from points.rewards.policy import Actor
from points.settings import Settings

STATUS_LABELS = {
    RedemptionStatus.awaiting_approval: N_("Awaiting approval"),
    RedemptionStatus.awaiting_fulfilment: N_("Awaiting fulfilment"),
    RedemptionStatus.fulfilled: N_("Fulfilled"),
    RedemptionStatus.declined: N_("Declined"),
    RedemptionStatus.cancelled: N_("Cancelled"),
    RedemptionStatus.expired: N_("Expired"),
}


def step(redemption: Redemption, actor: Actor, at: datetime, note: str = "") -> RedemptionStep:
    """A line of the redemption's timeline: its status now; not yet in any session."""
    assert redemption.id is not None
    return RedemptionStep(
        redemption_id=redemption.id,
        status=redemption.status,
        at=at,
        actor=actor.name,
        note=note[:500],
    )


def add_step(
    session: AsyncSession, redemption: Redemption, actor: Actor, at: datetime, note: str = ""
) -> None:
    session.add(step(redemption, actor, at, note))


_NOTICES = {
    RedemptionStatus.awaiting_approval: (
        N_("Redemption requested: {reward}"),
        N_("{points} points are held while it waits for approval."),
    ),
    RedemptionStatus.awaiting_fulfilment: (
        N_("Redemption on its way: {reward}"),
        N_("{points} points are held until it is handed over."),
    ),
    RedemptionStatus.fulfilled: (
        N_("Redeemed: {reward}"),
        N_("{points} points were spent. Enjoy!"),
    ),
    RedemptionStatus.declined: (
        N_("Redemption declined: {reward}"),
        N_("{points} points are back in your balance. Reason: {reason}"),
    ),
    RedemptionStatus.cancelled: (
        N_("Redemption cancelled: {reward}"),
        N_("{points} points are back in your balance."),
    ),
    RedemptionStatus.expired: (
        N_("Redemption expired: {reward}"),
        N_("Nobody acted on it in time; {points} points are back in your balance."),
    ),
}


def notice(
    settings: Settings,
    locale: str | None,
    reward_name: str,
    reward_name_en: str,
    redemption: Redemption,
) -> tuple[str, str]:
    """The title and body telling the person what happened, in their language."""
    title, body = _NOTICES[RedemptionStatus(redemption.status)]
    locale = locale or settings.DEFAULT_LOCALE
    with use_locale(locale):
        name = reward_name if locale == "zh_CN" or not reward_name_en else reward_name_en
        return (
            _(title).format(reward=name),
            _(body).format(points=redemption.price, reason=redemption.reason or "-"),
        )


def tell(
    session: AsyncSession,
    settings: Settings,
    employee: Employee,
    reward: Reward,
    redemption: Redemption,
) -> None:
    """Tell the person what happened, in their language, through the outbox."""
    title, body = notice(settings, employee.locale, reward.name, reward.name_en, redemption)
    notify(
        session,
        userid=employee.userid,
        kind=f"redemption.{redemption.status}",
        title=title,
        body=body,
        url=f"/rewards/mine/{redemption.id}",
    )


async def tell_heads(
    session: AsyncSession,
    settings: Settings,
    *,
    employee_id: int,
    name: str,
    department_path: str,
    reward_name: str,
) -> None:
    """Ask the nearest head above the person (never the person themselves) to approve."""
    chain = [int(p) for p in department_path.strip("/").split("/") if p]
    rows = (
        await session.exec(
            select(RoleAssignment.department_id, Employee.userid)
            .join(Employee, col(Employee.id) == col(RoleAssignment.employee_id))
            .where(
                RoleAssignment.role == Role.head,
                col(RoleAssignment.department_id).in_(chain),
                Employee.id != employee_id,
                Employee.status == EmployeeStatus.active,
            )
        )
    ).all()
    if not rows:
        return
    nearest = max(chain.index(d) for d, _u in rows if d is not None)
    with use_locale(settings.DEFAULT_LOCALE):
        for department_id, userid in rows:
            if department_id == chain[nearest]:
                notify(
                    session,
                    userid=userid,
                    kind="redemption.approval_needed",
                    title=_("Approval needed: {name} asks for {reward}").format(
                        name=name, reward=reward_name
                    ),
                    url="/approvals",
                )
