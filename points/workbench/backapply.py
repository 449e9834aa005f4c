"""Back-applying a rule version over a past window, as adjustment entries.

For each person: what the version would have given for the window's stored
events (replayed with the person's real history from before the window, so caps,
``once_per`` and first-time bonuses carry over exactly as they would have live)
minus what the ledger actually gave in the window (awards, reversals and earlier
back-applies). The difference is posted as one ``backapply`` transaction per
person and version — key ``backapply:{version}:{employee}``, so doing it again
is a no-op. Old entries are never edited; a negative difference never takes
``available`` below zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import func
from sqlalchemy.orm import Session
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.ledger.models import AccountKind, LedgerTransaction, TransactionKind
from points.ledger.service import balances, earning, lock_people
from points.ledger.writer import post
from points.org.models import Employee, EmployeeStatus
from points.reviews.service import not_back_applied, reviewed_rules
from points.rulesets.models import RuleVersion
from points.rulesets.service import compiled
from points.scoring.progress import progress_before, progress_rules, withdrawn_events
from points.settings import Settings
from points.workbench.simulation import Window, department_labels, people, stored_events
from points.workdays.service import with_workdays
from rules import ActorHistory, CompiledRuleset, InMemoryHistory, score_event


@dataclass
class BackApplyLine:
    """One person's figures: what the version would have given, what the ledger gave."""

    employee_id: int
    userid: str
    candidate: int
    ledger: int
    posted: int = 0
    short: int = 0  # what could not be taken back because it was already spent

    @property
    def difference(self) -> int:
        return self.candidate - self.ledger


@dataclass
class BackApplyResult:
    version: int
    window: Window
    lines: list[BackApplyLine] = field(default_factory=list)
    transactions: int = 0

    @property
    def points(self) -> int:
        """Net points posted."""
        return sum(line.posted for line in self.lines)

    def to_dict(self) -> dict[str, object]:
        return {
            "version": self.version,
            "since": self.window.since.isoformat(),
            "until": self.window.until.isoformat(),
            "people": len(self.lines),
            "transactions": self.transactions,
            "points": self.points,
            "short": sum(line.short for line in self.lines),
        }


async def _ledger_history(
    session: AsyncSession, before: datetime
) -> tuple[dict[int, list[tuple[str, int, datetime, str | None, str | None]]], set[int]]:
    """Award/reversal facts before the window per person, and events whose awards were reversed."""
    facts: dict[int, list[tuple[str, int, datetime, str | None, str | None]]] = defaultdict(list)
    rows = await session.exec(
        select(  # type: ignore[call-overload]
            LedgerTransaction.employee_id,
            LedgerTransaction.rule_id,
            LedgerTransaction.points,
            LedgerTransaction.effective_at,
            LedgerTransaction.cap_period_key,
            LedgerTransaction.once_value,
        ).where(
            col(LedgerTransaction.rule_id).is_not(None),
            col(LedgerTransaction.kind).in_(
                [TransactionKind.award.value, TransactionKind.reversal.value]
            ),
            col(LedgerTransaction.effective_at) < before,
        )
    )
    for employee_id, rule_id, points, effective_at, cap_key, once_value in rows.all():
        facts[employee_id].append((rule_id, points, effective_at, cap_key, once_value))
    reversed_rows = await session.exec(
        select(LedgerTransaction.event_id).where(
            LedgerTransaction.kind == TransactionKind.reversal.value,
            col(LedgerTransaction.event_id).is_not(None),
        )
    )
    reversed_events = {event_id for event_id in reversed_rows.all() if event_id is not None}
    return facts, reversed_events


def _seeded(
    facts: dict[int, list[tuple[str, int, datetime, str | None, str | None]]],
    staff: dict[int, str],
    progress: dict[int, dict[str, dict[str, Any]]],
    judged: set[str],
) -> InMemoryHistory:
    """Histories as they stood at the window's start; for ``judged`` rules (milestones)
    the levels still held, not every level once given."""
    history = InMemoryHistory()
    for employee_id, userid in staff.items():
        past = ActorHistory(progress=progress.get(employee_id, {}))
        # Levels held at the window's start: awarded and not taken back.
        held: dict[tuple[str, str], int] = defaultdict(int)
        for rule_id, points, _at, _key, once_value in facts.get(employee_id, []):
            if rule_id in judged and once_value is not None:
                held[(rule_id, once_value)] += 1 if points >= 0 else -1
        for (rule_id, level), count in held.items():
            if count > 0:
                past.once_values.setdefault(rule_id, set()).add(level)
        for rule_id, points, effective_at, cap_key, once_value in facts.get(employee_id, []):
            if cap_key is not None:
                key = (rule_id, cap_key)
                past.period_points[key] = past.period_points.get(key, 0) + points
            last = past.last_award_at.get(rule_id)
            if last is None or effective_at > last:
                past.last_award_at[rule_id] = effective_at
            if once_value is not None and rule_id not in judged:
                past.once_values.setdefault(rule_id, set()).add(once_value)
            past.rules_awarded.add(rule_id)
        history.actors[userid] = past
    return history


