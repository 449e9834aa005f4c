"""HR keeps the working-day calendar on a phone; a person sees their milestone tiers."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.support.journeys import Login, Site

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_hr_imports_a_calendar_fixes_a_bad_line_and_removes_a_day(site: Site, login: Login) -> None:
    hr = login(site.hr, "zh_CN", "phone")
    page = hr.page
    hr.go("/rules")
    page.locator("nav.rule-tabs a", has_text="工作日历").click()
    expect(page.locator("main h1")).to_have_text("工作日历")

    # The demo ships 2026 as published: National Day is listed, with its make-up Saturday.
    hr.go("/rules/calendar?year=2026")
    expect(page.locator("[data-day='2026-10-01'][data-kind=off]")).to_contain_text("国庆节")
    expect(page.locator("[data-day='2026-10-10'][data-kind=work]")).to_contain_text("调休上班")
    hr.fits()

    # An import with a bad line: refused in Chinese with the line, what was typed kept.
    text = "2028-01-01,休,元旦\n2028-01-32,休,不存在\n"
    hr.go("/rules/calendar?year=2028")
    expect(page.locator("[data-testid=calendar-empty]")).to_be_visible()
    page.locator("[data-testid=calendar-text]").fill(text)
    page.locator("[data-testid=import-calendar]").click()
    expect(page.locator("[data-testid=form-error]")).to_contain_text("第 2 行")
    expect(page.locator("[data-testid=calendar-text]")).to_have_value(text)
    page.locator("[data-testid=calendar-text]").fill("2028-01-01,休,元旦\n2028-01-29,班,春节补班\n")
    page.locator("[data-testid=import-calendar]").click()
    expect(page.locator(".flash.ok")).to_contain_text("日历已导入")
    expect(page.locator("[data-testid=calendar-day]")).to_have_count(2)

    # One day removed: it follows the ordinary week again.
    page.locator("[data-day='2028-01-29'] button").click()
    expect(page.locator(".flash.ok")).to_contain_text("已删除")
    expect(page.locator("[data-testid=calendar-day]")).to_have_count(1)
    hr.finish("hr-calendar")


def _sharer(site: Site) -> tuple[str, float, str]:
    """Someone without a role who reached the first 分享达人 tier, their count, and the
    local day of that award (history is paged: the journey filters to that day)."""
    path = site.db_url.split(":///", 1)[1]
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT e.userid, p.state FROM rule_progress p JOIN employee e ON e.id = p.employee_id"
            " WHERE p.rule_id = 'doc-shared-milestones'"
        ).fetchall()
        counts = {u: json.loads(s)["total"] for u, s in rows if u in site.employees}
        userid = max(counts, key=lambda u: (10 <= counts[u] < 50, counts[u]))
        [(moment,)] = db.execute(
            "SELECT t.effective_at FROM ledger_transaction t JOIN employee e"
            " ON e.id = t.employee_id WHERE e.userid = ? AND t.rule_id = 'doc-shared-milestones'"
            " AND t.once_value = '10' AND t.kind = 'award'",
            (userid,),
        ).fetchall()
    assert counts[userid] >= 10, counts
    day = datetime.fromisoformat(str(moment)).replace(tzinfo=UTC).astimezone(SHANGHAI).date()
    return userid, counts[userid], day.isoformat()


def test_a_person_sees_their_milestone_tier_and_why_they_got_it(site: Site, login: Login) -> None:
    userid, count, day = _sharer(site)
    me = login(userid, "zh_CN", "phone")
    page = me.page
    card = page.locator("[data-testid=milestone][data-rule=doc-shared-milestones]")
    expect(card).to_contain_text("分享文档")
    expect(card.locator("[data-testid=tier][data-reached=yes]").first).to_contain_text("铜牌")
    if count < 50:
        expect(card.locator("[data-testid=tier][data-reached=no]").first).to_contain_text("银牌")
        expect(card).to_contain_text(f"再 {50 - count:g} 即得银牌")
    me.fits()
    # The history says which level and tier the bonus was for.
    me.go(f"/history?since={day}&until={day}")
    expect(page.locator("main")).to_contain_text("第 10 次分享文档 · 铜牌")
    me.finish("milestone-tiers")

    # The same in English.
    en = login(userid, "en", "phone")
    card = en.page.locator("[data-testid=milestone][data-rule=doc-shared-milestones]")
    expect(card.locator("[data-testid=tier][data-reached=yes]").first).to_contain_text("bronze")
    en.go(f"/history?since={day}&until={day}")
    expect(en.page.locator("main")).to_contain_text("10th shared document · bronze")
    en.finish("milestone-tiers")
