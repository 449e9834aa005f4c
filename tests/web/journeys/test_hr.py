"""HR: a rule edit with a typo → fix → simulate → activate; a reward form with an error,
then saved; fulfilment; an adjustment; each export."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.support.journeys import Login, Site, Visit


def export(hr: Visit, link: str) -> str:
    """Click an export link; the CSV's first line (downloads are not pages)."""
    with hr.page.expect_download() as download:
        hr.page.locator("a", has_text=link).first.click()
    path = download.value.path()
    with open(path, encoding="utf-8-sig") as csv:
        return csv.readline()


def test_hr_changes_a_rule_stocks_a_reward_fulfils_adjusts_and_exports(
    site: Site, login: Login
) -> None:
    hr = login(site.hr, "zh_CN", "phone")
    page = hr.page

    # The phone's tab bar has four tabs and 更多 (More), where the rest are.
    assert page.locator("nav.nav a:visible").count() == 5
    page.locator("nav.nav a", has_text="更多").click()
    page.locator(".more-list a", has_text="规则").first.click()

    # A typo is caught as it is typed, in Chinese, with the fix suggested.
    page.locator("a", has_text="编辑").first.click()
    source = page.locator("#rule-source")
    original = source.input_value()
    assert "  points: 5\n" in original
    source.fill(original.replace("  points: 5\n", "  pionts: 6\n", 1))
    errors = page.locator("[data-testid=rule-errors]")
    expect(errors).to_contain_text("未知字段「pionts」")
    expect(errors).to_contain_text("是不是想写「points」")
    source.fill(original.replace("  points: 5\n", "  points: 6\n", 1))
    expect(page.locator("[data-testid=rule-ok]")).to_be_visible()
    page.locator("#rule-note").fill("按时提交审批改为 6 分")
    page.locator("button", has_text="保存为草稿").click()
    expect(page.locator(".flash.ok")).to_contain_text("草稿")

    # Simulate: the button shows it is working, then the comparison appears.
    page.locator("a.button", has_text="模拟").click()
    page.locator("[data-testid=simulate]").click()
    expect(page.locator("[data-testid=simulation]")).to_be_visible()
    page.locator("a.button", has_text=re.compile("^启用 v")).click()
    expect(page.locator("main h2", has_text="确认启用")).to_be_visible()
    page.locator("[data-testid=confirm-activate]").click()
    expect(page.locator(".flash.ok")).to_contain_text("已生效")

    # A reward with a mistake: said next to the field, what was typed is kept.
    hr.go("/fulfilment/catalogue/new")
    page.locator("input[name=name]").fill("双十二电影票")
    page.locator("input[name=name_en]").fill("Cinema ticket, 12.12")
    page.locator("input[name=price]").fill("20")
    page.locator("input[name=available_from]").fill("2026-12-12T10:00")
    page.locator("input[name=available_until]").fill("2026-12-01T10:00")
    page.locator("form.reward-form button[type=submit]").click()
    expect(page.locator("[data-testid=error-available_until]")).to_contain_text("结束时间")
    expect(page.locator("input[name=name]")).to_have_value("双十二电影票")
    page.locator("input[name=available_until]").fill("2026-12-31T22:00")
    page.locator("form.reward-form button[type=submit]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("奖品已保存")
    hr.fits()

    # Fulfil: nothing ticked is said above the list; one ticked is handed over.
    hr.go("/fulfilment")
    page.locator("[data-testid=fulfil]").click()
    expect(page.locator("[data-testid=form-error]")).to_contain_text("勾选")
    page.locator("input[name=ids]").first.check()
    page.locator("[data-testid=fulfil]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("已标记为发放")
    hr.fits()

    # An adjustment with a reason, found by the person's name.
    person = site.employees[5]
    hr.go(f"/people/{person}")
    name = hr.h1()
    page.locator("input[name=points]").fill("5")
    page.locator("input[name=reason]").fill("帮同事配置企业微信")
    page.locator("button", has_text="保存调整").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("调整已保存")
    latest = page.locator(".entries .entry").first
    expect(latest).to_contain_text("帮同事配置企业微信")
    me = page.locator("[data-testid=who]").inner_text().split()[0]
    expect(latest).to_contain_text(f"由 {me} 调整")  # by name, not userid
    assert hr.h1() == name

    # Each export: the board, the dashboard, the spending.
    hr.go("/boards")
    assert export(hr, "导出 CSV").strip()
    hr.go("/dashboard")
    assert export(hr, "导出 CSV").strip()
    hr.go("/fulfilment/spend")
    assert export(hr, "导出 CSV").strip()
    hr.go(f"/people/{person}")
    hr.finish("hr")
