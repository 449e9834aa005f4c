from __future__ import annotations

import asyncio

import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlmodel import select

from points.audit.models import AuditEntry
from points.cli import main
from points.errors import InvalidInput
from points.ledger.adjustments import adjust
from points.ledger.models import AccountKind, LedgerTransaction, Period, PeriodScore
from points.ledger.participation import roll_changed
from points.ledger.reconcile import reconcile
from points.ledger.service import balances
from points.org.leavers import mark_left
from points.rewards.workflow import release_holds_of
from points.settings import get_settings
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


@pytest.fixture
async def zhang(pg: Store) -> int:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        employee = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
        assert employee.id is not None
        return employee.id


def approval(sp_no: str, when: str = "2026-11-24T09:30:00", status: str = "submitted") -> object:
    type_ = f"approval.{status}"
    attributes = {"template": "报销", "sp_no": sp_no}
    if status == "submitted":
        attributes["on_time"] = True  # type: ignore[assignment]
    return event(f"approval:{sp_no}:{status}", type_, "zhangsan", when, **attributes)


async def _available(store: Store, employee_id: int) -> int:
    async with store.db.session() as session:
        return (await balances(session, employee_id))[AccountKind.available]


async def test_a_revoked_approval_reverses_its_points_with_a_pointer(pg: Store, zhang: int) -> None:
    await send(pg, [approval("7")])  # type: ignore[list-item]
    assert await _available(pg, zhang) == 5
    await send(pg, [approval("7", "2026-11-24T11:00:00", "revoked")])  # type: ignore[list-item]
    await send(pg, [approval("7", "2026-11-24T11:00:00", "revoked")])  # type: ignore[list-item]
    assert await _available(pg, zhang) == 0
    async with pg.db.session() as session:
        rows = (await session.exec(select(LedgerTransaction).order_by(LedgerTransaction.id))).all()
        assert [(r.kind, r.points) for r in rows] == [("award", 5), ("reversal", -5)]
        assert rows[1].reverses_id == rows[0].id
        assert "撤回" in rows[1].reason and "按时提交审批" in rows[1].reason
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_a_revocation_takes_back_only_its_own_approval_postgresql(pg: Store) -> None:
    await _revocation_takes_back_only_its_own_approval(pg)


async def test_a_revocation_takes_back_only_its_own_approval_sqlite(lite: Store) -> None:
    await _revocation_takes_back_only_its_own_approval(lite)


async def _revocation_takes_back_only_its_own_approval(store: Store) -> None:
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        employee = await make_employee(session, sales, userid="zhangsan")
        await session.commit()
        assert employee.id is not None
    # Two approvals of the same person; "17" must not match "7", nor a doc with sp_no 7.
    doc = event("doc:1", "doc.shared", "zhangsan", "2026-11-24T09:00:00", doc_id="d1", sp_no="7")
    await send(store, [approval("7"), approval("17", "2026-11-24T10:00:00"), doc])  # type: ignore[list-item]
    before = await _available(store, employee.id)
    await send(store, [approval("7", "2026-11-24T11:00:00", "revoked")])  # type: ignore[list-item]
    assert await _available(store, employee.id) == before - 5
    async with store.db.session() as session:
        reversed_ = (
            await session.exec(
                select(LedgerTransaction).where(LedgerTransaction.kind == "reversal")
            )
        ).all()
        assert len(reversed_) == 1
        original = await session.get(LedgerTransaction, reversed_[0].reverses_id)
        assert original is not None and original.points == 5
        assert (await reconcile(session, store.settings.zone)).clean


async def test_adjustments_need_a_reason_never_overdraw_and_apply_once(
    pg: Store, zhang: int
) -> None:
    async with pg.db.session() as session:
        with pytest.raises(InvalidInput):
            await adjust(
                session,
                pg.settings,
                userid="zhangsan",
                points=10,
                reason=" ",
                author="hr1",
                request_key="k0",
            )
        assert await adjust(
            session,
            pg.settings,
            userid="zhangsan",
            points=10,
            reason="培训讲师奖励",
            author="hr1",
            request_key="k1",
        )
        assert not await adjust(
            session,
            pg.settings,
            userid="zhangsan",
            points=10,
            reason="培训讲师奖励",
            author="hr1",
            request_key="k1",
        )
        with pytest.raises(InvalidInput, match="10"):
            await adjust(
                session,
                pg.settings,
                userid="zhangsan",
                points=-11,
                reason="多发了",
                author="hr1",
                request_key="k2",
            )
        await session.commit()
    assert await _available(pg, zhang) == 10
    async with pg.db.session() as session:
        audits = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "points.adjust"))
        ).all()
        assert [(a.actor, a.details["points"]) for a in audits] == [("hr1", 10)]
        line = (await session.exec(select(LedgerTransaction))).one()
        assert (line.author, line.reason) == ("hr1", "培训讲师奖励")


