"""Review before award and department challenges, at phone size: HR accepts a pending
award and the person sees it move from pending to their balance; a head follows a team
goal's progress on the dashboard."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from datetime import date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from points.db import Database
from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from points.rulesets.service import activate, ensure_active, save_draft
from tests.support.journeys import Login, Site
from tests.support.services import make_settings

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
CASE = "journey-case-1"


def in_thread(work: Callable[[], Awaitable[T]]) -> T:
    """Run async database work beside the browser (Playwright holds this thread's loop)."""
    found: list[T] = []
    thread = threading.Thread(target=lambda: found.append(asyncio.run(work())))  # type: ignore[arg-type]
    thread.start()
    thread.join(timeout=60)
    assert found, "the database work did not finish"
    return found[0]


def extra_rules(department: str) -> str:
    start = date.today() - timedelta(days=10)
    return f"""
- id: journey-case
  title: 最佳实践案例
  title_en: Best-practice case
  when: doc.shared
  if: doc_id == "{CASE}"
  points: 40
  review: {{by: hr, expires: 14d}}
- id: journey-team
  title: 线上审批挑战
  title_en: Online approvals challenge
  points: 30
  team_goal:
    departments: [{department}]
    when: approval.submitted
    measure: participation
    target: 50%
    window: {{from: {start.isoformat()}, days: 30}}
"""


@pytest.fixture
def reviewed_site(site: Site) -> Iterator[tuple[str, str]]:
    """The demo with two more rules active (restored after): returns (earner, head)."""
    earner = site.employees[3]
    head = sorted(site.heads)[0]

    async def setup() -> int:
        settings = make_settings(site.db_url)
        db = Database(settings)
        try:
            async with db.session() as session:
                previous = await ensure_active(session)
                source = previous.source.rstrip() + "\n"  # the demo's rules: a bare list
                draft = await save_draft(
                    session, source=source + extra_rules(site.heads[head]), author="journey"
                )
                await activate(session, version_id=draft.id or 0, author="journey")
                await session.commit()
                assert previous.id is not None
                event = EventIn(
                    external_id=f"{CASE}:{earner}",
                    type="doc.shared",
                    actor=earner,
                    occurred_at=datetime.now(SHANGHAI) - timedelta(minutes=5),
                    attributes={"doc_id": CASE, "title": "客户回访最佳实践"},
                )
                await ingest(session, "api", [event])
                await commit(session, InlineQueue(settings, db))
                return previous.id
        finally:
            await db.dispose()

    previous = in_thread(setup)
    yield earner, head

    async def restore() -> None:
        db = Database(make_settings(site.db_url))
        try:
            async with db.session() as session:
                await activate(session, version_id=previous, author="journey")
                await session.commit()
        finally:
            await db.dispose()

    in_thread(restore)


def test_hr_accepts_a_pending_award_and_the_person_sees_it_reach_the_balance(
    site: Site, login: Login, reviewed_site: tuple[str, str]
) -> None:
    earner, _head = reviewed_site
    person = login(earner, "zh_CN", "phone")
    mine = person.page.locator("[data-testid=my-reviews]")
    expect(mine).to_contain_text("待审核")
    expect(mine).to_contain_text("最佳实践案例")
    expect(person.page.locator("[data-testid=pending-points]")).to_contain_text("40 分")
    before = int(person.page.locator("[data-testid=available]").inner_text())
    person.fits()

    hr = login(site.hr, "zh_CN", "phone")
    hr.page.locator("nav.nav a", has_text="更多").click()
    hr.page.locator(".more-list a", has_text="待审核积分").click()
    award = hr.page.locator("[data-testid=pending-award]", has_text="最佳实践案例").first
    expect(award).to_contain_text("+40")
    hr.fits()
    award.locator("[data-testid=accept]").click()
    expect(hr.page.locator("[data-testid=flash]")).to_contain_text("已通过")
    hr.no_errors()

    person.go("/")
    expect(person.page.locator("[data-testid=available]")).to_have_text(str(before + 40))
    expect(person.page.locator("[data-testid=my-reviews]")).to_have_count(0)
    expect(person.page.locator(".entries").first).to_contain_text("最佳实践案例")
    person.finish("review-accepted")


def test_a_head_follows_a_team_goal_on_the_dashboard(
    site: Site, login: Login, reviewed_site: tuple[str, str]
) -> None:
    _earner, head = reviewed_site
    boss = login(head, "zh_CN", "phone")
    boss.page.locator("nav.nav a", has_text="看板").click()
    goal = boss.page.locator("[data-testid=team-goal]", has_text="线上审批挑战")
    expect(goal).to_contain_text(site.heads[head])
    expect(goal.locator("[data-testid=team-goal-figure]")).to_contain_text("参与率")
    expect(goal).to_contain_text("目标 50%")
    expect(goal).to_contain_text("30 分")
    boss.finish("team-goal")
