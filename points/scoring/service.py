"""Scoring: the active rule set applied to stored events, written to the ledger.

Exactly once by construction: each award's ledger key is
``award:{event}:{rule}:{version}``, so scoring an event again — a retried job, a
second worker, a replayed batch — writes nothing new. People in a batch are locked
(in id order) so caps and cooldowns see every award made before theirs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any, Protocol

from sqlalchemy import select as select_columns
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import col, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import among, insert_for, is_postgres, utcnow
from points.events.models import ActivityEvent, EventStatus
from points.ledger.models import LedgerTransaction, RuleCapUsage, RuleStreak, TransactionKind
from points.ledger.reversal import reverse_transactions
from points.ledger.service import Posting, earning, lock_people
from points.ledger.writer import post
from points.org.models import Employee, EmployeeStatus
from points.org.service import department_labels
from points.pg import driver
from points.reviews.service import hold, hold_places, reviewed_rules, withdraw_for_events
from points.rulesets.service import compiled, ensure_active
from points.scoring.progress import (
    ProgressWriter,
    load_progress,
    no_longer_earned,
    progress_rules,
    withdraw_events,
)
from points.settings import Settings
from points.workdays.service import with_workdays
from rules import (
    ActorHistory,
    Award,
    CompiledRuleset,
    Event,
    Review,
    StreakState,
    period_key,
    score_event,
)

# Event types that take back what an earlier event of the same object earned,
# and the attribute naming the object. Events may also name what they take back
# explicitly with ``attributes.reverses`` (an external id or a list of them).
REVERSING_TYPES = {
    "approval.revoked": "sp_no",
    "doc.deleted": "doc_id",
    "customer.deleted": "external_userid",
}


@dataclass
class ScoringSummary:
    events: int = 0
    awards: int = 0
    points: int = 0
    reversals: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class _Occurrence(Protocol):
    """What history loading needs of an event (a stored one or an engine Event)."""

    @property
    def type(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def attributes(self) -> Mapping[str, Any]: ...


async def _histories(
    session: AsyncSession,
    employee_ids: Sequence[int],
    events: Sequence[_Occurrence],
    ruleset: CompiledRuleset,
    zone: tzinfo,
) -> dict[int, ActorHistory]:
    """The rule history of each person: only what ``ruleset`` can consult for ``events``.

    Cap sums of recent periods (caps are at most a quarter), the last award of
    cooldown rules inside the longest cooldown, whether first_time rules ever
    awarded, and the once_per values these events carry — each one indexed query,
    so the cost does not grow with the ledger.
    """
    histories = {e: ActorHistory() for e in employee_ids}
    if not employee_ids or not events:
        return histories
    earliest = min(e.occurred_at for e in events)
    rule_kinds = [TransactionKind.award.value, TransactionKind.reversal.value]
    capped = [r for r in ruleset.rules if r.cap_per is not None]
    cooling = [r for r in ruleset.rules if r.cooldown is not None]
    first_time = [r.id for r in ruleset.rules if r.first_time]
    once_attributes = {r.once_attribute for r in ruleset.rules if r.once_attribute}
    once_rules = [r.id for r in ruleset.rules if r.once_attribute]

    def mine(rule_ids: Sequence[str]) -> tuple[Any, ...]:
        return (
            col(LedgerTransaction.employee_id).in_(employee_ids),
            col(LedgerTransaction.rule_id).in_(rule_ids),
            col(LedgerTransaction.kind).in_(rule_kinds),
        )

    connection = await session.connection()
    if capped:
        await _read_cap_usage(session, histories, events, ruleset, zone)
    if cooling:
        # Cooldowns count both ways, so look as far after the batch as before it.
        longest = max(r.cooldown for r in cooling if r.cooldown is not None)
        latest_at = max(e.occurred_at for e in events) + longest
        latest = await connection.execute(
            select_columns(
                col(LedgerTransaction.employee_id),
                col(LedgerTransaction.rule_id),
                func.max(col(LedgerTransaction.effective_at)),
            )
            .where(
                *mine([r.id for r in cooling]),
                col(LedgerTransaction.effective_at) >= earliest - longest,
                col(LedgerTransaction.effective_at) <= latest_at,
            )
            .group_by(col(LedgerTransaction.employee_id), col(LedgerTransaction.rule_id))
        )
        for employee_id, rule_id, last in latest.all():
            histories[employee_id].last_award_at[str(rule_id)] = last
    if first_time:
        awarded = await connection.execute(
            select_columns(col(LedgerTransaction.employee_id), col(LedgerTransaction.rule_id))
            .where(*mine(first_time))
            .distinct()
        )
        for employee_id, rule_id in awarded.all():
            histories[employee_id].rules_awarded.add(str(rule_id))
    candidates = sorted(
        {
            str(event.attributes[attribute])
            for event in events
            for attribute in once_attributes
            if event.attributes.get(attribute) not in (None, "")
        }
    )
    if candidates:
        onces = await connection.execute(
            select_columns(
                col(LedgerTransaction.employee_id),
                col(LedgerTransaction.rule_id),
                col(LedgerTransaction.once_value),
            ).where(*mine(once_rules), col(LedgerTransaction.once_value).in_(candidates))
        )
        for employee_id, rule_id, once_value in onces.all():
            histories[employee_id].once_values.setdefault(str(rule_id), set()).add(str(once_value))
    for row in (
        await session.exec(select(RuleStreak).where(col(RuleStreak.employee_id).in_(employee_ids)))
    ).all():
        histories[row.employee_id].streaks[row.rule_id] = StreakState(row.last_period, row.length)
    if any(r.keeps is not None for r in ruleset.rules):
        await load_progress(session, histories, employee_ids)
    return histories


def _people_of(event: _Occurrence, histories: Mapping[int, ActorHistory]) -> list[int]:
    person: int | None = getattr(event, "employee_id", None)
    return [person] if person is not None else list(histories)


# The usage rows for exactly the (person, rule, period) wanted — a join, not IN lists.
_READ_CAP_USAGE = """
SELECT u.employee_id, u.rule_id, u.cap_period_key, u.points
FROM rule_cap_usage AS u
JOIN unnest($1::int[], $2::varchar[], $3::varchar[]) AS w(employee_id, rule_id, cap_period_key)
  USING (employee_id, rule_id, cap_period_key)
