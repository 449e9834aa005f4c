"""Where people stand in the active challenge rules (home, their page, the onboarding page).

Progress is read from the rule progress store the scorer keeps and the active rules;
nothing is recomputed from events. Onboarding quests (新手任务) are the challenge rules
whose window starts when the person joined (``starts: joined``): people who joined in
the last ``POINTS_ONBOARDING_DAYS`` see them as a checklist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.ledger.models import RuleProgress
from points.org.models import Employee
from points.org.service import shown_department_labels
from points.rulesets.service import compiled, shown_version
from points.settings import Settings
from rules import CompiledRule, CompiledRuleset, compile_ruleset, load_default_rules
from rules.challenges import ChallengeProgress, progress_of

__all__ = ["ChallengeProgress", "Standing", "challenge_rules", "is_new_joiner", "standing"]


@dataclass(frozen=True)
class Standing:
    """A person's challenges: the onboarding checklist (if new) and the others running."""

    onboarding: list[ChallengeProgress]
    others: list[ChallengeProgress]

    @property
    def onboarding_done(self) -> bool:
        return bool(self.onboarding) and all(p.done for p in self.onboarding)


async def challenge_rules(session: AsyncSession) -> list[CompiledRule]:
    """The active version's enabled challenge rules, in file order.

    Before anything was scored there is no active version yet: the shipped defaults,
    which scoring will make v1, are what people will be scored by.
    """
    version = await shown_version(session)
    ruleset = compiled(version) if version is not None else _defaults()
    return [r for r in ruleset.rules if r.challenge is not None]


@cache
def _defaults() -> CompiledRuleset:
    return compile_ruleset(load_default_rules())


def is_new_joiner(employee: Employee, settings: Settings, today: date) -> bool:
    """Joined ``POINTS_ONBOARDING_DAYS`` days ago or less (and not in the future)."""
    joined = employee.joined_on
    return joined is not None and today - timedelta(days=settings.ONBOARDING_DAYS) < joined <= today


def _applies(rule: CompiledRule, employee: Employee, labels: Sequence[str]) -> bool:
    if employee.excluded or employee.userid in rule.exclude:
        return False
    return not rule.departments or not rule.departments.isdisjoint(labels)


def _running(progress: ChallengeProgress, today: date) -> bool:
    if progress.start is None:
        return progress.starts == "first_event"  # opens with their first matching event
    return progress.end is not None and progress.start <= today <= progress.end


async def standings(
    session: AsyncSession,
    settings: Settings,
    employees: Sequence[Employee],
    today: date,
    rules: list[CompiledRule] | None = None,
) -> dict[int, Standing]:
    """Each person's standing (by employee id), in one read of the progress store."""
    rules = await challenge_rules(session) if rules is None else rules
    ids = [e.id for e in employees if e.id is not None]
    if not rules or not ids:
        return {i: Standing([], []) for i in ids}
    labels = await shown_department_labels(session)
    stored: dict[tuple[int, str], dict[str, object]] = {
        (row.employee_id, row.rule_id): row.state
        for row in (
            await session.exec(
                select(RuleProgress).where(
                    col(RuleProgress.employee_id).in_(ids),
                    col(RuleProgress.rule_id).in_([r.id for r in rules]),
                )
            )
        ).all()
    }
    found: dict[int, Standing] = {}
    for employee in employees:
        assert employee.id is not None
        mine = labels.get(employee.department_id, ())
        new = is_new_joiner(employee, settings, today)
        onboarding: list[ChallengeProgress] = []
        others: list[ChallengeProgress] = []
        for rule in rules:
            if not _applies(rule, employee, mine):
                continue
            progress = progress_of(
                rule, stored.get((employee.id, rule.id)), employee.joined_on, mine
            )
            if progress.starts == "joined":
                if new:
                    onboarding.append(progress)
            elif _running(progress, today):
                others.append(progress)
        found[employee.id] = Standing(onboarding, others)
    return found


async def standing(
    session: AsyncSession, settings: Settings, employee: Employee, today: date
) -> Standing:
    """One person's standing."""
    assert employee.id is not None
    return (await standings(session, settings, [employee], today))[employee.id]
