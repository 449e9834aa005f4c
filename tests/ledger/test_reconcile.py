"""Reconcile walks people in chunks and still finds every planted difference, by id."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from points.ledger.reconcile import reconcile
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


async def _company(store: Store) -> list[int]:
    """Five people in two departments, each with approvals over two weeks."""
    async with store.db.session() as session:
        sales = await make_department(session, "销售部")
        finance = await make_department(session, "财务部")
        ids = []
        for n in range(5):
            person = await make_employee(
                session, sales if n % 2 else finance, userid=f"p{n}", name=f"员工{n}"
            )
            assert person.id is not None
            ids.append(person.id)
        await session.commit()
    events = [
        event(
            f"approval:{n}:{day}:submitted",
            "approval.submitted",
            f"p{n}",
            f"2026-11-{day}T09:30:00",
            template="报销",
            sp_no=f"{n}-{day}",
            on_time=True,
        )
        for n in range(5)
        for day in (20, 24, 30)
    ]
    await send(store, events)
    return ids


async def _plants_are_found(store: Store) -> None:
    ids = await _company(store)
    steps: list[tuple[str, int, int]] = []
    async with store.db.session() as session:
        report = await reconcile(
            session, store.settings.zone, chunk=2, progress=lambda *step: steps.append(step)
        )
    assert report.clean, report.problems
    assert report.transactions == 15
    # Three chunks of at most two people; the last says all five are done.
    assert steps == [("people", 2, 5), ("people", 4, 5), ("people", 5, 5)]
    fourth = ids[3]
    async with store.db.engine.begin() as conn:
        # A score of the fourth person (the second chunk), a department's month, a
        # score row with no entries behind it, and a cap usage.
        await conn.execute(
            text(
                "UPDATE period_score SET points = points + 2 "
                "WHERE employee_id = :e AND period = 'week' AND period_key = '2026-W48'"
            ),
            {"e": fourth},
        )
        await conn.execute(
            text(
                "UPDATE department_score SET points = points - 1 "
                "WHERE period = 'month' AND period_key = '2026-11' "
                "AND department_id = (SELECT MIN(department_id) FROM department_score)"
            )
        )
        await conn.execute(
            text(
                "INSERT INTO period_score (employee_id, period, period_key, points) "
                "VALUES (:e, 'day', '2026-10-01', 4)"
            ),
            {"e": ids[4]},
        )
        await conn.execute(
            text("UPDATE rule_cap_usage SET points = 0 WHERE employee_id = :e"), {"e": ids[0]}
        )
        # A department's count of people who earned in a quarter.
        await conn.execute(
            text(
                "UPDATE department_score SET participants = participants + 1 "
                "WHERE period = 'quarter' AND period_key = '2026-Q4' "
                "AND department_id = (SELECT MIN(department_id) FROM department_score)"
            )
        )
        department = (
            await conn.execute(text("SELECT MIN(department_id) FROM department_score"))
        ).scalar_one()
    async with store.db.session() as session:
        report = await reconcile(session, store.settings.zone, chunk=2)
    assert not report.clean
    assert f"employee {fourth} week 2026-W48: score 7, entries say 5" in report.problems
    assert f"employee {ids[4]} day 2026-10-01: score 4, entries say 0" in report.problems
    # The first department made holds the two people with odd numbers: 2 × 3 × 5 points.
    assert f"department {department} month 2026-11: score 29, entries say 30" in report.problems
    caps = [p for p in report.problems if p.startswith(f"employee {ids[0]} rule ")]
    assert caps == [
        f"employee {ids[0]} rule approval-on-time cap 2026-11-{day}: usage 0, entries say 5"
        for day in (20, 24, 30)
    ]
    assert (
        f"department {department} quarter 2026-Q4: participants 3, entries say 2" in report.problems
    )
    # Nothing else was touched, so nothing else is reported.
    assert len(report.problems) == 7, report.problems


@pytest.mark.books_tampered
async def test_reconcile_in_chunks_finds_planted_differences_postgresql(pg: Store) -> None:
    await _plants_are_found(pg)


@pytest.mark.books_tampered
async def test_reconcile_in_chunks_finds_planted_differences_sqlite(lite: Store) -> None:
    await _plants_are_found(lite)


@pytest.mark.books_tampered
async def test_reconcile_names_an_unbalanced_transaction_and_a_wrong_balance(
    pg: Store,
) -> None:
    ids = await _company(pg)
    async with pg.db.engine.begin() as conn:
        entry = (await conn.execute(text("SELECT MIN(id) FROM ledger_entry"))).scalar_one()
        transaction = (
            await conn.execute(
                text("SELECT transaction_id FROM ledger_entry WHERE id = :i"), {"i": entry}
            )
        ).scalar_one()
        await conn.execute(
            text("UPDATE ledger_entry SET amount = amount + 1 WHERE id = :i"), {"i": entry}
        )
        account = (
            await conn.execute(
                text("SELECT id FROM account WHERE employee_id = :e AND kind = 'available'"),
                {"e": ids[1]},
            )
        ).scalar_one()
        await conn.execute(text("UPDATE account SET balance = 0 WHERE id = :a"), {"a": account})
    async with pg.db.session() as session:
        report = await reconcile(session, pg.settings.zone)
    assert "the ledger does not sum to zero: 1" in report.problems
    assert f"transaction {transaction} is unbalanced by 1" in report.problems
    assert any(
        p.startswith(f"account {account} (available, employee {ids[1]}): balance 0")
        for p in report.problems
    )


@pytest.mark.books_tampered
@pytest.mark.parametrize("limit", [1])
async def test_reconcile_lists_at_most_the_limit(pg: Store, limit: int) -> None:
    await _company(pg)
    async with pg.db.engine.begin() as conn:
        await conn.execute(text("UPDATE period_score SET points = points + 1"))
    async with pg.db.session() as session:
        report = await reconcile(session, pg.settings.zone, limit=limit, chunk=2)
    assert report.problems[-1] == "… more differences not listed"
    assert len(report.problems) == limit + 1


@pytest.mark.books_tampered
async def test_reconcile_reads_one_read_only_snapshot_on_postgresql(pg: Store) -> None:
    await _company(pg)
    async with pg.db.session() as session:
        assert (await reconcile(session, pg.settings.zone)).clean
        isolation = (await session.exec(text("SHOW transaction_isolation"))).one()  # type: ignore[call-overload]
        read_only = (await session.exec(text("SHOW transaction_read_only"))).one()  # type: ignore[call-overload]
    assert (isolation[0], read_only[0]) == ("repeatable read", "on")