async def plan(
    session: AsyncSession, ruleset: CompiledRuleset, window: Window, zone: tzinfo
) -> list[BackApplyLine]:
    """Per person with any difference: candidate points and ledger points in the window."""
    staff = await people(session)
    labels = await department_labels(session)
    ruleset = await with_workdays(session, ruleset)  # working days as live scoring counts them
    facts, reversed_events = await _ledger_history(session, window.since)
    # Streak progress from before the window is not kept per day; streaks restart
    # at the window's start (the conservative reading: no bonus for unseen days).
    # Progress (milestone counts) does carry over: as it stood at the window's start.
    judged = progress_rules(ruleset)
    before = await progress_before(session, window.since) if judged else {}
    withdrawn = await withdrawn_events(session) if judged else set()
    history = _seeded(facts, {i: p.userid for i, p in staff.items()}, before, judged)

    def replay(sync_session: Session) -> dict[int, int]:
        totals: dict[int, int] = defaultdict(int)
        for employee_id, event_id, event in stored_events(sync_session, window, staff, labels):
            past = history.of(event.actor)
            outcome = score_event(ruleset, event, past, zone)
            if event_id in withdrawn or event_id in reversed_events:
                # Revoked: it counts towards no milestone, so it reaches no level either.
                outcome.progress.clear()
                outcome.awards[:] = [a for a in outcome.awards if a.rule_id not in judged]
            if outcome.awards or outcome.streaks or outcome.progress:
                past.record(outcome)
            if event_id in reversed_events:
                continue  # the source took it back; it would have been reversed too
            # Awards that wait for review are paid only by a reviewer, never back-applied.
            totals[employee_id] += sum(a.points for a in outcome.awards if a.rule_id not in held)
        return totals

    held = set(reviewed_rules(ruleset))

    candidate = await session.run_sync(replay)
    given = dict(
        (
            await session.exec(
                select(LedgerTransaction.employee_id, func.sum(LedgerTransaction.points))
                .where(
                    col(LedgerTransaction.kind).in_(
                        [
                            TransactionKind.award.value,
                            TransactionKind.reversal.value,
                            TransactionKind.backapply.value,
                        ]
                    ),
                    col(LedgerTransaction.effective_at) >= window.since,
                    col(LedgerTransaction.effective_at) < window.until,
                    *not_back_applied(held),
                )
                .group_by(col(LedgerTransaction.employee_id))
            )
        ).all()
    )
    lines = []
    for employee_id in sorted(set(candidate) | set(given)):
        person = staff.get(employee_id)
        if person is None or person.excluded:
            continue
        line = BackApplyLine(
            employee_id,
            person.userid,
            candidate.get(employee_id, 0),
            int(given.get(employee_id) or 0),
        )
        if line.difference:
            lines.append(line)
    return lines


async def back_apply(
    session: AsyncSession,
    settings: Settings,
    *,
    version: RuleVersion,
    window: Window,
    author: str,
    ip: str = "",
) -> BackApplyResult:
    """Post the version's difference over ``window`` as ``backapply`` entries; audited.

    The entries count at the window's last moment (or now, if the window reaches
    the present), so the window's own figures become what the version would have
    given and a second back-apply over the same window sees the first one.
    """
    assert version.id is not None
    zone = settings.zone
    lines = await plan(session, compiled(version), window, zone)
    result = BackApplyResult(version.id, window, lines)
    if not lines:
        await _audit(session, result, author, ip)
        return result
    await lock_people(session, [line.employee_id for line in lines])
    employees = {
        e.id: e
        for e in (
            await session.exec(
                select(Employee).where(col(Employee.id).in_([x.employee_id for x in lines]))
            )
        ).all()
    }
    effective_at = min(window.until, utcnow()) - timedelta(microseconds=1)
    label = window.label(zone)
    postings = []
    for line in lines:
        employee = employees[line.employee_id]
        if employee.status != EmployeeStatus.active:
            continue  # a leaver's account is frozen
        amount = line.difference
        if amount < 0:
            available = (await balances(session, line.employee_id))[AccountKind.available]
            amount = max(amount, -available)
            line.short = amount - line.difference
        if amount == 0:
            continue
        note = f"（余额不足，{line.short} 分未能收回）" if line.short else ""
        note_en = f" ({line.short} points could not be recovered)" if line.short else ""
        line.posted = amount
        postings.append(
            earning(
                f"backapply:{version.id}:{line.employee_id}",
                TransactionKind.backapply,
                line.employee_id,
                employee.department_id,
                amount,
                effective_at,
                rule_version=version.id,
                author=author,
                reason=f"规则 v{version.id} 追溯调整 ({label}){note}",
                reason_en=f"Rules v{version.id} applied back ({label}){note_en}",
            )
        )
    written = await post(session, postings, zone)
    result.transactions = len(written)
    if len(written) < len(postings):
        # Some people had it already (a repeat): report only what this run posted.
        keys = set(
            (
                await session.exec(
                    select(LedgerTransaction.key).where(col(LedgerTransaction.id).in_(written))
                )
            ).all()
        )
        for line in lines:
            if f"backapply:{version.id}:{line.employee_id}" not in keys:
                line.posted = line.short = 0
    await _audit(session, result, author, ip)
    return result


async def _audit(session: AsyncSession, result: BackApplyResult, author: str, ip: str) -> None:
    await record(
        session,
        actor=author,
        action="rules.backapply",
        target=f"v{result.version}",
        details=result.to_dict(),
        ip=ip,
    )
