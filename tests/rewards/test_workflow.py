"""The redemption workflow, one step at a time (PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, func, select

from points.audit.models import AuditEntry
from points.db import Database, utcnow
from points.errors import Conflict, Forbidden
from points.i18n import use_locale
from points.ledger.models import AccountKind, LedgerTransaction
from points.ledger.reconcile import reconcile
from points.ledger.service import balances
from points.notifications.models import Notification
from points.org.models import EmployeeStatus
from points.rewards import policy, queues, redeem, vouchers, workflow
from points.rewards.models import Redemption, Reward
from points.rewards.policy import RedemptionRefused
from tests.support.boards import set_roll
from tests.support.rewards import Shop, actor_for, make_reward, reload
from tests.support.services import Store


async def money(store: Store, employee_id: int) -> tuple[int, int]:
    async with store.db.session() as session:
        found = await balances(session, employee_id)
    return found[AccountKind.available], found[AccountKind.held]


async def request(store: Store, reward_id: int, employee_id: int, key: str | None = None) -> int:
    async with store.db.session() as session:
        result = await redeem.request_redemption(
            session,
            store.settings,
            reward_id=reward_id,
            employee_id=employee_id,
            actor=policy.SYSTEM,
            idempotency_key=key,
            leave_date=date.today() + timedelta(days=7),  # paid leave needs its day
        )
        await session.commit()
        assert result.redemption.id is not None
        return result.redemption.id


async def refusal(store: Store, reward_id: int, employee_id: int, **kw: object) -> str:
    with use_locale("zh_CN"), pytest.raises(RedemptionRefused) as caught:
        async with store.db.session() as session:
            await redeem.request_redemption(
                session,
                store.settings,
                reward_id=reward_id,
                employee_id=employee_id,
                actor=policy.SYSTEM,
                **kw,  # type: ignore[arg-type]
            )
            await session.commit()
    return caught.value.message


async def test_request_holds_the_price_and_fulfilment_spends_it(pg: Store, shop: Shop) -> None:
    async with pg.db.session() as session:
        reward = await make_reward(session, stock=3)
        await session.commit()
    assert reward.id and shop.employee.id
    redemption_id = await request(pg, reward.id, shop.employee.id)
    assert await money(pg, shop.employee.id) == (70, 30)
    async with pg.db.session() as session:
        assert (await session.get(Reward, reward.id)).stock == 2  # type: ignore[union-attr]
        hr = await actor_for(session, shop.hr)
        await workflow.fulfil(session, pg.settings, redemption_id, hr)
        await session.commit()
    assert await money(pg, shop.employee.id) == (70, 0)
    async with pg.db.session() as session:
        keys = set(
            (
                await session.exec(
                    select(LedgerTransaction.key).where(
                        LedgerTransaction.redemption_id == redemption_id
                    )
                )
            ).all()
        )
        assert keys == {f"hold:{redemption_id}", f"spend:{redemption_id}"}
        actions = set((await session.exec(select(AuditEntry.action))).all())
        assert {"redemption.request", "redemption.fulfil"} <= actions
        kinds = list(
            (await session.exec(select(Notification.kind).order_by(col(Notification.id)))).all()
        )
        assert kinds == ["redemption.awaiting_fulfilment", "redemption.fulfilled"]
        view = await queues.redemption_view(session, redemption_id, hr.principal)  # type: ignore[arg-type]
        assert [s.status for s in view.steps] == ["awaiting_fulfilment", "fulfilled"]
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_refusals_say_exactly_why_and_change_nothing(pg: Store, shop: Shop) -> None:
    assert shop.employee.id and shop.outsider.id
    now = utcnow()
    async with pg.db.session() as session:
        dear = await make_reward(
            session, name="带薪休假半天", price=112, fulfilment="leave", leave_hours=4
        )
        gone = await make_reward(session, name="图书卡", price=10, stock=0)
        quarterly = await make_reward(
            session, name="午餐券", price=10, limit_count=1, limit_period="quarter"
        )
        sales_only = await make_reward(session, name="定制周边", price=10, audience=[shop.sales.id])
        later = await make_reward(
            session, name="年会门票", price=10, available_from=now + timedelta(days=3)
        )
        await session.commit()
    assert dear.id and gone.id and quarterly.id and sales_only.id and later.id
    await request(pg, quarterly.id, shop.employee.id)
    before = await money(pg, shop.employee.id)
    async with pg.db.session() as session:
        count_before = (await session.exec(select(func.count()).select_from(Redemption))).one()

    assert await refusal(pg, dear.id, shop.employee.id) == "余额不足，还差 22 分"
    assert await refusal(pg, gone.id, shop.employee.id) == "已兑完"
    assert await refusal(pg, quarterly.id, shop.employee.id) == "本季度已兑换 1 次"
    assert await refusal(pg, sales_only.id, shop.outsider.id) == "不在可兑换范围"
    assert await refusal(pg, later.id, shop.employee.id) == "活动未开始或已结束"
    # The audience is the subtree: 华东区 is under 销售部.
    await request(pg, sales_only.id, shop.employee.id)
    async with pg.db.session() as session:
        person = await reload(session, shop.colleague)
        await set_roll(session, person, status=EmployeeStatus.left)
        await session.commit()
    assert shop.colleague.id
    assert await refusal(pg, quarterly.id, shop.colleague.id) == "账户已冻结"
    with use_locale("en"), pytest.raises(RedemptionRefused) as caught:
        async with pg.db.session() as session:
            await redeem.request_redemption(
                session,
                pg.settings,
                reward_id=dear.id,
                employee_id=shop.employee.id,
                actor=policy.SYSTEM,
            )
    assert caught.value.message == "Not enough points, 32 more needed"
    assert await money(pg, shop.employee.id) == (before[0] - 10, before[1] + 10)
    async with pg.db.session() as session:
        count_after = (await session.exec(select(func.count()).select_from(Redemption))).one()
        assert count_after == count_before + 1  # only the 定制周边 that was allowed
        assert (await session.get(Reward, gone.id)).stock == 0  # type: ignore[union-attr]


async def test_head_approves_leave_then_hr_fulfils(pg: Store, shop: Shop) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        leave = await make_reward(
            session, name="带薪休假半天", price=50, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    assert leave.id and leave.approver == "head"
    redemption_id = await request(pg, leave.id, shop.employee.id)
    async with pg.db.session() as session:
        heads = (
            await session.exec(
                select(Notification.userid).where(Notification.kind == "redemption.approval_needed")
            )
        ).all()
        assert heads == ["wangwu"]
        hr = await actor_for(session, shop.hr)
        with pytest.raises(Forbidden):
            await workflow.approve(session, pg.settings, redemption_id, hr)
    async with pg.db.session() as session:
        outsider = await actor_for(session, shop.outsider)
        with pytest.raises(Forbidden):
            await workflow.approve(session, pg.settings, redemption_id, outsider)
    async with pg.db.session() as session:
        head = await actor_for(session, shop.head)
        queue = await queues.approval_queue(session, head.principal)  # type: ignore[arg-type]
        assert [row.redemption.id for row in queue] == [redemption_id]
        await workflow.approve(session, pg.settings, redemption_id, head)
        await workflow.approve(session, pg.settings, redemption_id, head)  # double click
        await session.commit()
    async with pg.db.session() as session:
        hr = await actor_for(session, shop.hr)
        _rows, total = await queues.fulfilment_queue(session)
        assert total == 1
        await workflow.fulfil(session, pg.settings, redemption_id, hr)
        await session.commit()
        assert (await session.get(Redemption, redemption_id)).status == "fulfilled"  # type: ignore[union-attr]
    assert await money(pg, shop.employee.id) == (50, 0)


async def test_voucher_codes_go_out_once_and_only_the_owner_sees_them(
    pg: Store, shop: Shop
) -> None:
    assert shop.employee.id and shop.colleague.id
    async with pg.db.session() as session:
        coffee = await make_reward(session, fulfilment="voucher")
        assert coffee.id
        added, dupes = await vouchers.upload_codes(
            session, coffee.id, "code\nAAA-1\nBBB-2\nAAA-1\n", "batch1.csv", policy.SYSTEM
        )
        assert (added, dupes) == (2, 1)
        await session.commit()
    first = await request(pg, coffee.id, shop.employee.id)
    second = await request(pg, coffee.id, shop.colleague.id)
    assert await refusal(pg, coffee.id, shop.employee.id) == "已兑完"
    async with pg.db.session() as session:
        owner = await actor_for(session, shop.employee)
        hr = await actor_for(session, shop.hr)
        mine = await queues.redemption_view(session, first, owner.principal)  # type: ignore[arg-type]
        assert mine.redemption.status == "fulfilled"  # no approver: delivered at once
        assert mine.voucher_code == "AAA-1"
        seen_by_hr = await queues.redemption_view(session, first, hr.principal)  # type: ignore[arg-type]
        assert seen_by_hr.voucher_code is None
        pool = await vouchers.code_pool(session, coffee.id)
        assert (pool.total, pool.free, pool.given) == (2, 0, 2)
        other = await queues.redemption_view(
            session,
            second,
            (await actor_for(session, shop.colleague)).principal,  # type: ignore[arg-type]
        )
        assert other.voucher_code == "BBB-2"


async def test_decline_cancel_and_expiry_release_the_hold_and_the_stock(
    pg: Store, shop: Shop
) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20, stock=5, approver="hr")
        await session.commit()
    assert lunch.id
    declined = await request(pg, lunch.id, shop.employee.id)
    cancelled = await request(pg, lunch.id, shop.employee.id)
    expired = await request(pg, lunch.id, shop.employee.id)
    assert await money(pg, shop.employee.id) == (40, 60)
    async with pg.db.session() as session:
        hr = await actor_for(session, shop.hr)
        colleague = await actor_for(session, shop.colleague)
        owner = await actor_for(session, shop.employee)
        with pytest.raises(Forbidden):
            await workflow.cancel(session, pg.settings, cancelled, colleague)
        await workflow.decline(session, pg.settings, declined, "本月预算已用完", hr)
        await workflow.cancel(session, pg.settings, cancelled, owner)
        await session.commit()
    async with pg.db.session() as session:
        assert await workflow.expire_due(session, pg.settings, utcnow() + timedelta(days=13)) == 0
        assert await workflow.expire_due(session, pg.settings, utcnow() + timedelta(days=15)) == 1
        await session.commit()
    assert await money(pg, shop.employee.id) == (100, 0)
    async with pg.db.session() as session:
        statuses = {r.id: r.status for r in (await session.exec(select(Redemption))).all()}
        assert statuses == {declined: "declined", cancelled: "cancelled", expired: "expired"}
        assert (await session.get(Reward, lunch.id)).stock == 5  # type: ignore[union-attr]
        decline_note = (
            await session.exec(
                select(Notification.body).where(Notification.kind == "redemption.declined")
            )
        ).one()
        assert "本月预算已用完" in decline_note
        assert (await reconcile(session, pg.settings.zone)).clean


async def test_release_holds_of_a_leaver(pg: Store, shop: Shop) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20, approver="hr")
        await session.commit()
    assert lunch.id
    await request(pg, lunch.id, shop.employee.id)
    await request(pg, lunch.id, shop.employee.id)
    async with pg.db.session() as session:
        assert await workflow.release_holds_of(session, pg.settings, shop.employee.id, "离职") == 2
        await session.commit()
    assert await money(pg, shop.employee.id) == (100, 0)


async def test_idempotency_key_makes_one_redemption(pg: Store, shop: Shop) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        coffee = await make_reward(session, price=10)
        other = await make_reward(session, name="图书卡", price=10)
        await session.commit()
    assert coffee.id and other.id
    first = await request(pg, coffee.id, shop.employee.id, key="k-1")
    again = await request(pg, coffee.id, shop.employee.id, key="k-1")
    assert first == again
    assert await money(pg, shop.employee.id) == (90, 10)
    with pytest.raises(Conflict):
        await request(pg, other.id, shop.employee.id, key="k-1")


async def test_a_request_whose_process_died_after_the_hold_is_kept_and_can_be_finished(
    pg: Store, shop: Shop
) -> None:
    """The hold commits with the redemption: a process dying right after leaves a
    pending redemption that any other process sees, and can fulfil or release."""
    assert shop.employee.id and shop.colleague.id
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20, stock=2)
        await session.commit()
    assert lunch.id
    first = await request(pg, lunch.id, shop.employee.id)
    second = await request(pg, lunch.id, shop.colleague.id)
    # The "crashed" process is gone: a new engine (another process) picks up.
    other = Database(pg.settings)
    try:
        async with other.session() as session:
            rows, _total = await queues.fulfilment_queue(session)
            assert {row.redemption.id for row in rows} == {first, second}
            hr = await actor_for(session, shop.hr)
            await workflow.fulfil(session, pg.settings, first, hr)
            await workflow.decline(session, pg.settings, second, "重复申请", hr)
            await session.commit()
            assert (await reconcile(session, pg.settings.zone)).clean
    finally:
        await other.dispose()
    assert await money(pg, shop.employee.id) == (80, 0)
    assert await money(pg, shop.colleague.id) == (100, 0)


async def test_period_bounds_follow_the_company_calendar() -> None:
    from zoneinfo import ZoneInfo

    from points.calendar import Period, bounds_at

    zone = ZoneInfo("Asia/Shanghai")
    moment = datetime(2026, 12, 31, 17, 0, tzinfo=ZoneInfo("UTC"))  # 2027-01-01 01:00 Beijing
    start, end = bounds_at(Period.quarter, moment, zone)
    assert (start.isoformat(), end.isoformat()) == (
        "2027-01-01T00:00:00+08:00",
        "2027-04-01T00:00:00+08:00",
    )
    start, end = bounds_at(Period.week, moment, zone)
    assert start.weekday() == 0 and end - start == timedelta(days=7)


def test_a_limit_counts_per_calendar_period_but_never_all_time() -> None:
    from pydantic import ValidationError

    from points.rewards.schemas import RewardCreate

    assert RewardCreate(name="咖啡", price=50, limit_count=1, limit_period="week").limit_period
    with pytest.raises(ValidationError, match="a limit counts per day"):
        RewardCreate(name="咖啡", price=50, limit_count=1, limit_period="all")


async def test_after_approval_the_expiry_counts_from_the_approval(pg: Store, shop: Shop) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        leave = await make_reward(
            session, name="带薪休假半天", price=20, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    assert leave.id
    redemption_id = await request(pg, leave.id, shop.employee.id)
    async with pg.db.session() as session:
        redemption = await session.get(Redemption, redemption_id)
        assert redemption is not None
        # Requested long ago: only a few hours of the window are left.
        redemption.requested_at = utcnow() - timedelta(days=leave.expire_after_days, hours=-2)
        redemption.expires_at = redemption.requested_at + timedelta(days=leave.expire_after_days)
        session.add(redemption)
        await session.commit()
    async with pg.db.session() as session:
        head = await actor_for(session, shop.head)
        before = utcnow()
        await workflow.approve(session, pg.settings, redemption_id, head)
        await session.commit()
    async with pg.db.session() as session:
        approved = await session.get(Redemption, redemption_id)
        assert approved is not None and approved.status == "awaiting_fulfilment"
        assert approved.expires_at >= before + timedelta(days=leave.expire_after_days)
