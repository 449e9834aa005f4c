"""The department head's adoption dashboard, and pilot programmes measured against it.

Figures come from the activity events of the people in a department subtree, in a
bounded window (``occurred_at`` range first, so the index does the work), and the
people's points from period scores. Nothing here reads the ledger entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import ColumnElement, case, func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from points.audit.service import record
from points.boards.periods import previous_key, window
from points.boards.service import ANONYMOUS
from points.dashboards.models import Pilot
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.events.models import ActivityEvent
from points.i18n import N_, _
from points.ledger.models import Period, PeriodScore
from points.org.models import Department, Employee, EmployeeStatus

INACTIVE_DAYS = 14
TREND_WEEKS = 8
DASHBOARD_PERIODS = (Period.week, Period.month, Period.quarter)


@dataclass(frozen=True)
class Figure:
    key: str
    label: str  # message id
    unit: str  # "%", "h" or ""
    higher_is_better: bool = True


FIGURES: tuple[Figure, ...] = (
    Figure("active_share", N_("Active users"), "%"),
    Figure("approvals_submitted", N_("Approvals submitted online"), ""),
    Figure("approval_users_share", N_("People approving online"), "%"),
    Figure("on_time_share", N_("Approvals on time"), "%"),
    Figure("turnaround_hours", N_("Average approval turnaround"), "h", higher_is_better=False),
    Figure("docs_shared", N_("Documents shared"), ""),
    Figure("meetings", N_("Meetings"), ""),
    Figure("checkins", N_("Check-ins"), ""),
    Figure("customers_tagged", N_("Customers tagged"), ""),
)
FIGURES_BY_KEY = {f.key: f for f in FIGURES}

_COUNTED_TYPES = {
    "docs_shared": "doc.shared",
    "meetings": "meeting.started",
    "checkins": "checkin.recorded",
    "customers_tagged": "customer.tagged",
}


@dataclass
class Figures:
    """Adoption figures of a group of people in one window."""

    start: datetime
    end: datetime
    members: int
    active: int = 0
    approvals_submitted: int = 0
    approval_users: int = 0
    on_time: int = 0
    turnaround_hours: float | None = None
    docs_shared: int = 0
    meetings: int = 0
    checkins: int = 0
    customers_tagged: int = 0

    def _share(self, part: int, whole: int) -> float | None:
        return round(100 * part / whole, 1) if whole else None

    @property
    def active_share(self) -> float | None:
        return self._share(self.active, self.members)

    @property
    def approval_users_share(self) -> float | None:
        return self._share(self.approval_users, self.members)

    @property
    def on_time_share(self) -> float | None:
        return self._share(self.on_time, self.approvals_submitted)

    def value(self, key: str) -> float | None:
        found = getattr(self, key)
        return None if found is None else float(found)

    def to_dict(self) -> dict[str, Any]:
        values: dict[str, Any] = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        values["members"] = self.members
        values["active"] = self.active
        for figure in FIGURES:
            values[figure.key] = self.value(figure.key)
        return values


# ---------------------------------------------------------------------------- people


def _eligible() -> list[ColumnElement[bool]]:
    return [col(Employee.excluded).is_(False), col(Employee.status) == EmployeeStatus.active]


async def department_ids(session: AsyncSession, roots: Sequence[int] | None) -> list[int] | None:
    """Every department under the given roots (None: the whole company)."""
    if roots is None:
        return None
    paths = (
        await session.exec(select(Department.path).where(col(Department.id).in_(list(roots))))
    ).all()
    if len(paths) != len(set(roots)):
        raise NotFound(_("No such department."))
    ids: set[int] = set()
    for path in paths:
        found = await session.exec(
            select(Department.id).where(col(Department.path).startswith(path))
        )
        ids.update(found.all())
    return sorted(ids)


def _member_ids(departments: list[int] | None) -> SelectOfScalar[int | None]:
    query = select(col(Employee.id)).where(*_eligible())
    if departments is not None:
        query = query.where(col(Employee.department_id).in_(departments))
    return query


async def _member_count(session: AsyncSession, departments: list[int] | None) -> int:
    query = select(func.count()).select_from(Employee).where(*_eligible())
    if departments is not None:
        query = query.where(col(Employee.department_id).in_(departments))
    return int((await session.exec(query)).one())


# ---------------------------------------------------------------------------- figures


async def figures_for_windows(
    session: AsyncSession,
    departments: list[int] | None,
    windows: Sequence[tuple[datetime, datetime]],
) -> list[Figures]:
    """Figures for consecutive windows in two queries over the covering time range.

    Each event is put in its window by a CASE on ``occurred_at``, so one index range
    scan serves a whole trend chart.
    """
    members = await _member_count(session, departments)
    result = [Figures(start, end, members) for start, end in windows]
    if not windows:
        return result
    occurred = col(ActivityEvent.occurred_at)
    bucket = case(
        *((occurred < end, index) for index, (_start, end) in enumerate(windows)), else_=-1
    ).label("bucket")
    where = [
        occurred >= windows[0][0],
        occurred < windows[-1][1],
        col(ActivityEvent.employee_id).in_(_member_ids(departments)),
    ]
    active_rows = (
        await session.exec(
            select(bucket, func.count(func.distinct(ActivityEvent.employee_id)))
            .where(*where)
            .group_by(bucket)
        )
    ).all()
    for index, active in active_rows:
        if 0 <= index < len(result):
            result[index].active = int(active)
    attributes = col(ActivityEvent.attributes)
    on_time = attributes["on_time"].as_boolean()
    turnaround = attributes["turnaround_hours"].as_float()
    # More than four columns: past sqlmodel's typed overloads of select().
    columns: list[Any] = [
        bucket,
        col(ActivityEvent.type),
        func.count(),
        func.count(func.distinct(ActivityEvent.employee_id)),
        func.sum(case((on_time.is_(True), 1), else_=0)),
        func.avg(turnaround),
    ]
    types = ["approval.submitted", "approval.decided", *_COUNTED_TYPES.values()]
    rows = (
        await session.exec(
            select(*columns)
            .where(*where, col(ActivityEvent.type).in_(types))
            .group_by(bucket, col(ActivityEvent.type))
        )
    ).all()
    for index, type_, count, people, timely, hours in rows:
        if not 0 <= index < len(result):
            continue
        figures = result[index]
        if type_ == "approval.submitted":
            figures.approvals_submitted = int(count)
            figures.approval_users = int(people)
            figures.on_time = int(timely or 0)
        elif type_ == "approval.decided":
            figures.turnaround_hours = None if hours is None else round(float(hours), 1)
        for key, counted in _COUNTED_TYPES.items():
            if type_ == counted:
                setattr(figures, key, int(count))
    return result


def weekly_windows(
    end: datetime, zone: tzinfo, weeks: int = TREND_WEEKS
) -> list[tuple[datetime, datetime]]:
    """The last ``weeks`` ISO weeks up to the one containing ``end`` (exclusive end)."""
    local = (end - timedelta(microseconds=1)).astimezone(zone)
    monday = datetime.combine(local.date() - timedelta(days=local.weekday()), time.min, zone)
    starts = [monday - timedelta(weeks=w) for w in range(weeks - 1, -1, -1)]
    return [(s, s + timedelta(weeks=1)) for s in starts]


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
                col(Employee.id).in_(_member_ids(departments)),
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
        *_eligible(),
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
        session, departments, weekly_windows(window(period, key, zone)[1], zone)
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
        session, departments, [window(period, before, zone), window(period, key, zone)]
    )
    return current, previous


# ---------------------------------------------------------------------------- pilots


GOAL_KINDS = ("target", "improve")


@dataclass
class GoalProgress:
    figure: Figure
    kind: str
    value: float
    label: str
    current: float | None
    baseline: float | None

    @property
    def change_pct(self) -> float | None:
        """Improvement against the baseline window, in per cent (positive is better)."""
        if self.current is None or not self.baseline:
            return None
        change = (self.current - self.baseline) / self.baseline * 100
        return round(change if self.figure.higher_is_better else -change, 1)

    @property
    def progress(self) -> float | None:
        """0…100: how far towards the goal."""
        if self.kind == "improve":
            change = self.change_pct
            if change is None:
                return None
            return (
                round(max(0.0, min(100.0, 100 * change / self.value)), 1) if self.value else 100.0
            )
        if self.current is None:
            return None
        if self.figure.higher_is_better:
            ratio = self.current / self.value if self.value else 1.0
        else:
            ratio = self.value / self.current if self.current else 1.0
        return round(max(0.0, min(100.0, 100 * ratio)), 1)

    @property
    def met(self) -> bool:
        return self.progress is not None and self.progress >= 100

    def to_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure.key,
            "kind": self.kind,
            "value": self.value,
            "label": self.label,
            "current": self.current,
            "baseline": self.baseline,
            "change_pct": self.change_pct,
            "progress_pct": self.progress,
            "met": self.met,
        }


@dataclass
class PilotProgress:
    pilot: Pilot
    departments: list[str]
    start: datetime
    end: datetime
    days_done: int
    figures: Figures
    baseline: Figures
    goals: list[GoalProgress]

    @property
    def finished(self) -> bool:
        return self.days_done >= self.pilot.days

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.pilot.id,
            "name": self.pilot.name,
            "departments": self.departments,
            "start_on": self.pilot.start_on.isoformat(),
            "days": self.pilot.days,
            "days_done": self.days_done,
            "figures": self.figures.to_dict(),
            "baseline": self.baseline.to_dict(),
            "goals": [g.to_dict() for g in self.goals],
            "summary": newsletter_summary(self),
        }


def _parse_goals(goals: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    parsed = []
    for goal in goals:
        figure = str(goal.get("figure", ""))
        kind = str(goal.get("kind", "target"))
        if figure not in FIGURES_BY_KEY:
            raise InvalidInput(_("Unknown figure for a goal: {figure}").format(figure=figure))
        if kind not in GOAL_KINDS:
            raise InvalidInput(_("A goal is a target or an improvement."))
        try:
            value = float(goal.get("value", ""))
        except (TypeError, ValueError):
            raise InvalidInput(_("A goal needs a number.")) from None
        if value <= 0 or value > 100000:
            raise InvalidInput(_("A goal needs a number above zero."))
        label = str(goal.get("label") or "").strip()[:80]
        parsed.append({"figure": figure, "kind": kind, "value": value, "label": label})
    return parsed


async def create_pilot(
    session: AsyncSession,
    *,
    actor: str,
    name: str,
    department_ids: Sequence[int],
    start_on: date,
    days: int = 30,
    goals: Sequence[dict[str, Any]] = (),
    note: str = "",
    ip: str = "",
    user_agent: str = "",
) -> Pilot:
    """HR defines a pilot programme (试点); audited."""
    name = name.strip()
    if not name or len(name) > 80:
        raise InvalidInput(_("A pilot needs a name (at most 80 characters)."))
    if not department_ids:
        raise InvalidInput(_("Choose at least one department."))
    if not 1 <= days <= 366:
        raise InvalidInput(_("A pilot lasts between 1 and 366 days."))
    found = (
        await session.exec(
            select(Department.id).where(col(Department.id).in_(list(department_ids)))
        )
    ).all()
    if len(set(found)) != len(set(department_ids)):
        raise NotFound(_("No such department."))
    pilot = Pilot(
        name=name,
        department_ids=sorted(set(department_ids)),
        start_on=start_on,
        days=days,
        goals=_parse_goals(goals),
        note=note.strip()[:1000],
        created_by=actor,
    )
    session.add(pilot)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="pilot.create",
        target=str(pilot.id),
        details={"name": name, "departments": pilot.department_ids, "goals": pilot.goals},
        ip=ip,
        user_agent=user_agent,
    )
    return pilot


async def pilot_progress(
    session: AsyncSession,
    pilot: Pilot,
    zone: tzinfo,
    *,
    visible: set[int] | None = None,
    now: datetime | None = None,
) -> PilotProgress:
    """How a pilot is doing: its figures so far against the same-length window before it.

    ``visible`` limits the figures to the departments the viewer may see.
    """
    now = now or utcnow()
    roots = [d for d in pilot.department_ids if visible is None or d in visible]
    departments = await department_ids(session, roots) if roots else []
    start = datetime.combine(pilot.start_on, time.min, zone)
    end = start + timedelta(days=pilot.days)
    until = max(start, min(end, now))
    done = (until - start).days
    span = max(until - start, timedelta(days=1))
    baseline, figures = await figures_for_windows(
        session, departments, [(start - span, start), (start, start + span)]
    )
    names = (await session.exec(select(Department.name).where(col(Department.id).in_(roots)))).all()
    goals = []
    for goal in pilot.goals:
        figure = FIGURES_BY_KEY.get(str(goal.get("figure")))
        if figure is None:
            continue
        goals.append(
            GoalProgress(
                figure,
                str(goal.get("kind", "target")),
                float(goal.get("value", 0)),
                str(goal.get("label") or ""),
                figures.value(figure.key),
                baseline.value(figure.key),
            )
        )
    return PilotProgress(pilot, list(names), start, end, done, figures, baseline, goals)


async def get_pilot(session: AsyncSession, pilot_id: int) -> Pilot:
    pilot = await session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(_("No such pilot."))
    return pilot


async def list_pilots(session: AsyncSession, visible: set[int] | None) -> list[Pilot]:
    """Pilots touching a department the viewer may see (all of them for HR)."""
    pilots = (await session.exec(select(Pilot).order_by(col(Pilot.start_on).desc()))).all()
    return [p for p in pilots if visible is None or set(p.department_ids) & visible]


async def pilots_for(
    session: AsyncSession,
    departments: list[int] | None,
    zone: tzinfo,
    now: datetime | None = None,
) -> list[PilotProgress]:
    """Running or recent pilots of the dashboard's departments, with their progress."""
    now = now or utcnow()
    chosen = set(departments) if departments is not None else None
    found = []
    for pilot in await list_pilots(session, chosen):
        end = datetime.combine(pilot.start_on, time.min, zone) + timedelta(days=pilot.days)
        if end < now - timedelta(days=30):
            continue
        found.append(await pilot_progress(session, pilot, zone, visible=chosen, now=now))
    return found


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    text = f"{value:g}"
    return f"{text}%" if unit == "%" else (f"{text} h" if unit == "h" else text)


