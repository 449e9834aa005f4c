"""HR: from the rules page to where each activity comes from, in Chinese, on a phone."""

from __future__ import annotations

from playwright.sync_api import expect

from rules.catalog import BUILTIN_EVENT_TYPES
from tests.support.journeys import Login, Site


def test_hr_opens_the_activity_sources_from_the_rules_page(site: Site, login: Login) -> None:
    hr = login(site.hr, "zh_CN", "phone")
    page = hr.page
    hr.go("/rules")
    page.locator("nav.rule-tabs a", has_text="活动来源").click()
    expect(page.locator("main h1")).to_have_text("活动来源")
    table = page.locator("#activity-sources")
    expect(table.locator("thead")).to_contain_text("企业微信权限")
    expect(table.locator("tbody tr")).to_have_count(len(BUILTIN_EVENT_TYPES))
    customers = table.locator("#type-customer\\.added")
    expect(customers).to_contain_text("添加客户")
    expect(customers).to_contain_text("企业微信回调")
    expect(customers).to_contain_text("客户联系")
    meetings = table.locator("#type-meeting\\.started")
    expect(meetings).to_contain_text("企业微信接口拉取")
    expect(page.locator("main")).to_contain_text("企业微信不向自建应用报告成员分享或创建的文档")
    hr.finish("activity-sources")
