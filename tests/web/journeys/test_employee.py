"""An employee: home → why a point → the board → find myself → redeem → cancel → history."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.journeys import ROOT, Login, Site, Visit

RULE_IDS = re.findall(
    r"^- id: (\S+)", (ROOT / "rules" / "default_rules.yaml").read_text("utf-8"), re.M
)
WORDS = {
    "zh_CN": {
        "hello": "你好，",
        "rule": "规则「",
        "history": "全部明细",
        "board": "排行榜",
        "tabs": ["周", "月", "季度", "年", "累计"],
        "campaign": "活动区间",
        "rewards": "兑换商城",
        "coffee": "咖啡券",
        "lunch": "午餐券",
        "can": "可兑换",
        "redeem": "兑换",
        "confirm": "确认",
        "cancel": "取消并退回积分",
        "received": "申请已提交",
        "cancelled": "已取消",
        "expired_empty": "你的积分都没有过期",
    },
    "en": {
        "hello": "Hello, ",
        "rule": "rule “",
        "history": "Full history",
        "board": "Leaderboard",
        "tabs": ["Week", "Month", "Quarter", "Year", "All time"],
        "campaign": "Campaign",
        "rewards": "Rewards",
        "coffee": "Coffee voucher",
        "lunch": "Lunch voucher",
        "can": "You can redeem",
        "redeem": "Redeem",
        "confirm": "Confirm",
        "cancel": "Cancel and get my points back",
        "received": "Request received",
        "cancelled": "Cancelled",
        "expired_empty": "None of your points have expired",
    },
}


def open_tab(me: Visit, label: str) -> None:
    me.page.locator("nav.nav a", has_text=label).first.click()
    me.page.wait_for_load_state()


@pytest.mark.parametrize(("locale", "device", "who"), [("zh_CN", "phone", 0), ("en", "desktop", 1)])
def test_employee_sees_why_ranks_redeems_cancels_and_filters(
    site: Site, login: Login, locale: str, device: str, who: int
) -> None:
    w = WORDS[locale]
    me = login(site.employees[who], locale, device)
    page = me.page

    # Home: greeting, and every recent point says which rule (by title) gave it.
    assert me.h1().startswith(w["hello"])
    metas = page.locator(".entries .entry-meta").all_inner_texts()
    assert any(w["rule"] in meta for meta in metas), metas  # rules by title…
    assert not any(rule_id in meta for meta in metas for rule_id in RULE_IDS), metas  # …not id
    me.fits()

    # Why a point: the full history explains each line too.
    page.locator("a", has_text=w["history"]).click()
    page.wait_for_url("**/history")
    assert page.locator(".entries .entry").count() > 0

    # The board, period by period: each tab applies at once and shows a board.
    open_tab(me, w["board"])
    for label in w["tabs"]:
        page.locator(".period-tabs a", has_text=re.compile(f"^{label}$")).click()
        page.wait_for_load_state()
        expect(page.locator(".period-tabs a.active")).to_have_text(label)
        assert me.h1() == w["board"]
        me.fits()
    # The top three stand on a podium; a campaign shows its dates at once.
    expect(page.locator(".podium li")).to_have_count(3)
    page.locator(".period-tabs a", has_text=w["campaign"]).click()
    expect(page.locator("input[name=from]")).to_have_value(re.compile(r"\d{4}-\d{2}-01"))
    expect(page.locator("input[name=to]")).to_be_visible()
    # By department: choosing the scope applies without a button.
    scope = page.locator("select[name=scope]")
    department = scope.locator("option").nth(1).get_attribute("value")
    assert department and department.startswith("department:")
    scope.select_option(department)
    expect(page).to_have_url(re.compile(f"scope={department.replace(':', '%3A')}"))
    me.settle()

    # Find myself: the "me" card says my rank and what the next rank takes.
    page.locator(".period-tabs a", has_text=re.compile(f"^{w['tabs'][1]}$")).click()
    card = page.locator("[data-testid=me-card]")
    expect(card).to_be_visible()
    assert re.search(r"#\d+", card.inner_text())

    # Redeem a coffee: the voucher code is there at once.
    open_tab(me, w["rewards"])
    page.locator(".reward-card", has_text=w["coffee"]).filter(has_text=w["can"]).click()
    page.locator("[data-testid=redeem]").click()
    page.locator("[data-testid=confirm]").click()
    page.wait_for_url(re.compile(r"/rewards/mine/\d+"))
    expect(page.locator("[data-testid=voucher-code] code")).to_have_text(re.compile("XH-COFFEE"))

    # Ask for a lunch voucher (handed over by HR), then change my mind.
    open_tab(me, w["rewards"])
    page.locator(".reward-card", has_text=w["lunch"]).filter(has_text=w["can"]).click()
    reward = me.h1()
    assert reward == w["lunch"]
    page.locator("[data-testid=redeem]").click()
    page.locator("[data-testid=confirm]").click()
    page.wait_for_url(re.compile(r"/rewards/mine/\d+"))
    assert w["received"] in me.flash()
    page.locator("summary", has_text=w["cancel"]).click()
    page.locator("[data-testid=confirm-cancel]").click()
    page.wait_for_url(re.compile(r"done=cancelled"))
    assert w["cancelled"] in me.flash()

    # History filters: the redemption is one line, marked returned; expiry has its own empty state.
    me.go("/history")
    page.locator("select[name=kind]").select_option("redeemed")
    me.settle()
    first = page.locator(".entries .entry").first
    expect(first).to_contain_text(reward)
    expect(first).to_have_class(re.compile("returned"))
    page.locator("select[name=kind]").select_option("expired")
    me.settle()
    expect(page.locator("[data-testid=empty]")).to_contain_text(w["expired_empty"])
    me.finish("employee")
