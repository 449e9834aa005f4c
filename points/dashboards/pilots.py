"""Pilot programmes (试点): a few departments try WeCom for a while, measured
against the same-length window before they started, with goals HR sets."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.calendar import day_start
from points.dashboards.figures import (
    APPROVAL_FIGURES,
    FIGURES_BY_KEY,
    Figure,
    Figures,
    department_ids,
    figures_for_windows,
    format_figure,
)
from points.dashboards.models import Pilot
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.org.models import Department, Employee, EmployeeStatus

GOAL_KINDS = ("target", "improve")
MAX_TEMPLATES = 10


@dataclass
class GoalProgress:
    figure: Figure
    kind: str
    value: float
    label: str
    current: float | None
    baseline: float | None
    templates: tuple[str, ...] = ()

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
            "unit": self.figure.unit,
            "direction": "higher" if self.figure.higher_is_better else "lower",
            "templates": list(self.templates),
            "in_words": goal_in_words(self),
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
            "owner": self.pilot.owner,
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
        templates = _parse_templates(goal.get("templates"))
        if templates and figure not in APPROVAL_FIGURES:
            raise InvalidInput(_("Only approval figures can count chosen templates."))
        entry: dict[str, Any] = {"figure": figure, "kind": kind, "value": value, "label": label}
        if templates:
            entry["templates"] = templates
        parsed.append(entry)
    return parsed


def _parse_templates(raw: object) -> list[str]:
    """Template names from a list or a comma-separated text (，、 too)."""
    if raw is None or raw == "":
        return []
    if isinstance(raw, str):
        for separator in ("，", "、", ";", "；"):
            raw = raw.replace(separator, ",")
        items: list[object] = list(raw.split(","))
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise InvalidInput(_("Templates are names separated by commas."))
    names = list(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    if len(names) > MAX_TEMPLATES or any(len(n) > 40 or "\x00" in n for n in names):
        raise InvalidInput(_("At most 10 templates, each at most 40 characters."))
    return names


async def _owner(session: AsyncSession, owner: str) -> str:
    owner = owner.strip()
    if not owner:
        return ""
    found = (
        await session.exec(
            select(Employee.userid).where(
                Employee.userid == owner, Employee.status == EmployeeStatus.active
            )
        )
    ).first()
    if found is None:
        raise InvalidInput(_("The owner must be an active employee's userid."))
    return found


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
    reward_rule: str = "",
    owner: str = "",
    ip: str = "",
    user_agent: str = "",
) -> Pilot:
    """HR defines a pilot programme (试点); audited. ``reward_rule`` names a team goal
    rule (``team_goal``) whose reward the pilot's page shows as at stake; ``owner``
    (defaults to the creator) gets the weekly report."""
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
        reward_rule=reward_rule.strip()[:80] or None,
        created_by=actor,
        owner=await _owner(session, owner) if owner.strip() else actor[:64],
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
    start = day_start(pilot.start_on, zone)
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
        templates = tuple(str(t) for t in goal.get("templates") or ())
        before, after = baseline, figures
        if templates:  # only these templates' approvals count for this goal
            before, after = await figures_for_windows(
                session,
                departments,
                [(start - span, start), (start, start + span)],
                templates=templates,
            )
        goals.append(
            GoalProgress(
                figure,
                str(goal.get("kind", "target")),
                float(goal.get("value", 0)),
                str(goal.get("label") or ""),
                after.value(figure.key),
                before.value(figure.key),
                templates,
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
        end = day_start(pilot.start_on, zone) + timedelta(days=pilot.days)
        if end < now - timedelta(days=30):
            continue
        found.append(await pilot_progress(session, pilot, zone, visible=chosen, now=now))
    return found


def goal_sentence(goal: GoalProgress) -> str:
    """The goal with its unit and direction: 目标：平均审批时长减少 30%."""
    label = goal.label or _(goal.figure.label)
    figure = _(goal.figure.label)
    if goal.kind == "improve":
        if goal.figure.higher_is_better:
            text = _("{label}: {figure} up {value}%")
        else:
            text = _("{label}: {figure} down {value}%")
        return text.format(label=label, figure=figure, value=f"{goal.value:g}")
    if goal.figure.higher_is_better:
        text = _("{label}: {figure} at least {value}")
    else:
        text = _("{label}: {figure} at most {value}")
    return text.format(
        label=label, figure=figure, value=format_figure(goal.value, goal.figure.unit)
    )


def goal_progress_sentence(goal: GoalProgress) -> str:
    """Where it stands, in the figure's unit, better or worse said in words."""
    unit = goal.figure.unit
    now = format_figure(goal.current, unit)
    if goal.kind != "improve":
        return _("now {now}").format(now=now)
    change = goal.change_pct
    if change is None:
        return _("before {before}, now {now}").format(
            before=format_figure(goal.baseline, unit), now=now
        )
    text = (
        _("before {before}, now {now}: {change}% better")
        if change >= 0
        else _("before {before}, now {now}: {change}% worse")
    )
    return text.format(
        before=format_figure(goal.baseline, unit), now=now, change=f"{abs(change):g}"
    )


