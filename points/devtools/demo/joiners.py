"""New joiners in the demo, part-way through their onboarding quests (新手任务).

Five people of the company (the quietest of their departments) are made recent joiners
(2 to 24 days ago) after the random activity, and do their first steps in WeCom as
scripted here, so
the checklist on their home, the onboarding page and a nudge all have something to
show — one has just started, one is done, two are stuck after a week.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.events.schemas import EventIn
from points.ledger.models import Account, AccountKind
from points.org.models import Employee, RoleAssignment

# (department id, day of their first month today, first steps done so far)
JOINERS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (2, 3, ()),  # 行政部: just arrived
    (6, 6, ("approval",)),  # 市场部
    (31, 11, ("approval", "meeting")),  # 华东区 (sales): stuck, no document, no customer
    (9, 17, ("approval", "meeting", "doc")),  # 采购部: all done (not the pilot team)
    (32, 24, ("doc",)),  # 华南区 (sales): stuck
)


async def make_joiners(session: AsyncSession, today: date) -> list[str]:
    """Turn the quietest plain member (no role) of each listed department into a new joiner.

    Called after the random activity was scored, so everyone else's points stay as the
    seed made them; the quietest member has (nearly) no past of their own. Their
    progress starts empty: the window of their old join date had long closed.
    """
    with_roles = set((await session.exec(select(RoleAssignment.employee_id))).all())
    chosen: list[str] = []
    for department_id, day, _steps in JOINERS:
        members = (
            await session.exec(
                select(Employee, Account.balance)
                .join(
                    Account,
                    and_(
                        col(Account.employee_id) == col(Employee.id),
                        col(Account.kind) == AccountKind.available,
                    ),
                    isouter=True,
                )
                .where(Employee.department_id == department_id, col(Employee.excluded).is_(False))
                .order_by(func.coalesce(col(Account.balance), 0), col(Employee.id))
            )
        ).all()
        person = next((m for m, _balance in members if m.id not in with_roles), None)
        if person is None:
            continue
        person.joined_on = today - timedelta(days=day - 1)
        session.add(person)
        chosen.append(person.userid)
    return chosen


def joiner_events(userids: list[str], today: date, zone: ZoneInfo) -> list[EventIn]:
    """The scripted first steps of the joiners :func:`make_joiners` chose, oldest first."""
    found: list[EventIn] = []
    for number, (userid, (_department, day, steps)) in enumerate(
        zip(userids, JOINERS, strict=False)
    ):
        joined = today - timedelta(days=day - 1)
        for n, step in enumerate(steps):
            when = datetime.combine(joined + timedelta(days=1 + n), time(10 + n, 15), zone)
            key = f"onboarding:{userid}:{step}"
            if step == "approval":
                found.append(
                    EventIn(
                        external_id=key,
                        type="approval.submitted",
                        actor=userid,
                        occurred_at=when,
                        attributes={
                            "template": "请假",
                            "sp_no": f"{when:%Y%m%d}{number + 1:04d}",
                            "on_time": True,
                        },
                    )
                )
            elif step == "meeting":
                found.append(
                    EventIn(
                        external_id=key,
                        type="meeting.started",
                        actor=userid,
                        occurred_at=when,
                        attributes={"meeting_id": key, "topic": "新人见面会", "attendees": 4},
                    )
                )
            else:
                found.append(
                    EventIn(
                        external_id=key,
                        type="doc.shared",
                        actor=userid,
                        occurred_at=when,
                        attributes={"doc_id": key, "title": "入职学习笔记"},
                    )
                )
    return sorted(found, key=lambda e: e.occurred_at)
