"""The one ledger writer: PostgreSQL's one-statement store and the portable store write
the same rows, a repeated key writes nothing, and department scores stay with the
department a person earned them in."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import col, select

from points.devtools.bench import scoring as scoring_bench
from points.ledger.models import (
    Account,
    AccountKind,
    DepartmentScore,
    LedgerEntry,
    LedgerTransaction,
    PeriodScore,
    RuleCapUsage,
    TransactionKind,
)
from points.ledger.reconcile import reconcile
from points.ledger.service import Posting, earning, earning_legs, moving_legs
from points.ledger.writer import PORTABLE, post, store_for
from points.ledger.writer_pg import POSTGRES
from points.org import service as org
from points.org.models import Employee
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")
# 23:30 in Shanghai on 30 June is still Q2 there (15:30 UTC), the last day of a month.
LATE = datetime(2026, 6, 30, 23, 30, tzinfo=SHANGHAI)


def postings(a: int, b: int, sales: int, finance: int) -> list[Posting]:
    award = earning(
        "award:t:1",
        TransactionKind.award,
        a,
        sales,
        7,
        LATE,
        rule_id="doc-shared",
        rule_version=1,
        cap_period_key="2026-06-30",
    )
    return [
        award,
        earning("adjust:t:1", TransactionKind.adjustment, b, finance, 12, LATE, reason="x" * 900),
        earning("adjust:t:2", TransactionKind.adjustment, a, sales, 3, LATE),
        Posting(
            "hold:t:1",
            TransactionKind.hold,
            b,
            4,
            LATE,
            moving_legs(b, AccountKind.available, AccountKind.held, 4, b),
            finance,
        ),
    ]


async def books(store: Store) -> dict[str, Any]:
    """Every ledger row, by what it means rather than by id."""
    async with store.db.session() as session:
        names = dict((await session.exec(select(Employee.id, Employee.userid))).all())
        accounts = {
            a.id: (names.get(a.employee_id, "system"), a.kind)
            for a in (await session.exec(select(Account))).all()
        }
        keys = {t.id: t.key for t in (await session.exec(select(LedgerTransaction))).all()}
        transactions = sorted(
            (t.key, t.kind, names[t.employee_id], t.points, len(t.reason), t.cap_period_key)
            for t in (await session.exec(select(LedgerTransaction))).all()
        )
        entries = sorted(
            (keys[e.transaction_id], accounts[e.account_id], e.amount)
            for e in (await session.exec(select(LedgerEntry))).all()
        )
        balances = sorted(
            (accounts[a.id], a.balance) for a in (await session.exec(select(Account))).all()
        )
        people = sorted(
            (names[s.employee_id], s.period, s.period_key, s.points)
            for s in (await session.exec(select(PeriodScore))).all()
        )
        departments = sorted(
            (s.period, s.period_key, s.points)
            for s in (await session.exec(select(DepartmentScore))).all()
        )
        caps = sorted(
            (names[u.employee_id], u.rule_id, u.cap_period_key, u.points)
            for u in (await session.exec(select(RuleCapUsage))).all()
        )
        assert (await reconcile(session, store.settings.zone)).clean
    return {
        "transactions": transactions,
        "entries": entries,
        "balances": balances,
        "people": people,
        "departments": departments,
        "caps": caps,
    }


async def write_twice(store: Store) -> tuple[list[int], list[int], list[int]]:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        finance = await make_department(session, "财务部")
        a = await make_employee(session, sales, userid="a")
        b = await make_employee(session, finance, userid="b")
        await session.commit()
    assert a.id and b.id and sales.id and finance.id
    batch = postings(a.id, b.id, sales.id, finance.id)
    async with store.db.session() as session:
        first = await post(session, batch[:3], store.settings.zone)
        await session.commit()
    async with store.db.session() as session:
        # The first three again (nothing), with the hold (new).
        second = await post(session, batch, store.settings.zone)
        again = await post(session, batch, store.settings.zone)
        await session.commit()
    return first, second, again


async def test_both_stores_write_the_same_rows_once(pg: Store, lite: Store) -> None:
    async with pg.db.session() as session:
        assert store_for(session) is POSTGRES
    async with lite.db.session() as session:
        assert store_for(session) is PORTABLE
    for store in (pg, lite):
        first, second, again = await write_twice(store)
        assert (len(first), len(second), again) == (3, 1, [])
    on_pg, on_lite = await books(pg), await books(lite)
    assert on_pg == on_lite
    # What the rows say, on both.
    assert ("award:t:1", "award", "a", 7, 0, "2026-06-30") in on_pg["transactions"]
    assert ("adjust:t:1", "adjustment", "b", 12, 500, None) in on_pg["transactions"]
    assert (("b", AccountKind.available), 8) in on_pg["balances"]
    assert (("b", AccountKind.held), 4) in on_pg["balances"]
    assert (("system", AccountKind.issuance), -22) in on_pg["balances"]
    assert ("a", "quarter", "2026-Q2", 10) in on_pg["people"]
    assert ("a", "day", "2026-06-30", 10) in on_pg["people"]
    assert ("b", "all", "all", 12) in on_pg["people"]  # the hold earns nothing
    assert on_pg["caps"] == [("a", "doc-shared", "2026-06-30", 7)]
    assert sorted(p for p, _k, _v in on_pg["departments"]) == sorted(
        2 * ["day", "week", "month", "quarter", "year", "all"]
    )


async def test_department_scores_stay_where_the_points_were_earned(pg: Store) -> None:
    """Scored while in 销售部, moved to 财务部, scored again: each keeps its own points."""
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        finance = await make_department(session, "财务部")
        zhang = await make_employee(session, sales, userid="zhangsan")
        await session.commit()

    def approval(n: int) -> Any:
        return event(
            f"approval:{n}:submitted",
            "approval.submitted",
            "zhangsan",
            f"2026-11-{10 + n}T09:30:00",
            template="报销",
            sp_no=str(n),
            on_time=True,
        )

    await send(pg, [approval(1)])
    async with pg.db.session() as session:
        person = await session.get(Employee, zhang.id)
        assert person is not None
        await org.upsert_employee(
            session, userid="zhangsan", name=person.name, department_id=finance.id
        )
        await session.commit()
    await send(pg, [approval(2)])
    async with pg.db.session() as session:
        month = dict(
            (
                await session.exec(
                    select(DepartmentScore.department_id, DepartmentScore.points).where(
                        DepartmentScore.period == "month",
                        col(DepartmentScore.period_key) == "2026-11",
                    )
                )
            ).all()
        )
        mine = (
            await session.exec(
                select(LedgerTransaction.department_id).order_by(col(LedgerTransaction.id))
            )
        ).all()
    assert month == {sales.id: 5, finance.id: 5}
    assert list(mine) == [sales.id, finance.id]


async def _earned_without_a_department(store: Store) -> None:
    """An adjustment posted without a department (an import, a script) counts for the
    person's department, so a later first award there still counts them as a
    participant: their period score is what they earned there."""
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        zhang = await make_employee(session, sales, userid="zhangsan")
        assert zhang.id is not None and sales.id is not None
        welcome = Posting(
            "welcome:zhangsan",
            TransactionKind.adjustment,
            zhang.id,
            800,
            LATE,
            earning_legs(zhang.id, 800),
            reason="欢迎积分",
        )
        await post(session, [welcome], SHANGHAI)
        await session.commit()
    await send(
        store,
        [
            event(
                "approval:1:submitted",
                "approval.submitted",
                "zhangsan",
                "2026-06-30T09:30:00",
                template="报销",
                sp_no="1",
                on_time=True,
            )
        ],
    )
    async with store.db.session() as session:
        where = (await session.exec(select(LedgerTransaction.department_id))).all()
        quarter = (
            await session.exec(
                select(DepartmentScore.points, DepartmentScore.participants).where(
                    DepartmentScore.department_id == sales.id,
                    DepartmentScore.period == "quarter",
                    col(DepartmentScore.period_key) == "2026-Q2",
                )
            )
        ).one()
        report = await reconcile(session, SHANGHAI)
    assert set(where) == {sales.id}
    assert tuple(quarter) == (805, 1)
    assert report.clean, report.problems


async def test_points_earned_without_a_department_count_for_the_persons_own_pg(
    pg: Store,
) -> None:
    await _earned_without_a_department(pg)


async def test_points_earned_without_a_department_count_for_the_persons_own_sqlite(
    lite: Store,
) -> None:
    await _earned_without_a_department(lite)


async def test_the_scoring_bench_baseline_writes_the_same_rows(
    pg: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline checks itself: it raises when its rows differ from scoring's."""
    monkeypatch.setenv("POINTS_BENCH_SCORING_EVENTS", "1500")
    result = await scoring_bench.run(quick=True)
    assert result.details["events"] == 1500 and result.details["transactions"] > 1000
    assert result.figure > 0 and result.baseline > 0
    assert result.details["plain_insert_events_per_s"] > 0
