"""A department head: the dashboard per period → a member's page → approve and decline with
context → the department comparison → the pilot."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from playwright.sync_api import expect

from points.boards import departments
from tests.support.journeys import Login, Site

LEAVE = "带薪休假半天"
DAYS = [(date.today() + timedelta(days=8 + n)).isoformat() for n in range(2)]
PILOT_TEAM = "客户服务部"


def ask_for_leave(site: Site, login: Login, candidates: list[str], wanted: int) -> list[str]:
    """Team members ask for half a day of leave (the reward their head approves), each
    for a day a week or more ahead (DAYS), which their request then shows."""
    asked: list[str] = []
    for userid in candidates:
        member = login(userid, "zh_CN", "desktop")
        member.go("/rewards")
        member.page.locator(".reward-card", has_text=LEAVE).click()
        if member.page.locator("[data-testid=redeem]").count() == 0:
            member.page.context.close()
            continue  # cannot afford it or used this quarter's one
        member.page.locator("[data-testid=redeem]").click()
        day = DAYS[len(asked)]
        member.page.locator("input[name=leave_date]").fill(day)
        member.page.locator("[data-testid=confirm]").click()
        member.page.wait_for_url(re.compile(r"done=redeemed"))
        expect(member.page.locator("[data-testid=leave-date]")).to_contain_text(day)
        member.page.context.close()
        asked.append(userid)
        if len(asked) == wanted:
            break
    assert len(asked) == wanted, "the demo has too few team members who can ask for leave"
    return asked


def test_head_reads_the_dashboard_opens_a_member_and_decides_requests(
    site: Site, login: Login, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = {*site.employees[:2], site.employees[-1]}
    # The head of the demo's pilot team (客户服务部), whose people can afford the leave.
    head, team = max(
        (
            (h, [u for u in t if u not in taken and site.balances[u] >= 130])
            for h, t in site.teams.items()
        ),
        key=lambda pair: (len(pair[1]) >= 2, site.heads[pair[0]] == PILOT_TEAM),
    )
    first, _second = ask_for_leave(site, login, team, 2)

    boss = login(head, "zh_CN", "phone")
    page = boss.page
    # The dashboard, period by period: each tab applies at once; comparisons are fair.
    page.locator("nav.nav a", has_text="看板").click()
    for label in ("周", "季度", "月"):
        page.locator(".period-tabs a", has_text=re.compile(f"^{label}$")).click()
        expect(page.locator(".period-tabs a.active")).to_have_text(label)
        assert boss.h1().startswith("看板")
        expect(page.locator("[data-testid=compare-note]")).to_contain_text("同一时段")
        boss.fits()

    # A member's page: figures and history, no adjustment form.
    page.locator("a", has_text="成员列表").click()
    page.locator(f'.people a[href="/people/{first}"]').click()
    expect(page.locator("main h2", has_text="积分明细")).to_be_visible()
    assert page.locator("input[name=points]").count() == 0
    assert page.locator(".entries .entry").count() > 0

    # Approvals with context: when it was asked, what is left, the quota.
    # On a phone 审批 sits under 更多 (a head has six places to go).
    page.locator("nav.nav a", has_text="更多").click()
    page.locator(".more-list a", has_text="审批").click()
    mine = page.locator("[data-testid^=approval-]", has_text=DAYS[0])
    expect(mine.first).to_contain_text(f"休假日期：{DAYS[0]}")
    expect(mine.first).to_contain_text("剩余")
    expect(mine.first).to_contain_text("上限 1 次")
    names = page.locator("[data-testid^=approval-] strong").all_inner_texts()
    assert len(names) >= 2
    mine.first.locator("[data-testid=approve]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("已批准")
    request = page.locator("[data-testid^=approval-]", has_text=DAYS[1]).first
    expect(request).to_contain_text(f"休假日期：{DAYS[1]}")
    request.locator("input[name=reason]").fill("本周项目上线，请改到下周")
    request.locator("[data-testid=decline]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("已拒绝")
    boss.fits()

    # The department comparison on the board.
    page.locator("nav.nav a", has_text="排行榜").click()
    page.locator("select[name=view]").select_option("departments")
    expect(page.locator("table tbody tr").first).to_be_visible()
    boss.settle()
    boss.fits()
    # A large company's hundreds of departments: the leading ones and one's own, the rest
    # a tap away (the limit scaled down to the demo's size).
    monkeypatch.setattr(departments, "SHOWN_DEPARTMENTS", 2)
    boss.go(boss.path())
    more = page.locator("p.more-departments")
    expect(more).to_contain_text("个部门，显示其中")
    shown = page.locator("table tbody tr").count()
    more.locator("a", has_text="显示全部部门").click()
    expect(page.locator("p.more-departments")).to_have_count(0)
    assert page.locator("table tbody tr").count() > shown
    boss.fits()

    # The pilot: goals say their unit and direction.
    boss.go("/dashboard/pilots")
    page.locator(".card a", has_text="试点").first.click()
    goals = page.locator("[data-testid=goal]")
    expect(goals.filter(has_text="审批效率提升 30%")).to_contain_text("减少 30%")
    expect(goals.filter(has_text="报销审批线上化")).to_be_visible()
    boss.finish("head")
