"""What a person is close to: the next streak badge, milestone tier and level.

Read from the active rules (streak and milestone rules and their badges), the
person's stored streaks and rule progress, and the level ladder, so home can say
"再连续 3 天得「打卡之星」" and show 分享达人 铜牌 ✓ 银牌 (12 / 50).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import yaml
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import RuleProgress, RuleStreak
from points.rulesets.service import compiled, shown_version
from points.shared_reads import shared
from points.workdays.service import work_calendar
from rules.milestones import Level
from rules.periods import day_ordinal, week_ordinal


@dataclass(frozen=True)
class StreakGoal:
    rule_id: str
    title: str
    title_en: str
    badge: str
    unit: str  # "days", "weeks" or "workdays"
    target: int  # the streak length that earns the bonus
    length: int  # the run so far (0 once broken)

    @property
    def remaining(self) -> int:
        return self.target - self.length % self.target

    @property
    def progress(self) -> int:
        return 100 * (self.length % self.target) // self.target


@lru_cache(maxsize=8)
def streak_rules(source: str) -> tuple[tuple[str, str, str, str, str, int], ...]:
    """(id, title, English title, badge, unit, target) of the enabled streak rules.

    Cached by the rule text: parsing the YAML cost home more than everything else on it.
    """
    try:
        document = yaml.safe_load(source)
    except yaml.YAMLError:
        return ()
    rules = document.get("rules", []) if isinstance(document, dict) else document
    found = []
    for rule in rules if isinstance(rules, list) else []:
        if not isinstance(rule, dict) or rule.get("enabled") is False:
            continue
        streak = rule.get("streak")
        if not isinstance(streak, dict) or not isinstance(rule.get("id"), str):
            continue
        for unit in ("days", "weeks", "workdays"):
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
    return tuple(found)


async def streak_goals(session: AsyncSession, employee_id: int, today: date) -> list[StreakGoal]:
    """The person's runs towards each streak bonus of the active rules."""
    version = await shown_version(session)
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
    if any(unit == "workdays" for *_, unit, _target in rules):
        # The last working day up to today: a run is alive if it reached it or the one before.
        calendar = await shared(session, "work_calendar", lambda: work_calendar(session))
        day = today
        while calendar.ordinal(day) is None and (today - day).days < 40:
            day = date.fromordinal(day.toordinal() - 1)
        now["workdays"] = (calendar.ordinal(day) or 0) + (0 if day == today else 1)
    goals = []
    for rule_id, title, title_en, badge, unit, target in rules:
        state = stored.get(rule_id)
        # A run is alive if it moved this period or the one before; otherwise it restarts.
        alive = state is not None and state.last_period >= now[unit] - 1
        length = state.length if alive and state is not None else 0
        goals.append(StreakGoal(rule_id, title, title_en, badge, unit, target, length))
    return goals


@dataclass(frozen=True)
class MilestoneGoal:
    """A person's way up one milestone rule's tiers."""

    rule_id: str
    title: str
    title_en: str
    total: float
    levels: tuple[Level, ...]
    summed: bool

    def reached(self, level: Level) -> bool:
        return self.total >= level.at

    @property
    def next(self) -> Level | None:
        return next((lv for lv in self.levels if self.total < lv.at), None)

    @property
    def remaining(self) -> float:
        following = self.next
        return 0 if following is None else following.at - self.total

    @property
    def progress(self) -> int:
        """0…100 from the last tier reached to the next (100 at the top)."""
        following = self.next
        if following is None:
            return 100
        below = max((lv.at for lv in self.levels if lv.at <= self.total), default=0)
        return int(100 * (self.total - below) / (following.at - below))


async def milestone_goals(session: AsyncSession, employee_id: int) -> list[MilestoneGoal]:
    """The person's tiers on each milestone rule of the active rules (reached and next)."""
    version = await shown_version(session)
    if version is None:
        return []
    rules = [r for r in compiled(version).rules if r.milestone is not None]
    if not rules:
        return []
    states = {
        p.rule_id: p.state
        for p in (
            await session.exec(select(RuleProgress).where(RuleProgress.employee_id == employee_id))
        ).all()
    }
    goals = []
    for rule in rules:
        assert rule.milestone is not None
        total = states.get(rule.id, {}).get("total", 0)
        goals.append(
            MilestoneGoal(
                rule.id,
                rule.title,
                rule.title_en,
                total if isinstance(total, int | float) else 0,
                rule.milestone.levels,
                rule.milestone.sum_attribute is not None,
            )
        )
    return goals
