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
from points.boards.earned import Span, department_points, span_of, top_earners
from points.boards.leaderboard import ANONYMOUS
from points.boards.windows import Window
from points.calendar import (
    Period,
    bounds,
    elapsed,
    local_day,
    previous_key,
    same_elapsed_previous,
    weeks_ending,
)
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
    span: Span,
    zone: tzinfo,
    limit: int = 5,
) -> list[Contributor]:
    """The people who earned most in the subtree in the period (opt-outs stay anonymous).

    Points count where they were earned: someone who moved in from another
    department shows only what they earned here.
    """
    if departments is None:
        earners = (
            await session.exec(
                select(PeriodScore.employee_id, PeriodScore.points)
                .where(
                    *span.score_filter(PeriodScore),
                    col(PeriodScore.points) > 0,
                    col(PeriodScore.employee_id).in_(member_ids(None)),
                )
                .order_by(col(PeriodScore.points).desc(), col(PeriodScore.employee_id))
                .limit(limit)
            )
        ).all()
    else:
        earners = await top_earners(session, span, zone, departments, limit)
    earned = {int(e): int(p) for e, p in earners}
    found = (
        await session.exec(
            select(Employee, Department.name)
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(col(Employee.id).in_(sorted(earned)))
        )
    ).all()
    people = {e.id: (e, name) for e, name in found}
    rows = [(*people[e], p) for e, p in earned.items() if e in people]
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
    # Points earned in the subtree (they stay where they were earned), and before.
    points: int = 0
    points_before: int = 0
    # What changes compare with: the same elapsed part of the previous period.
    compared: tuple[datetime, datetime] | None = None
    # True while the period is still running (so only its elapsed part is compared).
    partial: bool = False

    def compared_text(self) -> str:
        """What the changes compare with, said on the page (local times)."""
        if self.compared is None:
            return ""
        start, end = self.compared
        if self.partial:
            return _(
                "Changes compare with the same part of the previous period: {start} – {end}."
            ).format(start=start.strftime("%Y-%m-%d %H:%M"), end=end.strftime("%Y-%m-%d %H:%M"))
        last = end - timedelta(microseconds=1)
        return _("Changes compare with the whole previous period: {start} – {end}.").format(
            start=start.strftime("%Y-%m-%d"), end=last.strftime("%Y-%m-%d")
        )

    @property
    def points_change(self) -> float | None:
        if not self.points_before:
            return None
        return round(100 * (self.points - self.points_before) / self.points_before, 1)

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
            "compared_with": {
                "start": self.compared[0].isoformat() if self.compared else None,
                "end": self.compared[1].isoformat() if self.compared else None,
                "same_elapsed_part": self.partial,
            },
            "points": {
                "current": self.points,
                "previous": self.points_before,
                "change_pct": self.points_change,
            },
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
    """The dashboard of a department subtree (None: the company) for one period.

    Changes compare like with like: the part of the period that has happened by
    ``now`` against the same part of the previous period (the whole of it once the
    period has closed). The trend stops at ``now``: no week in the future is drawn.
    """
    if period not in DASHBOARD_PERIODS:
        raise InvalidInput(_("The dashboard covers a week, a month or a quarter."))
    now = now or utcnow()
    departments = await department_ids(session, [department.id] if department else None)
    so_far = elapsed(period, key, now, zone)
    compared = same_elapsed_previous(period, key, now, zone)
    previous, current = await figures_for_windows(session, departments, [compared, so_far])
    end = bounds(period, key, zone)[1]
    trend = await figures_for_windows(
        session, departments, weeks_ending(min(end, now), zone, TREND_WEEKS)
    )
    span = span_of(Window(period, key), zone)
    contributors = await top_contributors(session, departments, span, zone)
    points, points_before = await _points(session, departments, span, _days_of(compared, zone))
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
        points,
        points_before,
        compared,
        partial=so_far[1] < end,
    )


def _days_of(window: tuple[datetime, datetime], zone: tzinfo) -> Span:
    """The local days a window touches, as a span of day scores (points are kept per day)."""
    first = local_day(window[0], zone)
    last = max(first, local_day(window[1] - timedelta(microseconds=1), zone))
    return span_of(Window(None, "days", (first, last)), zone)


async def _points(
    session: AsyncSession, departments: list[int] | None, span: Span, before: Span
) -> tuple[int, int]:
    """Points the subtree earned in the period and the one before (department scores)."""
    if departments is None:
        departments = list((await session.exec(select(Department.id))).all())
    now = await department_points(session, span, departments)
    then = await department_points(session, before, departments)
    return sum(now.values()), sum(then.values())


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
    change = board.points_change
    rows.append(
        [
            _("Points earned"),
            str(board.points),
            str(board.points_before),
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