"""


async def _read_cap_usage(
    session: AsyncSession,
    histories: dict[int, ActorHistory],
    events: Sequence[_Occurrence],
    ruleset: CompiledRuleset,
    zone: tzinfo,
) -> None:
    """Fill each person's cap sums for the capped rules these events can meet."""
    wanted_set: set[tuple[int, str, str]] = set()
    for e in events:
        capped = ruleset.capped_for(e.type)
        if not capped:
            continue
        local = e.occurred_at.astimezone(zone)
        # Each stored event names its person; an engine Event (the rules workbench)
        # does not, and then it belongs to every person asked about (there is one).
        for employee_id in _people_of(e, histories):
            for r in capped:
                assert r.cap_per is not None
                wanted_set.add((employee_id, r.id, period_key(r.cap_per, local)))
    wanted = sorted(wanted_set)
    keys = {(r, k) for _e, r, k in wanted}
    if not wanted:
        return
    if is_postgres(session):
        connection = await driver(session)
        found_pg = await connection.fetch(
            _READ_CAP_USAGE, [w[0] for w in wanted], [w[1] for w in wanted], [w[2] for w in wanted]
        )
        rows = [(r[0], r[1], r[2], r[3]) for r in found_pg]
    else:
        found = await session.exec(
            select(RuleCapUsage).where(
                col(RuleCapUsage.employee_id).in_(list(histories)),
                col(RuleCapUsage.rule_id).in_(sorted({r for r, _k in keys})),
                col(RuleCapUsage.cap_period_key).in_(sorted({k for _r, k in keys})),
            )
        )
        rows = [(u.employee_id, u.rule_id, u.cap_period_key, u.points) for u in found.all()]
    for employee_id, rule_id, key, points in rows:
        histories[employee_id].period_points[(rule_id, key)] = points


@dataclass(slots=True)
class StoredEvent:
    """The columns of a stored event that scoring reads (a row, not an ORM object)."""

    id: int
    source: str
    external_id: str
    type: str
    actor: str
    employee_id: int | None
    occurred_at: datetime
    attributes: dict[str, Any]


@dataclass(slots=True)
class _Person:
    id: int
    department_id: int
    excluded: bool
    status: str
    joined: date | None = None


