"""A real browser logs in through the dev login on a phone-sized screen."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from points.db import Database
from points.devtools.demo.company import build_company
from points.migrate import upgrade
from tests.support.services import IN_CI, make_settings
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The demo company served by uvicorn on a loopback port; yields (url, head userid)."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    settings = make_settings(url)

    async def seed() -> str:
        db = Database(settings)
        async with db.session() as session:
            company = await build_company(session, employees=40)
            await session.commit()
        await db.dispose()
        return company.heads[3]

    head = asyncio.run(seed())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", head
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_dev_login_as_a_head_shows_the_chinese_home_on_a_phone(
    served_demo: tuple[str, str], tmp_path: Path
) -> None:
    base, head = served_demo
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
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
