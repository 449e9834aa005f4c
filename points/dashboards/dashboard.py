"""The department head's adoption dashboard: a period's figures against the one
before, an eight-week trend, top contributors, inactive members and pilots.

People's points come from period scores; everything else from
:mod:`points.dashboards.figures`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.boards.leaderboard import ANONYMOUS
from points.calendar import Period, bounds, previous_key, weeks_ending
from points.dashboards.figures import (
    FIGURES,
    Figures,
    department_ids,
    eligible,
    figures_for_windows,
    format_figure,
    member_ids,
)
from points.dashboards.pilots import PilotProgress, pilots_for
from points.db import utcnow
from points.errors import InvalidInput
from points.events.models import ActivityEvent
from points.i18n import _
from points.ledger.models import PeriodScore
from points.org.models import Department, Employee

INACTIVE_DAYS = 14
TREND_WEEKS = 8
DASHBOARD_PERIODS = (Period.week, Period.month, Period.quarter)


@dataclass
class Contributor:
    name: str
    department: str
    points: int
    anonymous: bool


async def top_contributors(
    session: AsyncSession,
    departments: list[int] | None,
    period: Period,
    key: str,
    limit: int = 5,
) -> list[Contributor]:
    """The people of the subtree who earned most in the period (opt-outs stay anonymous)."""
    rows = (
        await session.exec(
            select(Employee, Department.name, PeriodScore.points)
            .join(PeriodScore, col(PeriodScore.employee_id) == col(Employee.id))
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(
                PeriodScore.period == period.value,
                PeriodScore.period_key == key,
                col(PeriodScore.points) > 0,
                col(Employee.id).in_(member_ids(departments)),
            )
            .order_by(col(PeriodScore.points).desc(), col(Employee.id))
            .limit(limit)
        )
    ).all()
    return [
        Contributor(
            _(ANONYMOUS) if e.board_opt_out else e.name,
            "" if e.board_opt_out else name,
            int(points),
            e.board_opt_out,
        )
        for e, name, points in rows
    ]


async def inactive_members(
    session: AsyncSession,
    departments: list[int] | None,
    now: datetime | None = None,
    limit: int = 100,
) -> tuple[list[tuple[Employee, str]], int]:
    """Members with no activity in the last 14 days (for the head's coaching), and how many."""
    since = (now or utcnow()) - timedelta(days=INACTIVE_DAYS)
    recent = select(col(ActivityEvent.employee_id)).where(
        col(ActivityEvent.occurred_at) >= since, col(ActivityEvent.employee_id).is_not(None)
    )
    condition = [
        *eligible(),
        col(Employee.id).not_in(recent),
    ]
    if departments is not None:
        condition.append(col(Employee.department_id).in_(departments))
    total = (await session.exec(select(func.count()).select_from(Employee).where(*condition))).one()
    rows = (
        await session.exec(
            select(Employee, Department.name)
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(*condition)
            .order_by(col(Department.path), col(Employee.name))
            .limit(limit)
        )
    ).all()
    return [(e, name) for e, name in rows], int(total)


@dataclass
class Dashboard:
    department: Department | None
    period: Period
    key: str
    current: Figures
    previous: Figures
    trend: list[Figures]
    contributors: list[Contributor]
    inactive: list[tuple[Employee, str]] | None  # None: not shown to this viewer
    inactive_total: int = 0
    pilots: list[PilotProgress] = field(default_factory=list)

    def change(self, key: str) -> float | None:
        """Per cent change of a figure against the previous period."""
        now, before = self.current.value(key), self.previous.value(key)
        if now is None or before in (None, 0):
            return None
        assert before is not None
        return round(100 * (now - before) / before, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "department": self.department.id if self.department else None,
            "period": self.period.value,
            "key": self.key,
            "current": self.current.to_dict(),
            "previous": self.previous.to_dict(),
            "change_pct": {f.key: self.change(f.key) for f in FIGURES},
            "trend": [f.to_dict() for f in self.trend],
            "top_contributors": [
                {"name": c.name, "department": c.department, "points": c.points}
                for c in self.contributors
            ],
            "pilots": [p.to_dict() for p in self.pilots],
        }


async def dashboard(
    session: AsyncSession,
    *,
    department: Department | None,
    period: Period,
    key: str,
    zone: tzinfo,
    show_inactive: bool,
    now: datetime | None = None,
) -> Dashboard:
    """The dashboard of a department subtree (None: the company) for one period."""
    if period not in DASHBOARD_PERIODS:
        raise InvalidInput(_("The dashboard covers a week, a month or a quarter."))
    departments = await department_ids(session, [department.id] if department else None)
    before = previous_key(period, key)
    current, previous = await _current_and_previous(session, departments, period, key, before, zone)
    trend = await figures_for_windows(
        session, departments, weeks_ending(bounds(period, key, zone)[1], zone, TREND_WEEKS)
    )
    contributors = await top_contributors(session, departments, period, key)
    inactive, inactive_total = (None, 0)
    if show_inactive:
        found, inactive_total = await inactive_members(session, departments, now)
        inactive = found
    pilots = await pilots_for(session, departments, zone, now=now)
    return Dashboard(
        department,
        period,
        key,
        current,
        previous,
        trend,
        contributors,
        inactive,
        inactive_total,
        pilots,
    )


async def _current_and_previous(
    session: AsyncSession,
    departments: list[int] | None,
    period: Period,
    key: str,
    before: str,
    zone: tzinfo,
) -> tuple[Figures, Figures]:
    previous, current = await figures_for_windows(
        session, departments, [bounds(period, before, zone), bounds(period, key, zone)]
    )
    return current, previous


def figures_csv_rows(board: Dashboard) -> list[list[str]]:
    """The dashboard's figures as CSV rows (figure, this period, previous, change)."""
    rows = [[_("Figure"), board.key, previous_key(board.period, board.key), _("Change %")]]
    for figure in FIGURES:
        change = board.change(figure.key)
        rows.append(
            [
                _(figure.label),
                format_figure(board.current.value(figure.key), figure.unit),
                format_figure(board.previous.value(figure.key), figure.unit),
                "" if change is None else f"{change:g}",
            ]
        )
    rows.append([_("Members"), str(board.current.members), str(board.previous.members), ""])
    return rows


async def export_figures(
    session: AsyncSession, board: Dashboard, *, actor: str, ip: str = "", user_agent: str = ""
) -> list[list[str]]:
    """The dashboard's figures as CSV rows for HR; audited."""
    rows = figures_csv_rows(board)
    await record(
        session,
        actor=actor,
        action="export.dashboard",
        target=f"department:{board.department.id}" if board.department else "company",
        details={"period": board.period.value, "key": board.key},
        ip=ip,
        user_agent=user_agent,
    )
    return rows
