"""The integrity queue: scan, store without duplicates, review with a note, show the events.

A re-scan updates the open flag of the same person, pattern and subject (its evidence,
``last_seen``, and ``since`` only ever moves earlier); it never adds a second one. A
reviewed flag stays reviewed while the pattern stays about as it was: it reopens only
when the pattern gets **materially worse** — its size (days at the cap, the peak
count, odd-hour events, approvals each way) reaches twice what it was when reviewed.
Its evidence keeps following the scans either way, so HR sees the latest figures.
Flags are never deleted and nothing here touches anyone's points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, or_
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Principal
from points.calendar import day_start
from points.db import insert_for, utcnow
from points.errors import Forbidden, InvalidInput, NotFound
from points.events.models import ActivityEvent
from points.i18n import N_, _, current_locale
from points.integrity.models import FlagStatus, IntegrityFlag, Pattern
from points.integrity.patterns import DETECTORS, NIGHT, Found
from points.org.models import Employee
from points.settings import Settings

MAX_NOTE = 500
# How much worse a reviewed pattern must get before it is back in the queue.
REOPEN_FACTOR = 2
# The events page of a flag lists at most this many (newest first) and says how many.
EVENTS_SHOWN = 100

PATTERN_LABELS = {
    Pattern.cap_streak: N_("At the same cap day after day"),
    Pattern.burst: N_("Burst far above their usual"),
    Pattern.odd_hours: N_("Activity at odd hours"),
    Pattern.mutual_approvals: N_("Approving only each other"),
}
TYPE_LABELS = {
    "doc.shared": N_("documents shared"),
    "doc.created": N_("documents created"),
    "approval.submitted": N_("approvals submitted"),
    "approval.decided": N_("approvals decided"),
    "meeting.started": N_("meetings started"),
    "checkin.recorded": N_("check-ins"),
    "customer.added": N_("customers added"),
    "customer.tagged": N_("customers tagged"),
    "app.entered": N_("app visits"),
}


@dataclass
class ScanSummary:
    found: int = 0
    opened: int = 0
    updated: int = 0
    reopened: int = 0
    still_reviewed: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


async def scan(session: AsyncSession, settings: Settings, today: date | None = None) -> ScanSummary:
    """Run every pattern over the window ending ``today`` and store what it finds."""
    today = today or utcnow().astimezone(settings.zone).date()
    found: list[Found] = []
    for detect in DETECTORS:
        found += await detect(session, settings, today)
    summary = ScanSummary(found=len(found))
    keys = {(f.employee_id, f.pattern.value, f.subject) for f in found}
    existing: dict[tuple[int, str, str], IntegrityFlag] = {}
    people = sorted({f.employee_id for f in found})
    for start in range(0, len(people), 500):
        rows = await session.exec(
            select(IntegrityFlag).where(
                col(IntegrityFlag.employee_id).in_(people[start : start + 500])
            )
        )
        for flag in rows.all():
            key = (flag.employee_id, str(flag.pattern), flag.subject)
            if key in keys:
                existing[key] = flag
    now = utcnow()
    for item in found:
        known = existing.get((item.employee_id, item.pattern.value, item.subject))
        if known is None:
            await session.exec(
                insert_for(session, IntegrityFlag)
                .values(
                    employee_id=item.employee_id,
                    pattern=item.pattern.value,
                    subject=item.subject,
                    evidence=item.evidence,
                    severity=item.severity,
                    since=item.since,
                    last_seen=item.last_seen,
                    status=FlagStatus.open.value,
                    created_at=now,
                    updated_at=now,
                    reviewed_by="",
                    review_note="",
                )
                .on_conflict_do_nothing()
            )
            summary.opened += 1
            continue
        flag = known
        flag.evidence = item.evidence
        flag.severity = item.severity
        flag.last_seen = max(flag.last_seen, item.last_seen)
        flag.updated_at = now
        if flag.status == FlagStatus.open:
            flag.since = min(flag.since, item.since)
            summary.updated += 1
        elif item.severity >= REOPEN_FACTOR * max(flag.reviewed_severity or 0, 1):
            flag.status = FlagStatus.open
            flag.since = item.since
            summary.reopened += 1
        else:
            summary.still_reviewed += 1
        session.add(flag)
    return summary


async def list_flags(
    session: AsyncSession, status: str | None = None, limit: int = 200
) -> list[tuple[IntegrityFlag, Employee]]:
    """Flags with their person: open first, the most recent patterns first."""
    query = select(IntegrityFlag, Employee).join(
        Employee, col(Employee.id) == col(IntegrityFlag.employee_id)
    )
    if status:
        try:
            query = query.where(IntegrityFlag.status == FlagStatus(status))
        except ValueError:
            raise InvalidInput(_("Status must be open or reviewed."), code="bad_status") from None
    query = query.order_by(
        col(IntegrityFlag.status),  # "open" sorts before "reviewed"
        col(IntegrityFlag.last_seen).desc(),
        col(IntegrityFlag.id).desc(),
    ).limit(limit)
    return [(flag, employee) for flag, employee in (await session.exec(query)).all()]


async def get_flag(session: AsyncSession, flag_id: int) -> tuple[IntegrityFlag, Employee]:
    flag = await session.get(IntegrityFlag, flag_id)
    employee = await session.get(Employee, flag.employee_id) if flag else None
    if flag is None or employee is None:
        raise NotFound(_("No such flag."))
    return flag, employee


def _concerns(flag: IntegrityFlag, employee: Employee, principal: Principal) -> bool:
    return principal.employee_id == employee.id or (
        flag.pattern == Pattern.mutual_approvals and flag.subject == principal.userid
    )


async def review(
    session: AsyncSession,
    principal: Principal,
    flag_id: int,
    *,
    note: str,
    ip: str = "",
    user_agent: str = "",
) -> IntegrityFlag:
    """Mark a flag reviewed with a note (audited). Nobody reviews a flag about themselves."""
    flag, employee = await get_flag(session, flag_id)
    if _concerns(flag, employee, principal):
        raise Forbidden(_("You cannot review a flag about yourself."), code="own_flag")
    note = note.strip()
    if not note:
        raise InvalidInput(_("Write a note: what you looked at and what you found."))
    if len(note) > MAX_NOTE:
        raise InvalidInput(_("The note is too long (at most 500 characters)."))
    flag.status = FlagStatus.reviewed
    flag.review_note = note
    flag.reviewed_by = principal.audit_name
    flag.reviewed_at = utcnow()
    flag.reviewed_severity = flag.severity
    session.add(flag)
    await record(
        session,
        actor=principal.audit_name,
        action="integrity.reviewed",
        target=employee.userid,
        details={
            "flag": flag.id,
            "pattern": str(flag.pattern),
            "subject": flag.subject,
            "severity": flag.severity,
            "note": note,
        },
        ip=ip,
        user_agent=user_agent,
    )
    return flag


# ------------------------------------------------------------------------- the events


def _days_of(flag: IntegrityFlag) -> tuple[date, date]:
    evidence = flag.evidence
    days = [d["day"] for d in evidence.get("days", []) if "day" in d]
    first = evidence.get("first_day") or (min(days) if days else flag.since.isoformat())
    last = evidence.get("last_day") or (max(days) if days else flag.last_seen.isoformat())
    return date.fromisoformat(first), date.fromisoformat(last)


async def flag_events(
    session: AsyncSession, settings: Settings, flag: IntegrityFlag, employee: Employee
) -> tuple[list[ActivityEvent], int]:
    """The events behind a flag (newest first, at most EVENTS_SHOWN) and how many there are."""
    first, last = _days_of(flag)
    zone = settings.zone
    query = select(ActivityEvent).where(
        col(ActivityEvent.occurred_at) >= day_start(first, zone),
        col(ActivityEvent.occurred_at) < day_start(last + timedelta(days=1), zone),
    )
    evidence = flag.evidence
    if flag.pattern == Pattern.mutual_approvals:
        query = query.where(
            ActivityEvent.type == "approval.decided",
            col(ActivityEvent.actor).in_([employee.userid, flag.subject]),
        )
    else:
        query = query.where(ActivityEvent.employee_id == employee.id)
        types = evidence.get("types") or ([evidence["type"]] if "type" in evidence else [])
        if types:
            query = query.where(col(ActivityEvent.type).in_(types))
    if flag.pattern == Pattern.burst:
        burst_days = [date.fromisoformat(d["day"]) for d in evidence.get("days", [])]
        query = query.where(
            or_(
                *(
                    and_(
                        col(ActivityEvent.occurred_at) >= day_start(d, zone),
                        col(ActivityEvent.occurred_at) < day_start(d + timedelta(days=1), zone),
                    )
                    for d in burst_days
                )
            )
        )
    newest = query.order_by(col(ActivityEvent.occurred_at).desc())
    if flag.pattern in (Pattern.cap_streak, Pattern.burst):
        total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
        return list((await session.exec(newest.limit(EVENTS_SHOWN))).all()), total
    # The few events of a pair or of odd hours are picked out here.
    rows = list((await session.exec(newest.limit(5_000))).all())
    if flag.pattern == Pattern.mutual_approvals:
        partners = {employee.userid: flag.subject, flag.subject: employee.userid}
        rows = [e for e in rows if e.attributes.get("applicant") == partners.get(e.actor)]
    else:
        usual = set(evidence.get("usual_hours", []))
        rows = [
            e
            for e in rows
            if (hour := e.occurred_at.astimezone(zone).hour) in NIGHT and hour not in usual
        ]
    return rows[:EVENTS_SHOWN], len(rows)


# ------------------------------------------------------------------------- in words


def _type_label(type_: str) -> str:
    label = TYPE_LABELS.get(type_)
    return _(label) if label else type_


def _hours(hours: Sequence[int]) -> str:
    return "、".join(f"{h:02d}:00" for h in hours) if hours else "—"


def describe(flag: IntegrityFlag) -> list[str]:
    """The evidence in sentences, in the reader's language."""
    e: dict[str, Any] = flag.evidence
    english = current_locale.get() == "en"
    if flag.pattern == Pattern.cap_streak:
        per = {"day": _("a day"), "week": _("a week"), "month": _("a month")}.get(
            e.get("per", ""), _("a quarter")
        )
        return [
            _("At the cap of “{rule}” ({cap} points {per}) on {days} active days running.").format(
                rule=e.get("rule_title_en" if english else "rule_title", e.get("rule", "")),
                cap=e.get("cap"),
                per=per,
                days=e.get("run_days"),
            ),
            _("From {first} to {last}.").format(first=e.get("first_day"), last=e.get("last_day")),
        ]
    if flag.pattern == Pattern.burst:
        days = e.get("days", [])
        return [
            _("Up to {peak} {what} in a day; their usual day has {median} (spread {mad}).").format(
                peak=e.get("peak"),
                what=_type_label(e.get("type", "")),
                median=_number(e.get("median")),
                mad=_number(e.get("mad")),
            ),
            _("{n} days at or above {threshold}: {days}.").format(
                n=len(days),
                threshold=e.get("threshold"),
                days=", ".join(f"{d['day']} ({d['count']})" for d in days[-10:]),
            ),
        ]
    if flag.pattern == Pattern.odd_hours:
        days = e.get("days", [])
        return [
            _("{n} events at night in hours they never used before ({hours}).").format(
                n=e.get("events"), hours=_hours(e.get("hours", []))
            ),
            _("Their usual hours over the {days} days before: {hours}.").format(
                days=e.get("baseline_days"), hours=_hours(e.get("usual_hours", []))
            ),
            _("Days: {days}.").format(
                days=", ".join(f"{d['day']} ({d['count']})" for d in days[-10:])
            ),
        ]
    return [
        _(
            "Decided {given} of {partner}'s approvals ({given_total} decisions in all); "
            "{partner} decided {received} of theirs ({received_total} in all)."
        ).format(
            given=e.get("given"),
            received=e.get("received"),
            given_total=e.get("given_total"),
            received_total=e.get("received_total"),
            partner=e.get("partner"),
        ),
        _("From {first} to {last}.").format(first=e.get("first_day"), last=e.get("last_day")),
    ]


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def pattern_label(pattern: str) -> str:
    label = PATTERN_LABELS.get(Pattern(pattern)) if pattern in set(Pattern) else None
    return _(label) if label else pattern


def flag_json(flag: IntegrityFlag, employee: Employee) -> dict[str, Any]:
    """One flag as the API answers it."""
    return {
        "id": flag.id,
        "userid": employee.userid,
        "name": employee.name,
        "pattern": str(flag.pattern),
        "subject": flag.subject,
        "evidence": flag.evidence,
        "since": flag.since.isoformat(),
        "last_seen": flag.last_seen.isoformat(),
        "status": str(flag.status),
        "reviewed_by": flag.reviewed_by or None,
        "review_note": flag.review_note or None,
        "events_url": f"/integrity/{flag.id}#events",
    }
