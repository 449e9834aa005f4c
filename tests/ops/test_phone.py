"""The new pages on a phone-sized screen, in Chinese, in a real browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.support.browser import CHROMIUM, CHROMIUM_FLAGS

pytestmark = pytest.mark.browser


def test_a_head_files_an_appeal_and_reads_the_privacy_notice_on_a_phone(
    served_demo: tuple[str, str], tmp_path: Path
) -> None:
    base, head = served_demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
            page.goto(f"{base}/login")
            page.locator("a", has_text="隐私说明").click()
            page.wait_for_url(f"{base}/privacy")
            assert page.locator("h1").inner_text() == "隐私说明"
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.goto(f"{base}/login")
            page.locator(f'form:has(input[value="{head}"]) button').click()
            page.wait_for_url(f"{base}/")
            page.locator("a", has_text="提交申诉").first.click()
            page.wait_for_url(f"{base}/appeals/new")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.fill("textarea[name=message]", "周一按时提交了报销审批，没有积分")
            page.locator("button", has_text="提交给 HR").click()
            page.wait_for_url(f"{base}/appeals/*?filed=1")
            assert "申诉已提交" in page.locator(".flash").inner_text()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
            page.screenshot(path=str(tmp_path / "appeal-phone.png"), full_page=True)
            # A head has six places to go: on a phone 申诉 is under 更多 (More).
            page.locator("nav.nav a", has_text="更多").click()
            page.locator(".more-list a", has_text="申诉").click()
            page.wait_for_url(f"{base}/appeals")
            assert page.locator("[data-testid=appeals] li").count() == 1
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
