"""Journeys in a real browser: the demo company served live, Chromium at phone and desktop size.

Every test in this folder drives Debian's Chromium through Playwright against one demo
database per test process (SQLite, like ``points demo``), served by uvicorn on a loopback
port. The tests share one xdist group, so they run in one process, one after another, and
the demo is built once. A failing test leaves a screenshot of each of its pages in
``build/journeys/failures/``; each journey writes its last step at phone size to
``build/journeys/`` (see README, "Run the tests").
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from sqlmodel import col, select

from points.db import Database
from points.devtools.demo.build import build_demo
from points.ledger.models import Account, AccountKind
from points.org import service as org
from points.org.models import Employee, RoleAssignment
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
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(os.environ.get("POINTS_JOURNEY_SHOTS", ROOT / "build" / "journeys"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 768}
DEVICES = {"phone": PHONE, "desktop": DESKTOP}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.browser)
            # One process runs every browser test, so the demo and Chromium start once.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@dataclass
class Site:
    """The served demo and who is who in it."""

    base: str
    db_url: str
    admin: str
    hr: str
    heads: dict[str, str]  # head userid -> department name
    employees: list[str]  # people without a role, most points to spend first
    teams: dict[str, list[str]]  # head userid -> their people without a role, savers first
    balances: dict[str, int]  # available points of the people in ``employees``


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _seed(
    url: str,
) -> tuple[str, str, dict[str, str], list[str], dict[str, list[str]], dict[str, int]]:
    settings = make_settings(url)
    await build_demo(settings, employees=80, days=90, seed=7)
    db = Database(settings)
    try:
        async with db.session() as session:
            departments = {d.id: d.name for d in await org.list_departments(session)}
            admin, hr, heads = "", "", {}
            for employee, assignment in await org.people_with_roles(session):
                if assignment.role == "admin":
                    admin = employee.userid
                elif assignment.role == "hr" and not hr:
                    hr = employee.userid
                elif assignment.role == "head":
                    heads[employee.userid] = departments.get(assignment.department_id, "")
            # People without a role, best savers first (journeys that redeem take the first).
            with_roles = select(RoleAssignment.employee_id)
            rows = await session.exec(
                select(Employee.userid, Account.balance)
                .join(Account, col(Account.employee_id) == col(Employee.id))
                .where(
                    Account.kind == AccountKind.available,
                    col(Employee.id).not_in(with_roles),
                    col(Employee.excluded).is_(False),
                )
                .order_by(col(Account.balance).desc(), col(Employee.id))
            )
            balances = dict(rows.all())
            employees = list(balances)
            # Each head's team members, best savers first (their own and sub-departments).
            head_of = {
                a.department_id: e.userid
                for e, a in await org.people_with_roles(session)
                if a.role == "head"
            }
            teams: dict[str, list[str]] = {}
            for userid in employees:
                person = await org.get_employee(session, userid)
                chain = await org.department_chain(session, person.department_id)
                for department in reversed(chain):
                    if department.id in head_of:
                        teams.setdefault(head_of[department.id], []).append(userid)
                        break
    finally:
        await db.dispose()
    return admin, hr, heads, employees, teams, balances


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('journeys') / 'demo.db'}"
    admin, hr, heads, employees, teams, balances = asyncio.run(_seed(url))
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(make_settings(url)), host="127.0.0.1", port=port, log_level="warning"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield Site(f"http://127.0.0.1:{port}", url, admin, hr, heads, employees, teams, balances)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Per test, not per session: Playwright's sync API keeps an event loop running in
    # this thread while it is open, which would break the async tests that this
    # process runs next.
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Visit:
    """One person's browser tab: logged in, in one language, at one screen size."""

    page: Page
    base: str
    locale: str
    device: str
    errors: list[str] = field(default_factory=list)

    def go(self, path: str) -> int:
        response = self.page.goto(self.base + path)
        assert response is not None, path
        return response.status

    def path(self) -> str:
        return self.page.url.removeprefix(self.base)

    def h1(self) -> str:
        return self.page.locator("main h1").first.inner_text().strip()

    def text(self) -> str:
        return self.page.locator("main").inner_text()

    def flash(self) -> str:
        return self.page.locator(".flash").first.inner_text().strip()

    def fits(self) -> None:
        """Nothing spills sideways (the phone check of every step)."""
        width = self.page.evaluate("document.documentElement.scrollWidth")
        viewport = DEVICES[self.device]["width"]
        assert width <= viewport, f"{self.path()} is {width}px wide on a {viewport}px screen"

    def settle(self) -> None:
        """Wait until htmx has swapped in what it asked for."""
        self.page.wait_for_load_state("networkidle")
        self.page.wait_for_function("!document.querySelector('.htmx-request')")

    def no_errors(self) -> None:
        assert not self.errors, f"console errors: {self.errors}"

    def finish(self, name: str) -> None:
        """The journey's last step, kept as a screenshot at phone size."""
        self.no_errors()
        self.fits()
        if self.device == "phone":
            SHOTS.mkdir(parents=True, exist_ok=True)
            self.page.screenshot(path=str(SHOTS / f"{name}-{self.locale}.png"), full_page=True)


Login = Callable[..., Visit]


@pytest.fixture
def login(site: Site, browser: Browser, request: pytest.FixtureRequest) -> Iterator[Login]:
    """``login(userid, locale="zh_CN", device="phone")``: a tab where that person is in."""
    contexts = []
    visits: list[Visit] = []

    def open_as(userid: str, locale: str = "zh_CN", device: str = "phone") -> Visit:
        context = browser.new_context(
            viewport=DEVICES[device],  # type: ignore[arg-type]
            locale="zh-CN" if locale == "zh_CN" else "en-US",
            is_mobile=device == "phone",
            has_touch=device == "phone",
            # wait_for_function evaluates a string, which the page's CSP (no eval) refuses.
            bypass_csp=True,
        )
        context.add_cookies([{"name": "points_lang", "value": locale, "url": site.base}])
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        visit = Visit(page, site.base, locale, device)

        def on_console(message: ConsoleMessage) -> None:
            # A form sent back with its problems answers 422 by design; Chromium logs it.
            if message.type == "error" and "status of 422" not in message.text:
                visit.errors.append(f"{visit.path()}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: visit.errors.append(f"{visit.path()}: {error}"))
        visit.go("/login")
        page.locator("form.stack input[name=userid]").fill(userid)
        page.locator("form.stack button[type=submit]").click()
        page.wait_for_url(re.compile(r"^(?!.*/login).*$"))
        visits.append(visit)
        return visit

    yield open_as
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        folder = SHOTS / "failures"
        folder.mkdir(parents=True, exist_ok=True)
        for index, visit in enumerate(visits):
            if visit.page.is_closed():
                continue
            name = f"{request.node.name}-{index}.png".replace("/", "_")
            visit.page.screenshot(path=str(folder / name), full_page=True)
    for context in contexts:
        with contextlib.suppress(Exception):  # a journey may have closed it already
            context.close()
