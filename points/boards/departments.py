"""Departments against each other: points per head and participation in a window."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.ranking import competition_ranks
from points.boards.windows import Scope, Window, eligible_employee
from points.calendar import Period
from points.errors import InvalidInput
from points.i18n import _
from points.ledger.models import PeriodScore
from points.org.models import Department, Employee

# Departments smaller than this are folded into their parent on department boards.
MIN_DEPARTMENT_SIZE = 5


@dataclass
class DepartmentRow:
    department_id: int
    name: str
    folded: list[str]  # small departments counted here, for privacy
    members: int
    points: int
    participants: int
    rank_per_head: int = 0
    rank_participation: int = 0

    @property
    def per_head(self) -> float:
        return round(self.points / self.members, 1) if self.members else 0.0

    @property
    def participation(self) -> float:
        return round(100 * self.participants / self.members, 1) if self.members else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "name": self.name,
            "folded": self.folded,
            "members": self.members,
            "points": self.points,
            "per_head": self.per_head,
            "participation_pct": self.participation,
            "rank_per_head": self.rank_per_head,
            "rank_participation": self.rank_participation,
        }


@dataclass
class DepartmentBoard:
    window: Window
    scope: Scope
    rows: list[DepartmentRow]
    hidden_small: int  # people in departments too small to show even after folding
    order: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.window.period.value if self.window.period else "campaign",
            "key": self.window.key,
            "scope": self.scope.key,
            "order": self.order,
            "hidden_small": self.hidden_small,
            "departments": [r.to_dict() for r in self.rows],
        }


async def department_board(
    session: AsyncSession, *, window: Window, scope: Scope, order: str = "per_head"
) -> DepartmentBoard:
    """Departments against each other, by points per head and by participation rate.

    Each department counts its own members; departments with fewer than five are
    folded into their parent (bottom up), so no small team's figures are exposed.
    """
    if order not in ("per_head", "participation"):
        raise InvalidInput(_("order must be per_head or participation"))
    departments = (await session.exec(select(Department))).all()
    if scope.department is not None:
        root_path = scope.department.path
        departments = [d for d in departments if d.path.startswith(root_path)]
    by_id = {d.id: d for d in departments}
    members: dict[int, int] = {d.id: 0 for d in departments}
    member_rows = (
        await session.exec(
            select(Employee.department_id, func.count())
            .where(*eligible_employee(), col(Employee.department_id).in_(sorted(by_id)))
            .group_by(col(Employee.department_id))
        )
    ).all()
    for department_id, count in member_rows:
        members[int(department_id)] = int(count)

    # Per person first (a campaign sums days), then per department.
    if window.is_campaign:
        assert window.days is not None
        person_filter = [
            col(PeriodScore.period) == Period.day.value,
            col(PeriodScore.period_key) >= window.days[0].isoformat(),
            col(PeriodScore.period_key) <= window.days[1].isoformat(),
        ]
    else:
        assert window.period is not None
        person_filter = [
            col(PeriodScore.period) == window.period.value,
            col(PeriodScore.period_key) == window.key,
        ]
    person = (
        select(
            col(PeriodScore.employee_id).label("employee_id"),
            func.sum(PeriodScore.points).label("points"),
        )
        .where(*person_filter)
        .group_by(col(PeriodScore.employee_id))
        .subquery()
    )
    score_rows = (
        await session.exec(
            select(
                Employee.department_id,
                func.sum(person.c.points),
                func.sum(case((person.c.points > 0, 1), else_=0)),
            )
            .join(person, person.c.employee_id == col(Employee.id))
            .where(*eligible_employee(), col(Employee.department_id).in_(sorted(by_id)))
            .group_by(col(Employee.department_id))
        )
    ).all()
    units = {d.id: DepartmentRow(d.id, d.name, [], members[d.id], 0, 0) for d in departments}
    for department_id, points, participants in score_rows:
        unit = units[int(department_id)]
        unit.points, unit.participants = int(points or 0), int(participants or 0)

    # Fold small departments into their parent, deepest first.
    hidden_small = 0
    for department in sorted(departments, key=lambda d: -d.path.count("/")):
        unit = units[department.id]
        if unit.members >= MIN_DEPARTMENT_SIZE:
            continue
        parent = units.get(department.parent_id) if department.parent_id is not None else None
        if parent is not None:
            parent.members += unit.members
            parent.points += unit.points
            parent.participants += unit.participants
            if unit.members:
                parent.folded.append(unit.name)
            parent.folded.extend(unit.folded)
        else:
            hidden_small += unit.members
        del units[department.id]

    rows = list(units.values())
    by_head = sorted(rows, key=lambda r: -r.per_head)
    for r, rank in zip(by_head, competition_ranks([r.per_head for r in by_head]), strict=True):
        r.rank_per_head = rank
    by_part = sorted(rows, key=lambda r: -r.participation)
    for r, rank in zip(by_part, competition_ranks([r.participation for r in by_part]), strict=True):
        r.rank_participation = rank
    rows.sort(
        key=lambda r: (
            (r.rank_per_head, r.name) if order == "per_head" else (r.rank_participation, r.name)
        )
    )
    return DepartmentBoard(window, scope, rows, hidden_small, order)
