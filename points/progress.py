"""What a person is close to: the next streak badge and the next level.

Read from the active rules (streak rules and their badges), the person's stored
streaks, and the level ladder, so home can say "再连续 3 天得「打卡之星」".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import yaml
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import RuleStreak
from points.rulesets.service import active_version
from rules.periods import day_ordinal, week_ordinal


@dataclass(frozen=True)
class StreakGoal:
    rule_id: str
    title: str
    title_en: str
    badge: str
    unit: str  # "days" or "weeks"
    target: int  # the streak length that earns the bonus
    length: int  # the run so far (0 once broken)

    @property
    def remaining(self) -> int:
        return self.target - self.length % self.target

    @property
    def progress(self) -> int:
        return 100 * (self.length % self.target) // self.target


def streak_rules(source: str) -> list[tuple[str, str, str, str, str, int]]:
    """(id, title, English title, badge, unit, target) of the enabled streak rules."""
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError:
        return []
    rules = document.get("rules", []) if isinstance(document, dict) else document
    found = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict) or rule.get("enabled") is False:
            continue
        streak = rule.get("streak")
        if not isinstance(streak, dict) or not isinstance(rule.get("id"), str):
            continue
        for unit in ("days", "weeks"):
            target = streak.get(unit)
            if isinstance(target, int) and target > 1:
                title = str(rule.get("title") or rule["id"])
                found.append(
                    (
                        rule["id"],
                        title,
                        str(rule.get("title_en") or title),
                        str(rule.get("badge") or ""),
                        unit,
                        target,
                    )
                )
    return found


async def streak_goals(session: AsyncSession, employee_id: int, today: date) -> list[StreakGoal]:
    """The person's runs towards each streak bonus of the active rules."""
    version = await active_version(session)
    if version is None:
        return []
    rules = streak_rules(version.source)
    if not rules:
        return []
    stored = {
        s.rule_id: s
        for s in (
            await session.exec(select(RuleStreak).where(RuleStreak.employee_id == employee_id))
        ).all()
    }
    now = {"days": day_ordinal(today), "weeks": week_ordinal(today)}
    goals = []
    for rule_id, title, title_en, badge, unit, target in rules:
        state = stored.get(rule_id)
        # A run is alive if it moved this period or the one before; otherwise it restarts.
        alive = state is not None and state.last_period >= now[unit] - 1
        length = state.length if alive and state is not None else 0
        goals.append(StreakGoal(rule_id, title, title_en, badge, unit, target, length))
    return goals
