"""The pilot's weekly pulse (每周收集试点反馈): two questions to every member.

A 1–5 score ("how well does the new way of working suit you?") and a comment. The
answer is stored once per pilot, person and ISO week and becomes a
``feedback.submitted`` event, scored by a rule HR edits (by default capped at one award
a week). Answering twice in a week is refused and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import day_start, key_of_day, local_day
from points.dashboards.models import Pilot, PilotPulse
from points.db import utcnow
from points.errors import Conflict, Forbidden, InvalidInput, NotFound
from points.events.schemas import EventIn
from points.events.service import ingest
from points.i18n import _
from points.ledger.models import LedgerTransaction, Period, TransactionKind
from points.org.models import Department, Employee, EmployeeStatus
from points.settings import Settings

PULSE_EVENT = "feedback.submitted"
PULSE_SOURCE = "pulse"
MAX_COMMENT = 1000
SCORES = range(1, 6)


def week_of(day: date) -> str:
    return key_of_day(Period.week, day)


def is_running(pilot: Pilot, day: date) -> bool:
    return pilot.start_on <= day < pilot.start_on + timedelta(days=pilot.days)


async def member_paths(session: AsyncSession, pilot: Pilot) -> list[str]:
    """The department paths of a pilot's departments (members are in their subtrees)."""
    return list(
        (
            await session.exec(
                select(Department.path).where(col(Department.id).in_(pilot.department_ids))
            )
        ).all()
    )


async def members(session: AsyncSession, pilot: Pilot) -> list[Employee]:
    """Active employees in the pilot's department subtrees."""
    paths = await member_paths(session, pilot)
    if not paths:
        return []
    found: dict[int, Employee] = {}
    for path in paths:
        rows = await session.exec(
            select(Employee)
            .join(Department, col(Department.id) == col(Employee.department_id))
            .where(
                col(Department.path).startswith(path),
                Employee.status == EmployeeStatus.active,
            )
        )
        for employee in rows.all():
            assert employee.id is not None
            found[employee.id] = employee
    return [found[k] for k in sorted(found)]


async def pilots_of(session: AsyncSession, employee: Employee, day: date) -> list[Pilot]:
    """The running pilots this person is a member of."""
    department = await session.get(Department, employee.department_id)
    if department is None:
        return []
    chosen = []
    for pilot in (await session.exec(select(Pilot).order_by(col(Pilot.id)))).all():
        if not is_running(pilot, day):
            continue
        if any(department.path.startswith(p) for p in await member_paths(session, pilot)):
            chosen.append(pilot)
    return chosen


@dataclass
class PulseCard:
    """What home shows for one pilot this week: the questions, or the thanks."""

    pilot: Pilot
    week: str
    answer: PilotPulse | None
    points: int = 0


async def for_home(
    session: AsyncSession, settings: Settings, employee: Employee, now: datetime | None = None
) -> list[PulseCard]:
    day = local_day(now or utcnow(), settings.zone)
    week = week_of(day)
    cards = []
    for pilot in await pilots_of(session, employee, day):
        answer = (
            await session.exec(
                select(PilotPulse).where(
                    PilotPulse.pilot_id == pilot.id,
                    PilotPulse.employee_id == employee.id,
                    PilotPulse.week_key == week,
                )
            )
        ).first()
        points = 0
        if answer is not None and answer.event_id is not None:
            points = int(
                (
                    await session.exec(
                        select(func.coalesce(func.sum(LedgerTransaction.points), 0)).where(
                            LedgerTransaction.event_id == answer.event_id,
                            LedgerTransaction.kind == TransactionKind.award,
                        )
                    )
                ).one()
            )
        cards.append(PulseCard(pilot, week, answer, points))
    return cards


def check_score(raw: object) -> int:
    text = str(raw if raw is not None else "").strip()
    if not text.isdigit() or int(text) not in SCORES:
        raise InvalidInput(_("Choose a score from 1 to 5."), code="bad_score")
    return int(text)


