"""The pilot's weekly loop: the pulse asked by app message, the report to its owner and
heads, and the CSV of goals and pulse.

Both messages are rows of the notification outbox (sent through WeCom by the outbox
job), one per person, pilot and week, so running a job twice sends nothing twice.

- The pulse goes out from Friday (:data:`PULSE_FROM_WEEKDAY`) to members who have not
  answered this week; the job runs daily and sends each week's once.
- The report covers the week before, to the owner and the heads of the pilot's
  departments: each goal in words, the pulse of that week, a link to the pilot page.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.dashboards import pulse
from points.dashboards.models import Pilot, PilotPulse
from points.dashboards.pilots import PilotProgress, goal_in_words, pilot_progress
from points.i18n import _, use_locale
from points.jobs import JobContext, job
from points.notifications.models import Notification
from points.org.models import Employee, EmployeeStatus, Role, RoleAssignment
from points.settings import Settings

PULSE_JOB = "pilot_weekly_pulse"
REPORT_JOB = "pilot_weekly_report"
PULSE_FROM_WEEKDAY = 5  # Friday (ISO)


def pilot_url(pilot: Pilot) -> str:
    return f"/dashboard/pilots/{pilot.id}"


async def _already(session: AsyncSession, kind: str) -> set[str]:
    return set(
        (await session.exec(select(Notification.userid).where(Notification.kind == kind))).all()
    )


async def queue_pulses(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """Ask this week's two questions of every member of a running pilot (from Friday)."""
    day = now.astimezone(settings.zone).date()
    if day.isoweekday() < PULSE_FROM_WEEKDAY:
        return 0
    week = pulse.week_of(day)
    queued = 0
    for pilot in (await session.exec(select(Pilot).order_by(col(Pilot.id)))).all():
        if not pulse.is_running(pilot, day):
            continue
        kind = f"pilot.pulse.{pilot.id}.{week}"
        done = await _already(session, kind)
        answered = set(
            (
                await session.exec(
                    select(PilotPulse.employee_id).where(
                        PilotPulse.pilot_id == pilot.id, PilotPulse.week_key == week
                    )
                )
            ).all()
        )
        for member in await pulse.members(session, pilot):
            if member.userid in done or member.id in answered:
                continue
            with use_locale(member.locale or settings.DEFAULT_LOCALE):
                title = _("Pilot feedback this week: {name}").format(name=pilot.name)
                body = _(
                    "Two questions: how well does the new way of working suit you (1–5),"
                    " and what should change? Answer on your home page; it earns points."
                )
            session.add(
                Notification(userid=member.userid, kind=kind, title=title, body=body, url="/#pulse")
            )
            queued += 1
    return queued


async def recipients(session: AsyncSession, pilot: Pilot) -> list[Employee]:
    """The owner and the heads of the pilot's departments (active, each once)."""
    heads = (
        await session.exec(
            select(Employee)
            .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
            .where(
                RoleAssignment.role == Role.head,
                col(RoleAssignment.department_id).in_(pilot.department_ids),
                Employee.status == EmployeeStatus.active,
            )
        )
    ).all()
    people = {e.userid: e for e in heads}
    if pilot.owner:
        owner = (
            await session.exec(
                select(Employee).where(
                    Employee.userid == pilot.owner, Employee.status == EmployeeStatus.active
                )
            )
        ).first()
        if owner is not None:
            people.setdefault(owner.userid, owner)
    return [people[k] for k in sorted(people)]


def report_text(progress: PilotProgress, week: pulse.PulseWeek | None, members: int) -> str:
    """The report's body: each goal in words, then the week's pulse."""
    lines = [goal_in_words(goal) for goal in progress.goals]
    if week is None or not week.answers:
        lines.append(_("Pulse: nobody answered this week."))
    else:
        lines.append(
            _("Pulse: {answers} of {members} answered, average {average} of 5.").format(
                answers=week.answers, members=members, average=f"{week.average:g}"
            )
        )
    return "\n".join(lines)