async def test_a_leaver_is_frozen_and_earns_nothing_more(pg: Store, zhang: int) -> None:
    await send(pg, [approval("1")])  # type: ignore[list-item]
    async with pg.db.session() as session:
        assert await mark_left(
            session,
            pg.settings,
            "zhangsan",
            "离职",
            release_holds=release_holds_of,
            roll_changed=roll_changed,
        )
        assert not await mark_left(
            session,
            pg.settings,
            "zhangsan",
            "离职",
            release_holds=release_holds_of,
            roll_changed=roll_changed,
        )
        await session.commit()
    await send(pg, [approval("2")])  # type: ignore[list-item]
    assert await _available(pg, zhang) == 5
    async with pg.db.session() as session:
        with pytest.raises(InvalidInput):
            await adjust(
                session,
                pg.settings,
                userid="zhangsan",
                points=5,
                reason="x",
                author="hr1",
                request_key="k",
            )


async def test_periods_are_cut_in_shanghai_time(pg: Store, zhang: int) -> None:
    sunday_night = approval("1", "2026-11-29T23:59:00")
    monday_midnight = approval("2", "2026-11-30T00:00:00")
    await send(pg, [sunday_night, monday_midnight])  # type: ignore[list-item]
    async with pg.db.session() as session:
        weeks = (
            await session.exec(
                select(PeriodScore.period_key, PeriodScore.points)
                .where(PeriodScore.period == Period.week)
                .order_by(PeriodScore.period_key)
            )
        ).all()
        months = (
            await session.exec(
                select(PeriodScore.period_key, PeriodScore.points)
                .where(PeriodScore.period == Period.month)
                .order_by(PeriodScore.period_key)
            )
        ).all()
    assert weeks == [("2026-W48", 5), ("2026-W49", 5)]
    assert months == [("2026-11", 10)]  # Monday 30 November is still November


@pytest.mark.books_tampered
async def test_reconcile_finds_a_tampered_balance(
    pg: Store, zhang: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    await send(pg, [approval("1")])  # type: ignore[list-item]
    monkeypatch.setenv("POINTS_DATABASE_URL", pg.settings.DATABASE_URL)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        clean = await asyncio.to_thread(runner.invoke, main, ["reconcile"])
        assert clean.exit_code == 0, clean.output
        assert "clean" in clean.output
        async with pg.db.engine.begin() as conn:
            await conn.execute(
                text("UPDATE account SET balance = balance + 1 WHERE kind = 'available'")
            )
            await conn.execute(
                text("UPDATE period_score SET points = points + 2 WHERE period = 'week'")
            )
        dirty = await asyncio.to_thread(runner.invoke, main, ["reconcile"])
    finally:
        get_settings.cache_clear()
    assert dirty.exit_code == 1
    assert "balance 6, entries say 5" in dirty.output
    assert "employee 1 week 2026-W48: score 7, entries say 5" in dirty.output


async def test_points_expire_oldest_first_once_per_day(pg: Store, zhang: int) -> None:
    from datetime import date

    from points.ledger.expiry import expire_points
    from tests.support.services import make_settings

    settings = make_settings(pg.settings.DATABASE_URL, EXPIRY_MONTHS=3)
    await send(
        pg,
        [
            approval("1", "2026-07-01T09:00:00"),
            approval("2", "2026-07-02T09:00:00"),
            approval("3", "2026-11-20T09:00:00"),
        ],
    )  # type: ignore[list-item]
    async with pg.db.session() as session:
        # 7 of the 15 points are spent by hand: the oldest 5, then 2 of the next.
        assert await adjust(
            session,
            settings,
            userid="zhangsan",
            points=-7,
            reason="兑换",
            author="hr1",
            request_key="spend",
        )
        first = await expire_points(session, settings, date(2026, 11, 25))
        again = await expire_points(session, settings, date(2026, 11, 25))
        await session.commit()
        assert first == {"people": 1, "points": 3}  # the rest of July's second award
        assert again == {"people": 0, "points": 0}
        assert (await reconcile(session, settings.zone)).clean
    assert await _available(pg, zhang) == 5


@pytest.mark.books_tampered
async def test_cap_usage_is_a_cache_that_reconcile_checks(pg: Store, zhang: int) -> None:
    # Five on-time approvals in one day: the daily cap of 20 lets four through.
    await send(pg, [approval(str(n), f"2026-11-24T0{n}:00:00") for n in range(1, 6)])  # type: ignore[list-item]
    assert await _available(pg, zhang) == 20
    async with pg.db.session() as session:
        assert (await reconcile(session, pg.settings.zone)).clean
    async with pg.db.engine.begin() as conn:
        await conn.execute(text("UPDATE rule_cap_usage SET points = 0"))
    async with pg.db.session() as session:
        report = await reconcile(session, pg.settings.zone)
    assert [p for p in report.problems if "cap 2026-11-24" in p] == [
        "employee 1 rule approval-on-time cap 2026-11-24: usage 0, entries say 20"
    ]
