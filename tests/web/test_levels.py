"""Levels from all-time points, the ladder HR sets, and streak progress on home."""

from __future__ import annotations

from datetime import date

import httpx

from points.ledger.models import RuleStreak
from points.levels.service import DEFAULT_LADDER, Rung, check_ladder, standing
from points.progress import streak_goals, streak_rules
from points.rulesets.service import ensure_active
from rules.loader import DEFAULT_RULES_PATH
from rules.periods import day_ordinal
from tests.support.factories import csrf_from, login
from tests.support.org import Org
from tests.support.services import Store

LADDER = [Rung(*rung) for rung in DEFAULT_LADDER]


def test_a_level_follows_all_time_points_with_the_gap_to_the_next() -> None:
    first = standing(LADDER, 0)
    assert (first.number, first.level.name, first.to_next, first.progress) == (1, "新手", 50, 0)
    middle = standing(LADDER, 100)
    assert (middle.number, middle.level.name, middle.next and middle.next.name) == (
        2,
        "熟手",
        "达人",
    )
    assert (middle.to_next, middle.progress) == (50, 50)
    top = standing(LADDER, 5000)
    assert (top.next, top.to_next, top.progress, top.level.label("en")) == (
        None,
        None,
        100,
        "Master",
    )


def test_a_ladder_must_start_at_zero_rise_and_name_each_level() -> None:
    assert check_ladder(LADDER) == {}
    assert set(check_ladder([Rung(10, "新手", ""), Rung(5, "", "")])) == {0, 1}
    assert check_ladder([]) != {}


async def test_home_says_the_level_and_the_next_streak_badge(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    today = date.today()
    async with pg.db.session() as session:
        await ensure_active(session)
        assert org.employee.id is not None
        session.add(
            RuleStreak(
                employee_id=org.employee.id,
                rule_id="checkin-streak-5",
                last_period=day_ordinal(today),
                length=2,
            )
        )
        await session.commit()
        goals = {g.rule_id: g for g in await streak_goals(session, org.employee.id, today)}
    assert (
        goals["checkin-streak-5"].remaining == 3 and goals["checkin-streak-5"].badge == "打卡之星"
    )
    await login(client, org.employee.userid)
    home = await client.get("/")
    assert 'data-testid="level"' in home.text and "新手" in home.text
    assert "再连续 3 天得「打卡之星」" in home.text


def test_streak_rules_are_read_from_the_rule_file() -> None:
    found = streak_rules(DEFAULT_RULES_PATH.read_text("utf-8"))
    assert found[0][:2] == ("checkin-streak-5", "连续按时打卡") and found[0][4:] == ("days", 5)


async def test_hr_sets_the_ladder_with_mistakes_said_per_row(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.hr.userid)
    page = await client.get("/rules/levels")
    assert page.status_code == 200 and 'value="新手"' in page.text
    token = csrf_from(page.text)
    bad = await client.post(
        "/rules/levels",
        data={
            "csrf_token": token,
            "min_points_0": "0",
            "name_0": "见习",
            "min_points_1": "0",
            "name_1": "正式",
        },
    )
    assert bad.status_code == 422
    assert 'data-testid="error-level-1"' in bad.text and 'value="见习"' in bad.text
    saved = await client.post(
        "/rules/levels",
        data={
            "csrf_token": token,
            "min_points_0": "0",
            "name_0": "见习",
            "name_en_0": "Trainee",
            "min_points_1": "20",
            "name_1": "正式",
        },
    )
    assert saved.status_code == 303
    await login(client, org.employee.userid)
    home = await client.get("/")
    assert "见习" in home.text and "再得 20 分升到「正式」" in home.text
