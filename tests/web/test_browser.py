"""A real browser logs in through the dev login on a phone-sized screen."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.browser


def test_dev_login_as_a_head_shows_the_chinese_home_on_a_phone(
    served_demo: tuple[str, str], tmp_path: Path
) -> None:
    base, head = served_demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(
                viewport={"width": 390, "height": 844}, locale="zh-CN", bypass_csp=True
            )
            page.goto(f"{base}/")
            assert page.url.startswith(f"{base}/login")
            assert page.locator("h1").inner_text() == "登录"
            page.locator(f'form:has(input[value="{head}"]) button').click()
            page.wait_for_url(f"{base}/")
            assert page.locator("h1").inner_text().startswith("你好，")
            nav = page.locator("nav.nav").inner_text()
            assert "我的积分" in nav and "看板" in nav and "审计日志" not in nav
            assert page.locator("[data-testid=who]").inner_text().find("主管") >= 0
            # Nothing spills sideways on a phone-sized screen.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390
            page.screenshot(path=str(tmp_path / "home-phone.png"), full_page=True)
            page.locator("nav.nav a", has_text="看板").click()
            page.wait_for_url(f"{base}/dashboard")
            assert page.locator("h1").inner_text().startswith("看板")
            assert page.locator("svg.chart").count() > 0
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            # The member list the dashboard supersedes is one tap away.
            page.locator("a", has_text="成员列表").click()
            page.wait_for_url(f"{base}/department**")
            assert page.locator(".people li").count() > 0
        finally:
            browser.close()
