"""Back-apply: a new version over a past window, as adjustment entries that explain themselves."""

from __future__ import annotations

from sqlmodel import col, select

from points.audit.models import AuditEntry
from points.ledger.adjustments import adjust
from points.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from points.ledger.reconcile import reconcile
from points.ledger.service import balances
from points.rulesets import service
from points.workbench.backapply import back_apply
from points.workbench.service import activate
from points.workbench.simulation import window_for
from tests.support.rulesets import DEFAULT_RULES, Company, doubled_doc_shared
from tests.support.services import Store

WITHOUT_DOC_SHARED = DEFAULT_RULES.replace(
    "- id: doc-shared\n  title: 分享文档\n",
    "- id: doc-shared\n  enabled: false\n  title: 分享文档\n",
)


async def _activate(
    store: Store, source: str, *, days: int = 30
) -> tuple[int, list[LedgerTransaction]]:
    async with store.db.session() as session:
        draft = await service.save_draft(session, source=source, author="zhaoliu")
        assert draft.id is not None
        _version, result = await activate(
            session,
            store.settings,
            version_id=draft.id,
            author="zhaoliu",
            ip="10.0.0.1",
            backapply=window_for(store.settings.zone, days=days),
        )
        await session.commit()
        assert result is not None
    return draft.id, await _backapplied(store)


async def _backapplied(store: Store) -> list[LedgerTransaction]:
    async with store.db.session() as session:
        rows = await session.exec(
            select(LedgerTransaction)
            .where(LedgerTransaction.kind == TransactionKind.backapply)
            .order_by(col(LedgerTransaction.id))
        )
        return list(rows.all())


async def test_backapply_posts_the_difference_once_and_reconciles(
    pg: Store, company: Company
) -> None:
    version, rows = await _activate(pg, doubled_doc_shared())
    assert {(r.employee_id, r.points) for r in rows} == {(company.zhang.id, 9), (company.li.id, 3)}
    for row in rows:
        assert row.key == f"backapply:{version}:{row.employee_id}"
        assert row.rule_version == version and row.author == "zhaoliu"
        assert row.reason.startswith(f"规则 v{version} 追溯调整 (")
        assert row.reason_en.startswith(f"Rules v{version} applied back (")
    async with pg.db.session() as session:
        assert company.zhang.id is not None
        assert (await balances(session, company.zhang.id))[AccountKind.available] == 14 + 9
        # Doing it again is a no-op: same keys.
        again = await back_apply(
            session,
            pg.settings,
            version=await service.get_version(session, version),
            window=window_for(pg.settings.zone, days=30),
            author="zhaoliu",
        )
        await session.commit()
        assert again.transactions == 0
        assert (await reconcile(session, pg.settings.zone)).clean
        audit = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "rules.backapply"))
        ).all()
    assert len(await _backapplied(pg)) == 2
    assert audit[0].actor == "zhaoliu" and audit[0].ip == "10.0.0.1"
    assert audit[0].details["transactions"] == 2 and audit[0].details["points"] == 12


async def test_a_second_backapply_over_the_same_window_sees_the_first(
    pg: Store, company: Company
) -> None:
    await _activate(pg, doubled_doc_shared())
    # Back to the defaults, back-applied: everyone ends where the defaults put them.
    version, rows = await _activate(pg, DEFAULT_RULES)
    latest = [r for r in rows if r.rule_version == version]
    assert {(r.employee_id, r.points) for r in latest} == {
        (company.zhang.id, -9),
        (company.li.id, -3),
    }
    async with pg.db.session() as session:
        assert company.zhang.id is not None and company.li.id is not None
        assert (await balances(session, company.zhang.id))[AccountKind.available] == 14
        assert (await balances(session, company.li.id))[AccountKind.available] == 3
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_a_negative_difference_never_takes_available_below_zero(
    pg: Store, company: Company
) -> None:
    async with pg.db.session() as session:
        await adjust(
            session,
            pg.settings,
            userid="lisi",
            points=-2,
            reason="兑换测试",
            author="zhaoliu",
            request_key="spend-2",
        )
        await session.commit()
    _version, rows = await _activate(pg, WITHOUT_DOC_SHARED)
    li = next(r for r in rows if r.employee_id == company.li.id)
    assert li.points == -1
    assert "2 分未能收回" in li.reason and "2 points could not be recovered" in li.reason_en
    zhang = next(r for r in rows if r.employee_id == company.zhang.id)
    assert zhang.points == -9
    async with pg.db.session() as session:
        assert company.li.id is not None
        assert (await balances(session, company.li.id))[AccountKind.available] == 0
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_a_window_before_any_activity_changes_nothing(pg: Store, company: Company) -> None:
    from datetime import date

    async with pg.db.session() as session:
        draft = await service.save_draft(session, source=doubled_doc_shared(), author="zhaoliu")
        assert draft.id is not None
        _v, result = await activate(
            session,
            pg.settings,
            version_id=draft.id,
            author="zhaoliu",
            backapply=window_for(pg.settings.zone, since=date(2020, 1, 1), until=date(2020, 1, 31)),
        )
        await session.commit()
    assert result is not None and result.transactions == 0 and result.lines == []
    assert await _backapplied(pg) == []