def newsletter_summary(progress: PilotProgress) -> str:
    """A paragraph HR can paste into the internal newsletter (最佳实践案例)."""
    pilot = progress.pilot
    met = sum(1 for g in progress.goals if g.met)
    # Only met goals are praised: a pilot that met none reads as a report, not a success.
    title = _("Best practice: {name}") if met else _("Pilot report: {name}")
    lines = [
        title.format(name=pilot.name),
        _("{departments} piloted WeCom for {days} days from {start} (day {done}).").format(
            departments="、".join(progress.departments),
            days=pilot.days,
            start=pilot.start_on.isoformat(),
            done=min(progress.days_done, pilot.days),
        ),
        _("{active} of members were active; {approvals} approvals were submitted online.").format(
            active=format_figure(progress.figures.active_share, "%"),
            approvals=progress.figures.approvals_submitted,
        ),
    ]
    for goal in progress.goals:
        said = goal_sentence(goal)
        if goal.met:
            lines.append(_("{goal} — reached.").format(goal=said))
        else:
            lines.append(
                _("{goal} — not reached yet ({progress}).").format(
                    goal=said, progress=goal_progress_sentence(goal)
                )
            )
    if progress.goals:
        lines.append(_("{met} of {total} goals met.").format(met=met, total=len(progress.goals)))
    return "\n".join(lines)


def _change_words(goal: GoalProgress) -> str:
    """How the figure moved, in its unit: 提升 19 个百分点, 下降 30%, 持平."""
    if goal.current is None or goal.baseline is None:
        return _("no comparison yet")
    if goal.figure.unit == "%":
        points = round(goal.current - goal.baseline, 1)
        if points > 0:
            return _("up {n} percentage points").format(n=f"{points:g}")
        if points < 0:
            return _("down {n} percentage points").format(n=f"{-points:g}")
        return _("unchanged")
    if not goal.baseline:
        return _("from zero") if goal.current else _("unchanged")
    change = round((goal.current - goal.baseline) / goal.baseline * 100, 1)
    if change > 0:
        return _("up {n}%").format(n=f"{change:g}")
    if change < 0:
        return _("down {n}%").format(n=f"{-change:g}")
    return _("unchanged")


def _target_words(goal: GoalProgress) -> str:
    if goal.kind == "improve":
        text = (
            _("target: up at least {value}%")
            if goal.figure.higher_is_better
            else _("target: down at least {value}%")
        )
        return text.format(value=f"{goal.value:g}")
    text = _("target ≥ {value}") if goal.figure.higher_is_better else _("target ≤ {value}")
    return text.format(value=format_figure(goal.value, goal.figure.unit))


def goal_in_words(goal: GoalProgress) -> str:
    """The goal as a sentence with its unit and direction:
    报销线上化率 62% → 81%，提升 19 个百分点，目标 ≥ 90%."""
    unit = goal.figure.unit
    return _("{label} {before} → {now}, {change}, {target}").format(
        label=goal.label or _(goal.figure.label),
        before=format_figure(goal.baseline, unit),
        now=format_figure(goal.current, unit),
        change=_change_words(goal),
        target=_target_words(goal),
    )