def newsletter_summary(progress: PilotProgress) -> str:
    """A paragraph HR can paste into the internal newsletter (最佳实践案例)."""
    pilot = progress.pilot
    lines = [
        _("Best practice: {name}").format(name=pilot.name),
        _("{departments} piloted WeCom for {days} days from {start} (day {done}).").format(
            departments="、".join(progress.departments),
            days=pilot.days,
            start=pilot.start_on.isoformat(),
            done=min(progress.days_done, pilot.days),
        ),
        _("{active} of members were active; {approvals} approvals were submitted online.").format(
            active=_fmt(progress.figures.active_share, "%"),
            approvals=progress.figures.approvals_submitted,
        ),
    ]
    for goal in progress.goals:
        label = goal.label or _(goal.figure.label)
        if goal.kind == "improve":
            lines.append(
                _("{label}: goal +{goal}%, achieved {change}").format(
                    label=label, goal=f"{goal.value:g}", change=_fmt(goal.change_pct, "%")
                )
            )
        else:
            lines.append(
                _("{label}: goal {goal}, now {current}").format(
                    label=label,
                    goal=_fmt(goal.value, goal.figure.unit),
                    current=_fmt(goal.current, goal.figure.unit),
                )
            )
    met = sum(1 for g in progress.goals if g.met)
    if progress.goals:
        lines.append(_("{met} of {total} goals met.").format(met=met, total=len(progress.goals)))
    return "\n".join(lines)


def figures_csv_rows(board: Dashboard) -> list[list[str]]:
    """The dashboard's figures as CSV rows (figure, this period, previous, change)."""
    rows = [[_("Figure"), board.key, previous_key(board.period, board.key), _("Change %")]]
    for figure in FIGURES:
        change = board.change(figure.key)
        rows.append(
            [
                _(figure.label),
                _fmt(board.current.value(figure.key), figure.unit),
                _fmt(board.previous.value(figure.key), figure.unit),
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
