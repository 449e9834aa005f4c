"""Milestone tiers and working-day runs on the person's pages; the rules pages list them."""

from __future__ import annotations

from datetime import date, timedelta

import httpx

from points.ledger.models import RuleProgress, RuleStreak
from points.progress import milestone_goals, streak_goals
from points.workdays.service import Day, save_days
from rules.workdays import WorkCalendar
from tests.support.factories import login
from tests.support.org import Org
from tests.support.rulesets import use_rules
from tests.support.services import Store

RULES = """
- id: doc-shared-milestones
  title: 分享文档
  title_en: shared document
  when: doc.shared
  milestone:
    levels:
      - {at: 10, points: 10, badge: 分享达人·铜}
      - {at: 50, points: 30, badge: 分享达人·银}
- id: checkin-workdays-10
  title: 按时打卡
  title_en: On-time check-in
  when: checkin.recorded
  if: on_time
  streak: {workdays: 10}
  points: 20
  badge: 全勤之星
"""


async def test_home_shows_tiers_reached_and_the_next_one(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await use_rules(pg, RULES)
    assert org.employee.id is not None
    async with pg.db.session() as session:
        session.add(
            RuleProgress(
                employee_id=org.employee.id, rule_id="doc-shared-milestones", state={"total": 12}
            )
        )
        await session.commit()
        [goal] = await milestone_goals(session, org.employee.id)
    assert (goal.total, goal.next and goal.next.tier, goal.remaining) == (12, "银牌", 38)
    assert goal.progress == 5
    await login(client, org.employee.userid)
    home = (await client.get("/")).text
    assert 'data-testid="milestones"' in home and 'data-reached="yes"' in home
    assert "再 38 即得银牌" in home and "分享达人·铜" in home
    client.cookies.set("points_lang", "en")
    assert "38 more for silver" in (await client.get("/")).text
    # HR sees the same tiers on the person's page, and the levels on the rules page.
    await login(client, org.hr.userid)
    client.cookies.set("points_lang", "zh_CN")
    person = (await client.get(f"/people/{org.employee.userid}")).text
    assert 'data-testid="milestones"' in person and "再 38 即得银牌" in person
    rules = (await client.get("/rules")).text
    assert 'data-testid="milestone-levels"' in rules and "50 · 银牌 · 分享达人·银 · +30" in rules
    assert "每连续 10 个工作日" in rules


async def test_a_working_day_run_survives_the_weekend_on_home(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    await use_rules(pg, RULES)
    assert org.employee.id is not None
    saturday = date(2026, 11, 28)
    friday = saturday - timedelta(days=1)
    async with pg.db.session() as session:
        await save_days(session, [Day(date(2026, 10, 1), "off", "国庆节")], actor="zhaoliu")
        ordinal = WorkCalendar.of([date(2026, 10, 1)]).ordinal(friday)
        assert ordinal is not None
        session.add(
            RuleStreak(
                employee_id=org.employee.id,
                rule_id="checkin-workdays-10",
                last_period=ordinal,
                length=4,
            )
        )
        await session.commit()
        [goal] = await streak_goals(session, org.employee.id, saturday)
        assert (goal.unit, goal.length, goal.remaining) == ("workdays", 4, 6)
        # Monday: still alive (nothing missed yet); Tuesday without Monday: broken.
        [monday] = await streak_goals(session, org.employee.id, saturday + timedelta(days=2))
        [tuesday] = await streak_goals(session, org.employee.id, saturday + timedelta(days=3))
    assert (monday.length, tuesday.length) == (4, 0)
