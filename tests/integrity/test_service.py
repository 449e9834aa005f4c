"""The queue: stored once, updated by re-scans, reviewed with a note (audited), reopened
only when the pattern gets materially worse; the demo's ordinary population is clean."""

from __future__ import annotations

import time

import pytest
from sqlmodel import select

from points.audit.models import AuditEntry
from points.auth.service import principal_for_employee
from points.db import utcnow
from points.devtools.demo.activity import feed_activity
from points.devtools.demo.company import build_company
from points.errors import Forbidden, InvalidInput
from points.events.schemas import EventIn
from points.integrity import service
from points.integrity.models import FlagStatus
from points.jobs import InlineQueue
from points.rulesets.service import ensure_active
from tests.support.integrity import END, days_before, flags, people, scan_at, send_all, shares
from tests.support.services import Store


async def test_the_demo_population_is_never_flagged(pg: Store) -> None:
    async with pg.db.session() as session:
        await build_company(session, employees=300, seed=7)
        await ensure_active(session)
        await session.commit()
    await feed_activity(
        pg.db, InlineQueue(pg.settings, pg.db), days=90, seed=7, zone=pg.settings.zone
    )
    started = time.perf_counter()

    summary = await scan_at(pg, utcnow().astimezone(pg.settings.zone).date())

    assert summary.found == 0, await flags(pg)
    assert time.perf_counter() - started < 30  # generous: test machines are shared


def visits(userid: str, peak: int) -> list[EventIn]:
    days = days_before(END, 28)
    ordinary = [
        e for day in days[:-1] for e in shares(userid, day, 2, kind="app.entered", start_hour=9)
    ]
    return ordinary + shares(userid, days[-1], peak, kind="app.entered", start_hour=9, hours=8)


async def test_a_rescan_updates_and_never_duplicates_and_a_review_sticks(pg: Store) -> None:
    _team, (_person, reviewer) = await people(pg, "busier", "hr1")
    await send_all(pg, visits("busier", 40))
    first = await scan_at(pg)
    assert first.opened == 1
    again = await scan_at(pg)
    assert (again.opened, again.updated) == (0, 1)
    assert len(await flags(pg)) == 1

    async with pg.db.session() as session:
        principal = await principal_for_employee(session, reviewer)
        flag = (await flags(pg))[0][0]
        assert flag.id is not None
        with pytest.raises(InvalidInput):
            await service.review(session, principal, flag.id, note="  ")
        await service.review(session, principal, flag.id, note="问过本人：培训日，正常")
        await session.commit()
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "integrity.reviewed"))
        ).all()
    assert [(a.action, a.target, a.details["note"]) for a in audit] == [
        ("integrity.reviewed", "busier", "问过本人：培训日，正常")
    ]

    # The same pattern (a little bigger) stays reviewed; its evidence follows the scans.
    await send_all(
        pg, shares("busier", END, 20, kind="app.entered", start_hour=10, hours=1, tag="b")
    )
    summary = await scan_at(pg)
    assert summary.still_reviewed == 1
    [(flag, _userid)] = await flags(pg)
    assert flag.status == FlagStatus.reviewed and flag.evidence["peak"] == 60

    # Twice as big as when it was reviewed: back in the queue.
    await send_all(
        pg, shares("busier", END, 30, kind="app.entered", start_hour=11, hours=1, tag="c")
    )
    summary = await scan_at(pg)
    assert summary.reopened == 1
    [(flag, _userid)] = await flags(pg)
    assert flag.status == FlagStatus.open and flag.evidence["peak"] == 90
    assert flag.review_note == "问过本人：培训日，正常"  # the earlier note stays readable


async def test_nobody_reviews_a_flag_about_themselves(pg: Store) -> None:
    _team, (person,) = await people(pg, "busier")
    await send_all(pg, visits("busier", 40))
    await scan_at(pg)
    [(flag, _userid)] = await flags(pg)
    assert flag.id is not None
    async with pg.db.session() as session:
        with pytest.raises(Forbidden):
            await service.review(
                session, await principal_for_employee(session, person), flag.id, note="fine"
            )


async def test_the_events_behind_a_flag(pg: Store) -> None:
    _team, (_person,) = await people(pg, "busier")
    await send_all(pg, visits("busier", 40))
    await scan_at(pg)
    async with pg.db.session() as session:
        [(flag, employee)] = await service.list_flags(session)
        events, total = await service.flag_events(session, pg.settings, flag, employee)
    assert total == 40 and len(events) == 40
    assert {e.occurred_at.astimezone(pg.settings.zone).date() for e in events} == {END}