_EVENT_COLUMNS = (
    col(ActivityEvent.id),
    col(ActivityEvent.source),
    col(ActivityEvent.external_id),
    col(ActivityEvent.type),
    col(ActivityEvent.actor),
    col(ActivityEvent.employee_id),
    col(ActivityEvent.occurred_at),
    col(ActivityEvent.attributes),
)


async def score_events(
    session: AsyncSession, settings: Settings, event_ids: Sequence[int]
) -> ScoringSummary:
    """Score these events (those still pending) in the caller's transaction."""
    summary = ScoringSummary()
    postgres = is_postgres(session)
    connection = await session.connection()
    is_pending = (
        among(col(ActivityEvent.id), event_ids, postgres),
        col(ActivityEvent.status) == EventStatus.pending.value,
    )
    pending = (
        await connection.execute(
            select_columns(col(ActivityEvent.employee_id)).where(*is_pending).distinct()
        )
    ).all()
    if not pending:
        return summary
    people = sorted({e for (e,) in pending if e is not None})
    await lock_people(session, people)
    # Read the events only now, under the locks: another worker may have scored
    # some of them while we waited.
    events = [
        StoredEvent(*row)
        for row in (
            await connection.execute(
                select_columns(*_EVENT_COLUMNS)
                .where(*is_pending)
                .order_by(col(ActivityEvent.occurred_at), col(ActivityEvent.id))
            )
        ).all()
    ]
    if not events:
        return summary
    employees = {
        row[0]: _Person(int(row[0] or 0), row[1], row[2], str(row[3]), row[4])
        for row in (
            await connection.execute(
                select_columns(
                    col(Employee.id),
                    col(Employee.department_id),
                    col(Employee.excluded),
                    col(Employee.status),
                    col(Employee.joined_on),
                ).where(among(col(Employee.id), people, postgres))
            )
        ).all()
    }
    labels = await department_labels(session)
    version = await ensure_active(session)
    ruleset = await with_workdays(session, compiled(version))
    histories = await _histories(session, people, events, ruleset, settings.zone)
    reviewed = reviewed_rules(ruleset)
    held: list[tuple[Posting, Review]] = []
    if reviewed:  # a pending award holds its place in caps and once_per
        await hold_places(session, histories, reviewed)
    zone = settings.zone
    postings: list[Posting] = []
    streak_updates: dict[tuple[int, str], StreakState] = {}
    progress = ProgressWriter()
    reversing: list[StoredEvent] = []
    await _mark_scored(session, [e.id for e in events], postgres)
    for event in events:
        summary.events += 1
        employee = employees.get(event.employee_id) if event.employee_id else None
        if employee is None or employee.excluded:
            summary.skipped["excluded"] += 1
            continue
        if employee.status != EmployeeStatus.active.value:
            summary.skipped["left"] += 1  # a leaver's account is frozen: no earning
            continue
        if event.type in REVERSING_TYPES or "reverses" in event.attributes:
            reversing.append(event)
        history = histories[employee.id]
        outcome = score_event(
            ruleset,
            Event(
                event.external_id,
                event.type,
                event.actor,
                event.occurred_at,
                event.attributes,
                labels.get(employee.department_id, ()),
                employee.joined,
            ),
            history,
            zone,
        )
        if outcome.progress:
            progress.note(employee.id, event.id, history.progress, outcome.progress)
        history.record(outcome)
        for rule_id, state in outcome.streaks:
            streak_updates[(employee.id, rule_id)] = state
        for award in outcome.awards:
            posting = earning(
                _award_key(event.id, award),
                TransactionKind.award,
                employee.id,
                employee.department_id,
                award.points,
                event.occurred_at,
                event_id=event.id,
                rule_id=award.rule_id,
                rule_version=award.rule_version,
                cap_period_key=award.period_key,
                once_value=award.once_value,
                badge=award.badge,
                reason=award.reason_zh,
                reason_en=award.reason_en,
            )
            review = reviewed.get(award.rule_id)
            if review is None:
                postings.append(posting)
            else:  # waits for a reviewer: points/reviews
                held.append((posting, review))
            summary.awards += 1
            summary.points += award.points
    await post(session, postings, zone)
    await hold(session, held)
    await _save_streaks(session, streak_updates)
    await progress.save(session)
    for event in reversing:
        summary.reversals += await reverse_for(session, settings, event)
    return summary


