"""People with scripted habits for the integrity review: a farmer and near misses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta

from points.events.schemas import EventIn
from points.integrity.models import IntegrityFlag
from points.integrity.service import ScanSummary, list_flags, scan
from points.org.models import Department, Employee
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

# The day the scans look back from: a Sunday, so the farmer's two weeks are two ISO weeks.
END = date(2026, 11, 22)
FARM_DAYS = 14
FARM_PER_DAY = 1000


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, second), tzinfo=SHANGHAI)


def days_before(end: date, count: int) -> list[date]:
    """The ``count`` days up to and including ``end``, oldest first."""
    return [end - timedelta(days=count - 1 - i) for i in range(count)]


def shares(
    userid: str,
    day: date,
    count: int,
    *,
    start_hour: int = 0,
    hours: int = 24,
    kind: str = "doc.shared",
    tag: str = "",
) -> list[EventIn]:
    """``count`` document shares (or ``kind`` events) spread evenly over ``hours``."""
    step = hours * 3600 / count
    return [
        event(
            f"{kind}:{userid}:{day}:{tag}{i}",
            kind,
            userid,
            at(day, start_hour) + timedelta(seconds=int(i * step)),
            doc_id=f"{userid}-{day}-{i}",
            recipients=3,
        )
        for i in range(count)
    ]


def farmer_events(userid: str, end: date = END) -> list[EventIn]:
    """Two weeks of ordinary use, then 1,000 document shares a day for two weeks, around
    the clock: the doc-shared cap (30 a week) is reached every day of the farming."""
    ordinary = [
        e
        for day in days_before(end - timedelta(days=FARM_DAYS), FARM_DAYS)
        for e in shares(userid, day, 1, start_hour=10, hours=6)
    ]
    farmed = [e for day in days_before(end, FARM_DAYS) for e in shares(userid, day, FARM_PER_DAY)]
    return ordinary + farmed


async def send_all(store: Store, events: Sequence[EventIn], batch: int = 1000) -> None:
    ordered = sorted(events, key=lambda e: e.occurred_at)
    for start in range(0, len(ordered), batch):
        await send(store, ordered[start : start + batch])


async def people(store: Store, *userids: str) -> tuple[Department, list[Employee]]:
    async with store.db.session() as session:
        team = await make_department(session, "市场部")
        made = [await make_employee(session, team, userid=u, name=u) for u in userids]
        await session.commit()
    return team, made


async def scan_at(store: Store, end: date = END) -> ScanSummary:
    async with store.db.session() as session:
        summary = await scan(session, store.settings, end)
        await session.commit()
    return summary


async def flags(store: Store) -> list[tuple[IntegrityFlag, str]]:
    async with store.db.session() as session:
        return [(f, e.userid) for f, e in await list_flags(session)]


def patterns_of(found: Iterable[tuple[IntegrityFlag, str]]) -> set[tuple[str, str, str]]:
    return {(userid, str(f.pattern), f.subject) for f, userid in found}


def approvals(userid: str, day: date, count: int, on_time: bool = True) -> list[EventIn]:
    """``count`` 报销 approvals submitted on ``day`` (approval-on-time: 4 reach its cap)."""
    return [
        event(
            f"approval:{userid}:{day}:{i}:submitted",
            "approval.submitted",
            userid,
            at(day, 9, i),
            template="报销",
            sp_no=f"{userid}{day}{i}",
            on_time=on_time,
        )
        for i in range(count)
    ]


def decided(approver: str, applicant: str, count: int, tag: str, end: date = END) -> list[EventIn]:
    """``approver`` decides ``count`` of ``applicant``'s approvals, one a day up to ``end``."""
    return [
        event(
            f"approval:{tag}{i}:decided:{approver}",
            "approval.decided",
            approver,
            at(end - timedelta(days=i), 11),
            sp_no=f"{tag}{i}",
            applicant=applicant,
            decision="approved",
            turnaround_hours=1.0,
        )
        for i in range(count)
    ]