async def queue_reports(session: AsyncSession, settings: Settings, now: datetime) -> int:
    """The report of last week for every pilot that ran during it (once per pilot and week)."""
    today = now.astimezone(settings.zone).date()
    monday = today - timedelta(days=today.isoweekday() - 1)
    last_monday = monday - timedelta(days=7)
    week = pulse.week_of(last_monday)
    queued = 0
    for pilot in (await session.exec(select(Pilot).order_by(col(Pilot.id)))).all():
        end = pilot.start_on + timedelta(days=pilot.days)
        if pilot.start_on >= monday or end <= last_monday:
            continue  # did not run last week
        kind = f"pilot.report.{pilot.id}.{week}"
        done = await _already(session, kind)
        people = [p for p in await recipients(session, pilot) if p.userid not in done]
        if not people:
            continue
        pulse_week = next((w for w in await pulse.weeks(session, pilot) if w.week == week), None)
        members = len(await pulse.members(session, pilot))
        for person in people:
            with use_locale(person.locale or settings.DEFAULT_LOCALE):
                progress = await pilot_progress(session, pilot, settings.zone, now=now)
                title = _("Pilot weekly report: {name} ({week})").format(name=pilot.name, week=week)
                body = report_text(progress, pulse_week, members)
            session.add(
                Notification(
                    userid=person.userid, kind=kind, title=title, body=body, url=pilot_url(pilot)
                )
            )
            queued += 1
    return queued


def csv_rows(progress: PilotProgress, weeks: list[pulse.PulseWeek]) -> list[list[Any]]:
    """Goals (with their unit, direction and templates), then the pulse week by week."""
    rows: list[list[Any]] = [
        [
            _("Goal"),
            _("Figure"),
            _("Templates"),
            _("Unit"),
            _("Better when"),
            _("Before"),
            _("Now"),
            _("Target"),
            _("Reached"),
            _("In words"),
        ]
    ]
    for goal in progress.goals:
        rows.append(
            [
                goal.label or _(goal.figure.label),
                _(goal.figure.label),
                "、".join(goal.templates),
                goal.figure.unit,
                _("higher") if goal.figure.higher_is_better else _("lower"),
                "" if goal.baseline is None else f"{goal.baseline:g}",
                "" if goal.current is None else f"{goal.current:g}",
                f"{goal.value:g}",
                _("yes") if goal.met else _("no"),
                goal_in_words(goal),
            ]
        )
    rows.append([])
    rows.append([_("Week"), _("Answers"), _("Average score"), _("Score"), _("Comment")])
    for week in weeks:
        rows.append([week.week, week.answers, f"{week.average:g}" if week.average else "", "", ""])
        for score, comment in week.comments:
            rows.append([week.week, "", "", score, comment])
    return rows


@job(PULSE_JOB)
async def pulse_job(ctx: JobContext, *, day: str | None = None) -> dict[str, Any]:
    """Daily: from Friday, ask pilot members this week's pulse (once a week each)."""
    now = _moment(ctx, day)
    async with ctx.db.session() as session:
        queued = await queue_pulses(session, ctx.settings, now)
        await session.commit()
    return {"queued": queued}


@job(REPORT_JOB)
async def report_job(ctx: JobContext, *, day: str | None = None) -> dict[str, Any]:
    """Daily: last week's report to each pilot's owner and heads (once a week each)."""
    now = _moment(ctx, day)
    async with ctx.db.session() as session:
        queued = await queue_reports(session, ctx.settings, now)
        await session.commit()
    return {"queued": queued}


def _moment(ctx: JobContext, day: str | None) -> datetime:
    if not day:
        return ctx.clock()
    chosen = date.fromisoformat(day)
    return datetime.combine(chosen, datetime.min.time(), tzinfo=ctx.settings.zone) + timedelta(
        hours=12
    )
