"""Storing the engine's per-person rule progress, and taking a revoked event's share out.

``rule_progress`` holds each person's state per rule (``ActorHistory.progress``);
``rule_progress_contribution`` holds what each scored event added to it
(:func:`rules.progress.contribution`). Revoking an event subtracts its
contributions once (the rows are marked as they are applied) and then asks each
rule which of the person's awards the lower state still deserves
(``CompiledRule.keeps``): a milestone level stays while the count stays at or
above it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for
from points.events.models import ActivityEvent
from points.ledger.models import (
    LedgerTransaction,
    RuleProgress,
    RuleProgressContribution,
    TransactionKind,
)
from rules import ActorHistory, CompiledRuleset
from rules.progress import Progress, contribution, withdraw

Key = tuple[int, str]  # (employee id, rule id)


async def load_progress(
    session: AsyncSession, histories: Mapping[int, ActorHistory], employee_ids: Sequence[int]
) -> None:
    """Fill each person's ``progress`` with their stored states."""
    if not employee_ids:
        return
    rows = await session.exec(
        select(RuleProgress).where(col(RuleProgress.employee_id).in_(list(employee_ids)))
    )
    for row in rows.all():
        histories[row.employee_id].progress[row.rule_id] = dict(row.state)


class ProgressWriter:
    """Collects one batch's state changes and contributions, then writes them at once."""

    def __init__(self) -> None:
        self.states: dict[Key, dict[str, Any]] = {}
        self.contributions: dict[tuple[int, str], tuple[int, dict[str, Any]]] = {}

    def note(
        self,
        employee_id: int,
        event_id: int,
        before: Mapping[str, Mapping[str, Any]],
        changes: Sequence[tuple[str, dict[str, Any]]],
    ) -> None:
        """Remember the states an event changed; call before recording them in history."""
        for rule_id, state in changes:
            self.states[(employee_id, rule_id)] = state
            delta = contribution(before.get(rule_id), state)
            if delta:
                self.contributions[(event_id, rule_id)] = (employee_id, delta)

    async def save(self, session: AsyncSession) -> None:
        await save_states(session, self.states)
        if not self.contributions:
            return
        values = [
            {"event_id": e, "rule_id": r, "employee_id": person, "delta": delta}
            for (e, r), (person, delta) in sorted(self.contributions.items())
        ]
        # Scoring an event twice never happens (events are scored once), but be safe.
        stmt = insert_for(session, RuleProgressContribution).values(values)
        await session.exec(stmt.on_conflict_do_nothing(index_elements=["event_id", "rule_id"]))


async def save_states(session: AsyncSession, states: Mapping[Key, dict[str, Any]]) -> None:
    """Upsert ``rule_progress`` rows."""
    if not states:
        return
    values = [
        {"employee_id": e, "rule_id": r, "state": state} for (e, r), state in sorted(states.items())
    ]
    stmt = insert_for(session, RuleProgress).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["employee_id", "rule_id"], set_={"state": stmt.excluded.state}
    )
    await session.exec(stmt)


async def withdraw_events(
    session: AsyncSession, event_ids: Sequence[int]
) -> dict[Key, dict[str, Any]]:
    """Take the contributions of these (revoked) events out; the states that changed.

    Each contribution is applied once: its row is marked withdrawn.
    """
    if not event_ids:
        return {}
    rows = (
        await session.exec(
            select(RuleProgressContribution).where(
                col(RuleProgressContribution.event_id).in_(list(event_ids)),
                col(RuleProgressContribution.withdrawn).is_(False),
            )
        )
    ).all()
    if not rows:
        return {}
    keys = sorted({(r.employee_id, r.rule_id) for r in rows})
    stored = {
        (p.employee_id, p.rule_id): dict(p.state)
        for p in (
            await session.exec(
                select(RuleProgress).where(
                    col(RuleProgress.employee_id).in_(sorted({k[0] for k in keys})),
                    col(RuleProgress.rule_id).in_(sorted({k[1] for k in keys})),
                )
            )
        ).all()
    }
    changed: dict[Key, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r.event_id, r.rule_id)):
        key = (row.employee_id, row.rule_id)
        changed[key] = withdraw(changed.get(key, stored.get(key)), row.delta)
    await save_states(session, changed)
    await session.exec(
        update(RuleProgressContribution)
        .where(col(RuleProgressContribution.event_id).in_(list(event_ids)))
        .values(withdrawn=True)
    )
    return changed


def progress_rules(ruleset: CompiledRuleset) -> set[str]:
    """Ids of the rules whose awards are judged by progress, not by their event."""
    return {r.id for r in ruleset.rules if r.keeps is not None}


async def no_longer_earned(
    session: AsyncSession, ruleset: CompiledRuleset, states: Mapping[Key, Mapping[str, Any]]
) -> list[LedgerTransaction]:
    """The awards of progress rules that the lowered ``states`` no longer deserve."""
    found: list[LedgerTransaction] = []
    for (employee_id, rule_id), state in sorted(states.items()):
        rule = ruleset.get(rule_id)
        if rule is None or rule.keeps is None:
            continue
        awards = (
            await session.exec(
                select(LedgerTransaction).where(
                    LedgerTransaction.employee_id == employee_id,
                    LedgerTransaction.rule_id == rule_id,
                    LedgerTransaction.kind == TransactionKind.award,
                )
            )
        ).all()
        found.extend(a for a in awards if not rule.keeps(state, a.once_value))
    return found


async def progress_before(session: AsyncSession, since: datetime) -> dict[int, dict[str, Progress]]:
    """Each person's states as they stood at ``since``: today's minus what events from
    then on added (back-apply replays a window from there)."""
    states: dict[int, dict[str, Progress]] = {}
    for row in (await session.exec(select(RuleProgress))).all():
        states.setdefault(row.employee_id, {})[row.rule_id] = dict(row.state)
    if not states:
        return states
    later = await session.exec(
        select(RuleProgressContribution)
        .join(ActivityEvent, col(ActivityEvent.id) == col(RuleProgressContribution.event_id))
        .where(
            col(ActivityEvent.occurred_at) >= since,
            col(RuleProgressContribution.withdrawn).is_(False),
        )
    )
    for share in later.all():
        mine = states.setdefault(share.employee_id, {})
        mine[share.rule_id] = withdraw(mine.get(share.rule_id), share.delta)
    return states


async def withdrawn_events(session: AsyncSession) -> set[int]:
    """Events whose share of some rule's progress was taken out (revoked)."""
    rows = await session.exec(
        select(RuleProgressContribution.event_id).where(
            col(RuleProgressContribution.withdrawn).is_(True)
        )
    )
    return set(rows.all())
