"""The reward pages, as each role sees them."""

from __future__ import annotations

import re
from datetime import date, timedelta

import httpx
from sqlmodel import func, select

from points.audit.models import AuditEntry
from points.org.models import Role
from points.rewards import policy, redeem, vouchers
from points.rewards.models import Redemption, Reward
from tests.support.factories import csrf_from, login, make_department, make_employee
from tests.support.rewards import Shop, give, make_reward
from tests.support.services import Store


def nonce_from(html: str) -> str:
    match = re.search(r'name="nonce" value="([^"]+)"', html)
    assert match, "the confirmation form has no nonce"
    return match.group(1)


async def count(store: Store) -> int:
    async with store.db.session() as session:
        return (await session.exec(select(func.count()).select_from(Redemption))).one()


async def test_catalogue_confirm_and_a_double_click_make_one_redemption(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        coffee = await make_reward(session, price=30, stock=3)
        leave = await make_reward(
            session, name="带薪休假半天", price=112, fulfilment="leave", leave_hours=4
        )
        await session.commit()
    await login(client, "zhangsan")
    page = await client.get("/rewards")
    assert page.status_code == 200
    assert "咖啡券" in page.text and "还差 12 分" in page.text
    assert 'class="reward-card affordable' in page.text
    confirm = await client.get(f"/rewards/{coffee.id}/redeem")
    assert "确认" in confirm.text
    form = {"csrf_token": csrf_from(confirm.text), "nonce": nonce_from(confirm.text)}
    first = await client.post(f"/rewards/{coffee.id}/redeem", data=form)
    second = await client.post(f"/rewards/{coffee.id}/redeem", data=form)  # double click
    assert first.status_code == second.status_code == 303
    assert first.headers["location"] == second.headers["location"]
    assert await count(pg) == 1
    mine = await client.get(first.headers["location"])
    assert "待发放" in mine.text and "取消" in mine.text
    refused = await client.get(f"/rewards/{leave.id}/redeem")
    assert "还差" in refused.text
    listing = await client.get("/rewards/mine")
    assert "咖啡券" in listing.text


async def test_a_refusal_is_shown_on_the_confirmation_step(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        lunch = await make_reward(
            session, name="午餐券", price=10, limit_count=1, limit_period="quarter"
        )
        await session.commit()
    await login(client, "zhangsan")
    for _attempt in range(2):
        confirm = await client.get(f"/rewards/{lunch.id}/redeem")
        response = await client.post(
            f"/rewards/{lunch.id}/redeem",
            data={"csrf_token": csrf_from(confirm.text), "nonce": nonce_from(confirm.text)},
        )
    assert response.status_code == 409
    assert "本季度已兑换 1 次" in response.text
    assert await count(pg) == 1


async def test_employees_cannot_reach_hr_or_approval_pages(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    await login(client, "zhangsan")
    for path in (
        "/fulfilment",
        "/fulfilment/catalogue",
        "/fulfilment/catalogue/new",
        "/fulfilment/spend",
        "/fulfilment/spend.csv",
        "/approvals",
    ):
        assert (await client.get(path)).status_code == 403, path
    home = await client.get("/rewards")
    assert "兑换商城" in home.text and "兑换管理" not in home.text


async def test_heads_approve_only_rewards_naming_them_in_their_subtree(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    assert shop.employee.id and shop.outsider.id
    async with pg.db.session() as session:
        other_head = await make_employee(
            session, shop.finance, userid="caiwu", name="财务头", role=Role.head
        )  # type: ignore[arg-type]
        leave = await make_reward(
            session, name="带薪休假半天", price=50, fulfilment="leave", leave_hours=4
        )
        lunch = await make_reward(session, name="午餐券", price=10, approver="hr")
        mine = await redeem.request_redemption(
            session,
            pg.settings,
            reward_id=leave.id or 0,
            employee_id=shop.employee.id,
            actor=policy.SYSTEM,
            leave_date=date.today() + timedelta(days=7),
        )
        theirs = await redeem.request_redemption(
            session,
            pg.settings,
            reward_id=leave.id or 0,
            employee_id=shop.outsider.id,
            actor=policy.SYSTEM,
            leave_date=date.today() + timedelta(days=7),
        )
        hr_one = await redeem.request_redemption(
            session,
            pg.settings,
            reward_id=lunch.id or 0,
            employee_id=shop.employee.id,
            actor=policy.SYSTEM,
        )
        await session.commit()
    assert other_head.userid
    await login(client, "wangwu")
    queue = await client.get("/approvals")
    assert f"approval-{mine.redemption.id}" in queue.text
    assert f"approval-{theirs.redemption.id}" not in queue.text
    assert f"approval-{hr_one.redemption.id}" not in queue.text
    token = csrf_from(queue.text)
    refused = await client.post(
        f"/approvals/{theirs.redemption.id}/approve", data={"csrf_token": token}
    )
    assert refused.status_code == 403
    refused = await client.post(
        f"/approvals/{hr_one.redemption.id}/approve", data={"csrf_token": token}
    )
    assert refused.status_code == 403
    done = await client.post(f"/approvals/{mine.redemption.id}/approve", data={"csrf_token": token})
    assert done.status_code == 303
    assert (await client.get("/fulfilment")).status_code == 403
    async with pg.db.session() as session:
        row = await session.get(Redemption, mine.redemption.id)
        assert row is not None and row.status == "awaiting_fulfilment"


async def test_hr_edits_the_catalogue_uploads_codes_fulfils_and_exports(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    await login(client, "zhaoliu")
    editor = await client.get("/fulfilment/catalogue/new")
    assert editor.status_code == 200
    token = csrf_from(editor.text)
    created = await client.post(
        "/fulfilment/catalogue/new",
        data={
            "csrf_token": token,
            "name": "咖啡券",
            "name_en": "Coffee",
            "price": "30",
            "fulfilment": "voucher",
            "approver": "none",
            "low_stock_at": "2",
            "active": "on",
            "audience": [str(shop.sales.id)],
        },
    )
    assert created.status_code == 303, created.text
    reward_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    bad = await client.post(
        "/fulfilment/catalogue/new", data={"csrf_token": token, "name": "", "price": "0"}
    )
    assert bad.status_code == 422
    upload = await client.post(
        f"/fulfilment/catalogue/{reward_id}/codes",
        data={"csrf_token": token},
        files={"file": ("codes.csv", "\ufeffcode\nX-1\nX-2\nX-3\n".encode(), "text/csv")},
    )
    assert upload.status_code == 303
    page = await client.get(f"/fulfilment/catalogue/{reward_id}")
    assert 'data-testid="codes-free">3<' in page.text
    catalogue = await client.get("/fulfilment/catalogue")
    assert 'data-testid="low-stock"' not in catalogue.text
    async with pg.db.session() as session:
        lunch = await make_reward(session, name="午餐券", price=20)
        assert shop.employee.id and shop.colleague.id
        ids = [
            (
                await redeem.request_redemption(
                    session,
                    pg.settings,
                    reward_id=lunch.id or 0,
                    employee_id=person,
                    actor=policy.SYSTEM,
                )
            ).redemption.id
            for person in (shop.employee.id, shop.colleague.id)
        ]
        await session.commit()
    queue = await client.get("/fulfilment")
    assert "午餐券" in queue.text
    bulk = await client.post(
        "/fulfilment/fulfil", data={"csrf_token": token, "ids": [str(i) for i in ids]}
    )
    assert bulk.status_code == 303
    async with pg.db.session() as session:
        statuses = (await session.exec(select(Redemption.status))).all()
        assert statuses == ["fulfilled", "fulfilled"]
    report = await client.get("/fulfilment/spend?by=department")
    assert "华东区" in report.text
    export = await client.get("/fulfilment/spend.csv?by=reward")
    assert export.status_code == 200
    assert export.content.startswith("\ufeff".encode())
    assert "午餐券,2,40,0,0" in export.text
    async with pg.db.session() as session:
        audited = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "rewards.export"))
        ).one()
        assert audited.actor == "zhaoliu"
        reward = await session.get(Reward, reward_id)
        assert reward is not None and reward.audience == [shop.sales.id]


async def test_only_the_owner_sees_the_voucher_code(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    assert shop.employee.id
    async with pg.db.session() as session:
        coffee = await make_reward(session, fulfilment="voucher")
        await vouchers.upload_codes(session, coffee.id or 0, "SECRET-1\n", "a.csv", policy.SYSTEM)
        result = await redeem.request_redemption(
            session,
            pg.settings,
            reward_id=coffee.id or 0,
            employee_id=shop.employee.id,
            actor=policy.SYSTEM,
        )
        await session.commit()
    path = f"/rewards/mine/{result.redemption.id}"
    await login(client, "zhaoliu")
    assert "SECRET-1" not in (await client.get(path)).text
    await login(client, "lisi")
    assert (await client.get(path)).status_code == 404
    await login(client, "zhangsan")
    assert "SECRET-1" in (await client.get(path)).text


async def test_reward_navigation_adds_one_item_per_role(
    pg: Store, client: httpx.AsyncClient
) -> None:
    """Employees get 兑换商城, heads 审批, HR 兑换管理 (approvals are a tab in it);
    admins reach 兑换管理 from the admin hub, so their bar does not grow."""
    async with pg.db.session() as session:
        team = await make_department(session, "行政部")
        for userid, role in (("e1", None), ("h1", Role.head), ("r1", Role.hr), ("a1", Role.admin)):
            person = await make_employee(session, team, userid=userid, role=role)  # type: ignore[arg-type]
            await give(session, pg.settings, person.id or 0, 10)
        await session.commit()
    expected = {
        "e1": {"/rewards"},
        "h1": {"/rewards", "/approvals"},
        "r1": {"/rewards", "/fulfilment"},
        "a1": {"/rewards"},
    }
    for userid, paths in expected.items():
        await login(client, userid)
        page = await client.get("/rewards")
        nav = page.text.split('class="nav"')[1].split("</nav>")[0]
        mine = {p for p in ("/rewards", "/approvals", "/fulfilment") if f'href="{p}"' in nav}
        assert mine == paths, userid


async def test_the_reward_form_keeps_what_was_typed_and_says_each_problem_in_chinese(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    await login(client, "zhaoliu")
    token = csrf_from((await client.get("/fulfilment/catalogue/new")).text)
    bad = await client.post(
        "/fulfilment/catalogue/new",
        data={
            "csrf_token": token,
            "name": "双十二电影票",
            "name_en": "Cinema ticket",
            "price": "0",
            "available_from": "2026-12-12T10:00",
            "available_until": "2026-12-01T10:00",
            "fulfilment": "manual",
            "approver": "none",
        },
    )
    assert bad.status_code == 422
    assert 'value="双十二电影票"' in bad.text and 'value="Cinema ticket"' in bad.text
    assert 'value="2026-12-12T10:00"' in bad.text
    assert 'data-testid="error-price"' in bad.text and "必须大于 0" in bad.text
    assert (
        'data-testid="error-available_until"' in bad.text and "结束时间必须晚于开始时间" in bad.text
    )
    assert "Value error" not in bad.text and "Input should be" not in bad.text
    assert 'action="/fulfilment/catalogue/new"' in bad.text


async def test_a_pinned_goal_shows_on_home_with_what_is_missing(
    pg: Store, shop: Shop, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        reward = await make_reward(session, name="图书卡", name_en="Book card", price=250)
        await session.commit()
    await login(client, shop.employee.userid)
    page = await client.get(f"/rewards/{reward.id}")
    pinned = await client.post(
        f"/rewards/{reward.id}/goal", data={"csrf_token": csrf_from(page.text)}
    )
    assert pinned.status_code == 303, pinned.text[-600:]
    assert pinned.headers["location"].endswith("done=goal_pinned")
    assert "取消目标" in (await client.get(pinned.headers["location"])).text
    home = await client.get("/")
    assert "我的目标" in home.text and "图书卡" in home.text
    assert "已有 100 / 250 分，还差 150 分" in home.text
    await client.post(
        f"/rewards/{reward.id}/goal", data={"csrf_token": csrf_from(page.text), "unpin": "1"}
    )
    assert "我的目标" not in (await client.get("/")).text