def check_comment(raw: object) -> str:
    text = str(raw if raw is not None else "").strip()
    if len(text) > MAX_COMMENT:
        raise InvalidInput(_("A comment is at most 1000 characters."), code="comment_too_long")
    if any(ord(c) < 32 and c not in "\n\r\t" for c in text):
        raise InvalidInput(
            _("The comment contains characters that cannot be stored."), code="bad_comment"
        )
    return text.replace("\r\n", "\n")


async def answer(
    session: AsyncSession,
    settings: Settings,
    employee: Employee,
    pilot_id: int,
    score: object,
    comment: object,
    now: datetime | None = None,
) -> PilotPulse:
    """Store this week's answer and its event (scored after the caller's commit).

    Refused (nothing changed): a score outside 1–5, a comment too long or with control
    characters, a pilot the person is not in or that is not running, a second answer.
    """
    now = now or utcnow()
    chosen_score = check_score(score)
    text = check_comment(comment)
    pilot = await session.get(Pilot, pilot_id)
    if pilot is None:
        raise NotFound(_("No such pilot."))
    day = local_day(now, settings.zone)
    if pilot.id not in {p.id for p in await pilots_of(session, employee, day)}:
        raise Forbidden(_("This pilot is not asking you for feedback now."), code="not_member")
    week = week_of(day)
    assert employee.id is not None
    if await _answered(session, pilot_id, employee.id, week):
        raise Conflict(_("You already answered this week. Thank you!"), code="answered")
    row = PilotPulse(
        pilot_id=pilot_id,
        employee_id=employee.id,
        week_key=week,
        score=chosen_score,
        comment=text,
        answered_at=now,
    )
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:  # answered at the same moment in another tab
        await session.rollback()
        raise Conflict(_("You already answered this week. Thank you!"), code="answered") from None
    event = EventIn(
        external_id=f"pulse:{pilot_id}:{week}:{employee.userid}",
        type=PULSE_EVENT,
        actor=employee.userid,
        occurred_at=now,
        attributes={
            "pilot_id": str(pilot_id),
            "week": week,
            "score": chosen_score,
            "has_comment": bool(text),
        },
    )
    (result,) = await ingest(session, PULSE_SOURCE, [event], submitted_by="pulse")
    row.event_id = result.event_id
    return row


async def _answered(session: AsyncSession, pilot_id: int, employee_id: int, week: str) -> bool:
    found = await session.exec(
        select(PilotPulse.id).where(
            PilotPulse.pilot_id == pilot_id,
            PilotPulse.employee_id == employee_id,
            PilotPulse.week_key == week,
        )
    )
    return found.first() is not None


@dataclass
class PulseWeek:
    """One week of a pilot's pulse: how many answered, the average, the comments."""

    week: str
    answers: int
    average: float | None
    comments: list[tuple[int, str]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "week": self.week,
            "answers": self.answers,
            "average": self.average,
            "comments": [{"score": s, "comment": c} for s, c in self.comments],
        }


async def weeks(session: AsyncSession, pilot: Pilot) -> list[PulseWeek]:
    """The pulse week by week, newest first; comments are shown without names."""
    rows: Sequence[PilotPulse] = (
        await session.exec(
            select(PilotPulse)
            .where(PilotPulse.pilot_id == pilot.id)
            .order_by(col(PilotPulse.week_key).desc(), col(PilotPulse.id))
        )
    ).all()
    grouped: dict[str, list[PilotPulse]] = {}
    for row in rows:
        grouped.setdefault(row.week_key, []).append(row)
    return [
        PulseWeek(
            week,
            len(answers),
            round(sum(a.score for a in answers) / len(answers), 1),
            [(a.score, a.comment) for a in answers if a.comment],
        )
        for week, answers in grouped.items()
    ]


def week_window(week: str, settings: Settings) -> tuple[datetime, datetime]:
    """The local Monday-to-Monday window of an ISO week key (2026-W48)."""
    year, number = week.split("-W")
    monday = date.fromisocalendar(int(year), int(number), 1)
    start = day_start(monday, settings.zone)
    return start, start + timedelta(days=7)