def _award_key(event_id: int, award: Award) -> str:
    """``award:{event}:{rule}:{version}``; a milestone level adds ``:{level}`` (one event
    can reach two levels of a sum)."""
    key = f"award:{event_id}:{award.rule_id}:{award.rule_version}"
    return f"{key}:{award.once_value}" if award.kind == "milestone" else key


async def _mark_scored(session: AsyncSession, event_ids: list[int], postgres: bool) -> None:
    """One UPDATE marks the whole batch scored; copies the session holds follow."""
    now = utcnow()
    connection = await session.connection()
    await connection.execute(
        update(ActivityEvent)
        .where(among(col(ActivityEvent.id), event_ids, postgres))
        .values(
            status=EventStatus.scored.value,
            scored_at=now,
            attempts=col(ActivityEvent.attempts) + 1,
        )
    )
    wanted = set(event_ids)
    for held in list(session.identity_map.values()):
        if isinstance(held, ActivityEvent) and held.id in wanted:
            set_committed_value(held, "status", EventStatus.scored)
            set_committed_value(held, "scored_at", now)
            set_committed_value(held, "attempts", held.attempts + 1)


async def _save_streaks(session: AsyncSession, updates: dict[tuple[int, str], StreakState]) -> None:
    if not updates:
        return
    values = [
        {"employee_id": e, "rule_id": r, "last_period": s.last_period, "length": s.length}
        for (e, r), s in sorted(updates.items())
    ]
    stmt = insert_for(session, RuleStreak).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["employee_id", "rule_id"],
        set_={"last_period": stmt.excluded.last_period, "length": stmt.excluded.length},
    )
    await session.exec(stmt)


async def reverse_for(session: AsyncSession, settings: Settings, event: StoredEvent) -> int:
    """Take back what earlier events of the same object earned; returns reversals written."""
    targets = event.attributes.get("reverses")
    query = select(ActivityEvent.id).where(
        ActivityEvent.source == event.source, col(ActivityEvent.id) != event.id
    )
    if targets:
        ids = [targets] if isinstance(targets, str) else [str(t) for t in targets]
        query = query.where(col(ActivityEvent.external_id).in_(ids))
    else:
        attribute = REVERSING_TYPES[event.type]
        value = event.attributes.get(attribute)
        if value is None:
            return 0
        # The same object (e.g. the same sp_no) among the actor's events of the same
        # family (approval.*): narrowed in SQL, the value compared exactly here.
        family = event.type.split(".")[0]
        candidates = (
            await session.exec(
                select(ActivityEvent.id, ActivityEvent.attributes).where(
                    ActivityEvent.source == event.source,
                    ActivityEvent.actor == event.actor,
                    col(ActivityEvent.id) != event.id,
                    col(ActivityEvent.type).startswith(f"{family}.", autoescape=True),
                    col(ActivityEvent.attributes)[attribute].as_string() == str(value),
                )
            )
        ).all()
        matching = [
            event_id
            for event_id, attributes in candidates
            if str(attributes.get(attribute)) == str(value)
        ]
        query = query.where(col(ActivityEvent.id).in_(matching))
    earlier = [i for i in (await session.exec(query)).all() if i is not None]
    if not earlier:
        return 0
    # Awards of those events still waiting for review are never paid.
    await withdraw_for_events(session, [e for e in earlier if e is not None])
    awards = (
        await session.exec(
            select(LedgerTransaction).where(
                col(LedgerTransaction.event_id).in_(earlier),
                LedgerTransaction.kind == TransactionKind.award,
            )
        )
    ).all()
    # Awards that counted progress (a milestone level) go only if the count, without
    # these events, falls below what they were given for — whichever event made them.
    ruleset = compiled(await ensure_active(session))
    judged = progress_rules(ruleset)
    taken = [a for a in awards if a.rule_id not in judged]
    states = await withdraw_events(session, earlier)
    taken += await no_longer_earned(session, ruleset, states)
    return await reverse_transactions(
        session,
        settings,
        taken,
        cause=f"event:{event.id}",
        reason=f"撤回：{event.type}",
        reason_en=f"Taken back: {event.type}",
    )
