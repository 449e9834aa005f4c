"""Onboarding quests (新手任务): a new joiner watches their checklist tick; a head sees
completion by department and nudges someone who is stuck."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import date, datetime, timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import col, select

from points.db import Database
from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from points.org.models import Department, Employee
from tests.support.journeys import Login, Site
from tests.support.services import make_settings


def _in_a_thread(work: object) -> object:
    """Run a coroutine to the end beside Playwright's own event loop."""
    found: list[object] = []
    thread = threading.Thread(target=lambda: found.append(asyncio.run(work)))  # type: ignore[arg-type]
    thread.start()
    thread.join()
    return found[0]


async def _joiners(url: str) -> dict[str, tuple[str, str, date]]:
    """New joiners of the demo: userid → (name, department, joined)."""
    db = Database(make_settings(url))
    try:
        async with db.session() as session:
            rows = await session.exec(
                select(Employee, Department)
                .join(Department, col(Department.id) == col(Employee.department_id))
                .where(col(Employee.joined_on) > date.today() - timedelta(days=28))
            )
            return {e.userid: (e.name, d.name, e.joined_on) for e, d in rows.all() if e.joined_on}
    finally:
        await db.dispose()


async def _score(url: str, event: EventIn) -> None:
    settings = make_settings(url)
    db = Database(settings)
    try:
        async with db.session() as session:
            await ingest(session, "journey", [event])
            await commit(session, InlineQueue(settings, db))
    finally:
        await db.dispose()


def _joiner_in(site: Site, department: str) -> tuple[str, str]:
    joiners = _in_a_thread(_joiners(site.db_url))
    assert isinstance(joiners, dict)
    return next((u, name) for u, (name, d, _j) in joiners.items() if d == department)


@pytest.mark.parametrize(
    ("locale", "device", "department", "done"),
    # The demo's 市场部 joiner has submitted an approval; the 行政部 one just arrived.
    [("zh_CN", "phone", "市场部", 1), ("en", "desktop", "行政部", 0)],
)
def test_a_new_joiner_sees_the_checklist_tick(
    site: Site, login: Login, locale: str, device: str, department: str, done: int
) -> None:
    userid, _name = _joiner_in(site, department)
    me = login(userid, locale, device)
    checklist = me.page.locator("[data-testid=onboarding]")
    expect(checklist).to_be_visible()
    expect(checklist.locator("h2")).to_contain_text(
        "新手任务" if locale == "zh_CN" else "Onboarding"
    )
    goals = checklist.locator("[data-testid=challenge-goal]")
    expect(goals).to_have_count(3)  # no customer goal outside sales
    met = "[data-met=yes]"
    expect(checklist.locator(met)).to_have_count(done)
    meeting = goals.nth(1)
    expect(meeting).to_have_attribute("data-met", "no")
    expect(meeting).to_contain_text("发起第一次会议" if locale == "zh_CN" else "first meeting")
    me.fits()

    # Their first meeting is scored (as WeCom's meeting pull would bring it in).
    _in_a_thread(
        _score(
            site.db_url,
            EventIn(
                external_id=f"journey:meeting:{userid}:{locale}",
                type="meeting.started",
                actor=userid,
                occurred_at=datetime.now().astimezone() - timedelta(minutes=5),
                attributes={"meeting_id": f"journey-{userid}-{locale}", "attendees": 3},
            ),
        )
    )
    me.page.reload()
    expect(goals.nth(1)).to_have_attribute("data-met", "yes")
    expect(checklist.locator(met)).to_have_count(done + 1)
    expect(checklist).to_contain_text(
        f"{done + 1} / 3" if locale == "zh_CN" else f"{done + 1} of 3 done"
    )
    me.finish("onboarding-joiner")


def test_a_head_sees_completion_by_department_and_nudges(site: Site, login: Login) -> None:
    stuck, name = _joiner_in(site, "华东区")
    head = next(h for h, department in site.heads.items() if department == "销售部")
    boss = login(head, "zh_CN", "phone")
    page = boss.page
    page.locator("nav.nav a", has_text="看板").click()
    page.locator("[data-testid=onboarding-link]").click()
    assert boss.h1() == "新手任务"
    rows = page.locator("[data-testid=department-row]")
    # Only the departments this head runs: 华东区 and 华南区 below 销售部.
    names = {t.split("\n")[0].strip() for t in rows.all_inner_texts()}
    assert names == {"华东区", "华南区"}, names
    expect(page.locator("[data-testid=by-department]")).to_contain_text("0%")
    person = page.locator(f'[data-testid=joiner][data-userid="{stuck}"]')
    expect(person).to_have_attribute("data-stuck", "yes")
    expect(person).to_contain_text(name)
    expect(person).to_contain_text("卡住了")
    boss.fits()
    person.locator("[data-testid=nudge]").click()
    expect(page.locator("[data-testid=flash]")).to_contain_text("提醒已发送")
    person = page.locator(f'[data-testid=joiner][data-userid="{stuck}"]')
    expect(person.locator("[data-testid=nudged]")).to_have_text("今天已提醒")
    assert person.locator("[data-testid=nudge]").count() == 0

    # The same page in English.
    page.goto(site.base + "/lang?to=en&next=/onboarding")
    expect(page.locator("main h1")).to_have_text("Onboarding quests")
    expect(page.locator("[data-testid=by-department]")).to_contain_text("Completion")
    assert re.search(r"East China|华东区", page.locator("main").inner_text())
    boss.finish("onboarding-head")
