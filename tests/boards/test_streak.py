"""What a person sees about their own points: the streak is the one still running."""

from __future__ import annotations

from datetime import datetime

from points.boards.personal import person_figures
from points.ledger.models import RuleStreak
from rules.periods import day_ordinal, week_ordinal
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

NOW = datetime.fromisoformat("2026-11-27T10:00:00+08:00")


async def _streaks(store: Store, rows: list[tuple[str, int, int]]) -> int:
    async with store.db.session() as session:
        person = await make_employee(session, await make_department(session), userid="zhangsan")
        assert person.id is not None
        for rule_id, last_period, length in rows:
            session.add(
                RuleStreak(
                    employee_id=person.id, rule_id=rule_id, last_period=last_period, length=length
                )
            )
        await session.commit()
        figures = await person_figures(session, store.settings, person, now=NOW)
    return figures.current_streak


async def test_the_streak_shown_is_the_daily_one_still_running(pg: Store) -> None:
    today = day_ordinal(NOW)
    assert (
        await _streaks(
            pg,
            [
                ("checkin-daily", today - 1, 4),  # yesterday: still running
                ("docs-daily", today - 10, 9),  # broken ten days ago: not shown
                ("meetings-weekly", week_ordinal(NOW), 12),  # weeks, not days
            ],
        )
        == 4
    )


async def test_a_broken_streak_shows_none(lite: Store) -> None:
    assert await _streaks(lite, [("checkin-daily", day_ordinal(NOW) - 2, 7)]) == 0
