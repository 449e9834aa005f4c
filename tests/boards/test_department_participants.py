"""Department boards read maintained counts: they equal a count from scratch.

``department_score.participants`` is kept by the ledger writer and by every change
of someone's roll; members of a period come from the head count on the roll plus the
people who moved or left since. After scoring, a reversal back to zero, a move,
people leaving (with a date, without one), being excluded and included again,
rejoining and a late award after leaving, both agree with what the entries say
(counting only people on the roll of each period), the board of every period agrees
with the count over everyone, and reconcile finds nothing.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards import earned
from points.boards.windows import Window
from points.calendar import Period, first_day, keys_at
from points.ledger import participation
from points.ledger.models import EARNING_KINDS, DepartmentScore, LedgerTransaction
from points.ledger.reconcile import reconcile
from points.ledger.reversal import reverse_transactions
from points.org import service as org
from points.org.leavers import mark_left
from points.org.models import Department, Employee, EmployeeStatus, Roll
from points.rewards.workflow import release_holds_of
from tests.support.boards import SHANGHAI, award
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

WINDOWS = [
    Window(Period.week, "2026-W45"),
    Window(Period.week, "2026-W46"),
    Window(Period.week, "2026-W47"),
    Window(Period.week, "2026-W48"),
    Window(Period.month, "2026-10"),
    Window(Period.month, "2026-11"),
    Window(Period.month, "2026-12"),
    Window(Period.quarter, "2026-Q4"),
    Window(Period.year, "2026"),
    Window(Period.all, "all"),
]


async def _stored(session: AsyncSession) -> dict[tuple[int, str, str], int]:
    rows = await session.exec(
        select(
            DepartmentScore.department_id,
            DepartmentScore.period,
            DepartmentScore.period_key,
            DepartmentScore.participants,
        ).where(col(DepartmentScore.participants) != 0)
    )
    return {(d, str(p), k): n for d, p, k, n in rows.all()}


async def _from_scratch(session: AsyncSession) -> dict[tuple[int, str, str], int]:
    """People on the roll of a period whose transactions carrying a department add up
    to more than zero in it (on the roll: not excluded; active, or left on or after
    the period's first day)."""
    rolls = {
        e: (x, s, left_on)
        for e, x, s, left_on in (
            await session.exec(
                select(Employee.id, Employee.excluded, Employee.status, Employee.left_on)
            )
        ).all()
    }
    earned_there: dict[tuple[int, int, str, str], int] = defaultdict(int)
    rows = await session.exec(
        select(
            LedgerTransaction.employee_id,
            LedgerTransaction.department_id,
            LedgerTransaction.points,
            LedgerTransaction.effective_at,
        ).where(col(LedgerTransaction.kind).in_([k.value for k in EARNING_KINDS]))
    )
    for employee_id, department_id, points, moment in rows.all():
        if department_id is None:
            continue
        for period, key in keys_at(moment, SHANGHAI):
            earned_there[(employee_id, department_id, period.value, key)] += points
    counts: dict[tuple[int, str, str], int] = defaultdict(int)
    for (e, department_id, period, key), points in earned_there.items():
        excluded, status, left_on = rolls[e]
        first = first_day(Period(period), key)
        here = status == EmployeeStatus.active or (left_on is not None and left_on >= first)
        if points > 0 and not excluded and here:
            counts[(department_id, period, key)] += 1
    return dict(counts)


async def _agree(store: Store, departments: list[Department]) -> None:
    """Maintained counts equal the entries; every period's board equals the full count."""
    ids = [d.id for d in departments]
    async with store.db.session() as session:
        assert await _stored(session) == await _from_scratch(session)
        for window in WINDOWS:
            span = earned.span_of(window, SHANGHAI)
            maintained = await earned.members_and_participants(session, span, SHANGHAI, ids)
            counted = await earned._counted(session, span, SHANGHAI, ids)
            assert maintained == counted, window
        report = await reconcile(session, SHANGHAI)
        assert report.clean, report.problems


async def _story(store: Store) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        tech = await make_department(session, "技术部")
        people = [await make_employee(session, sales, name=f"销售{i}") for i in range(4)]
        people += [await make_employee(session, tech, name=f"技术{i}") for i in range(4)]
        await session.commit()
    departments = [sales, tech]
    await _agree(store, departments)

    # Scoring: some earn once, one twice in the month.
    async with store.db.session() as session:
        await award(session, people[0], 10, "2026-11-03T10:00:00")
        await award(session, people[0], 5, "2026-11-12T10:00:00")
        await award(session, people[1], 3, "2026-11-04T10:00:00")
        await award(session, people[4], 7, "2026-11-05T10:00:00")
        await award(session, people[5], 2, "2026-10-30T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(sales.id, "month", "2026-11")] == 2
    assert stored[(tech.id, "month", "2026-11")] == 1
    assert stored[(tech.id, "quarter", "2026-Q4")] == 2
    await _agree(store, departments)

    # A reversal that takes 销售1 back to zero takes them off.
    async with store.db.session() as session:
        original = (
            await session.exec(
                select(LedgerTransaction).where(LedgerTransaction.employee_id == people[1].id)
            )
        ).one()
        await reverse_transactions(
            session, store.settings, [original], cause="test", reason="撤回", reason_en="withdrawn"
        )
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(sales.id, "month", "2026-11")] == 1
    await _agree(store, departments)

    # A mover: 销售0 moves to 技术部 mid-month and earns there; then loses it again.
    async with store.db.session() as session:
        await org.upsert_employee(
            session,
            userid=people[0].userid,
            name=people[0].name,
            department_id=tech.id,
            moved_at=datetime.fromisoformat("2026-11-15T09:00:00+08:00"),
        )
        mover = await org.get_employee(session, people[0].userid)
        await award(session, mover, 4, "2026-11-22T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(tech.id, "month", "2026-11")] == 2
    assert stored[(sales.id, "month", "2026-11")] == 1
    await _agree(store, departments)
    async with store.db.session() as session:
        await award(session, mover, -4, "2026-11-23T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(tech.id, "month", "2026-11")] == 1
    await _agree(store, departments)

    # 技术0 leaves on 10 November (inside W46, November, Q4); something late is
    # counted for them on the 25th, in W48 which began after they left.
    async with store.db.session() as session:
        assert await mark_left(
            session,
            store.settings,
            people[4].userid,
            "离职",
            release_holds=release_holds_of,
            roll_changed=participation.roll_changed,
            left_on=date(2026, 11, 10),
        )
        leaver = await org.get_employee(session, people[4].userid)
        await award(session, leaver, 1, "2026-11-25T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(tech.id, "week", "2026-W45")] == 1  # earned on the 5th, left later
    assert stored[(tech.id, "month", "2026-11")] == 1  # still here when November began
    assert (tech.id, "week", "2026-W48") not in stored  # gone before W48 began
    await _agree(store, departments)

    # A bot earns, is excluded (off every window), then included again.
    async with store.db.session() as session:
        bot = await org.get_employee(session, people[6].userid)
        await award(session, bot, 6, "2026-11-06T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(tech.id, "month", "2026-11")] == 2
    await _agree(store, departments)
    for excluded, expected in ((True, 1), (False, 2)):
        async with store.db.session() as session:
            await org.upsert_employee(
                session,
                userid=bot.userid,
                name=bot.name,
                department_id=tech.id,
                excluded=excluded,
                roll_changed=(participation.roll_changed, SHANGHAI),
            )
            await session.commit()
        async with store.db.session() as session:
            stored = await _stored(session)
        assert stored[(tech.id, "month", "2026-11")] == expected
        await _agree(store, departments)

    # 销售3 earns, then is marked as left without a leaving date: off every window,
    # all time included; then rejoins (as a contacts sync does): back on them all.
    async with store.db.session() as session:
        await award(session, people[3], 8, "2026-12-02T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert stored[(sales.id, "all", "all")] == 2
    await _agree(store, departments)
    for status in (EmployeeStatus.left, EmployeeStatus.active):
        async with store.db.session() as session:
            person = await org.get_employee(session, people[3].userid)
            before = Roll.of(person)
            person.status, person.left_on = status, None
            session.add(person)
            assert person.id is not None
            await participation.roll_changed(session, person.id, before, SHANGHAI)
            await session.commit()
        async with store.db.session() as session:
            stored = await _stored(session)
        assert stored[(sales.id, "all", "all")] == (1 if status == EmployeeStatus.left else 2)
        await _agree(store, departments)

    # The leaver earns once more after leaving, in December: not on December's roll.
    async with store.db.session() as session:
        leaver = await org.get_employee(session, people[4].userid)
        await award(session, leaver, 2, "2026-12-03T10:00:00")
        await session.commit()
    async with store.db.session() as session:
        stored = await _stored(session)
    assert (tech.id, "month", "2026-12") not in stored
    await _agree(store, departments)


async def test_maintained_counts_agree_postgresql(pg: Store) -> None:
    await _story(pg)


async def test_maintained_counts_agree_sqlite(lite: Store) -> None:
    await _story(lite)
