"""Intake: every source's events stored exactly once, then handed to scoring.

``(source, external_id)`` decides. The same payload again is a ``duplicate`` and
changes nothing; a different payload under a known id is a ``conflict``: recorded
for admins, the original kept, nothing overwritten.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any, Literal

from pydantic import ValidationError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for, is_postgres, utcnow
from points.errors import InvalidInput
from points.events.models import ActivityEvent, EventConflict, EventStatus
from points.events.schemas import EventIn, check_not_future
from points.i18n import _
from points.jobs import enqueue_after_commit
from points.org.models import Employee
from points.pg import driver
from rules.catalog import conform

SCORE_JOB = "score_events"
MAX_BATCH = 1000

IntakeStatus = Literal["created", "duplicate", "conflict"]


@dataclass
class IntakeResult:
    external_id: str
    status: IntakeStatus
    event_id: int

    def to_dict(self) -> dict[str, Any]:
        return {"external_id": self.external_id, "status": self.status, "id": self.event_id}


def canonical_payload(event: EventIn) -> dict[str, Any]:
    return {
        "type": event.type,
        "actor": event.actor,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(),
        "attributes": event.attributes,
    }


def payload_hash(event: EventIn) -> str:
    text = json.dumps(
        canonical_payload(event),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode()).hexdigest()


async def ingest(
    session: AsyncSession,
    source: str,
    events: Sequence[EventIn],
    *,
    submitted_by: str | None = None,
) -> list[IntakeResult]:
    """Store the events (in the caller's transaction) and schedule scoring after commit.

    ``submitted_by`` names who handed them in (a token, a person, an import file).
    """
    if len(events) > MAX_BATCH:
        raise ValueError(f"at most {MAX_BATCH} events per batch")
    if not events:
        return []
    hashes = [payload_hash(e) for e in events]
    actors = sorted({e.actor for e in events})
    employees = dict(
        (
            await session.exec(
                select(Employee.userid, Employee.id).where(col(Employee.userid).in_(actors))
            )
        ).all()
    )
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for event, digest in zip(events, hashes, strict=True):
        if event.external_id in seen:
            continue  # judged against the first copy below
        seen.add(event.external_id)
        employee_id = employees.get(event.actor)
        rows.append(
            {
                "source": source,
                "external_id": event.external_id,
                "type": event.type,
                "actor": event.actor,
                "employee_id": employee_id,
                "occurred_at": event.occurred_at,
                "attributes": event.attributes,
                "payload_hash": digest,
                "status": (EventStatus.pending if employee_id else EventStatus.unmatched).value,
                "submitted_by": submitted_by,
            }
        )
    created = await _insert_new(session, rows)
    # What was just written is known; only the ids seen before need reading back.
    stored: dict[str, tuple[int | None, str]] = {
        r["external_id"]: (created[r["external_id"]], r["payload_hash"])
        for r in rows
        if r["external_id"] in created
    }
    known = [e.external_id for e in events if e.external_id not in created]
    if known:
        for event_id, external_id, digest in (
            await session.exec(
                select(
                    ActivityEvent.id, ActivityEvent.external_id, ActivityEvent.payload_hash
                ).where(
                    ActivityEvent.source == source,
                    col(ActivityEvent.external_id).in_(known),
                )
            )
        ).all():
            stored[external_id] = (event_id, digest)
    results: list[IntakeResult] = []
    first_copy: set[str] = set()
    for event, digest in zip(events, hashes, strict=True):
        event_id, stored_hash = stored[event.external_id]
        assert event_id is not None
        if event.external_id in created and event.external_id not in first_copy:
            first_copy.add(event.external_id)
            results.append(IntakeResult(event.external_id, "created", event_id))
        elif digest == stored_hash:
            results.append(IntakeResult(event.external_id, "duplicate", event_id))
        else:
            await _record_conflict(session, event_id, event, digest)
            results.append(IntakeResult(event.external_id, "conflict", event_id))
    to_score = [
        created[r["external_id"]]
        for r in rows
        if r["external_id"] in created and r["status"] == EventStatus.pending.value
    ]
    if to_score:
        enqueue_after_commit(session, SCORE_JOB, event_ids=to_score)
    return results


async def _insert_new(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert the rows whose ``(source, external_id)`` is new; their ids by external id."""
    if is_postgres(session):
        return await _insert_new_postgres(session, rows)
    stmt = insert_for(session, ActivityEvent)
    stmt = stmt.on_conflict_do_nothing(index_elements=["source", "external_id"]).returning(
        col(ActivityEvent.id), col(ActivityEvent.external_id)
    )
    # Executemany (compiled once, batched by SQLAlchemy) rather than one huge VALUES.
    connection = await session.connection()
    return {
        external_id: event_id
        for event_id, external_id in (await connection.execute(stmt, rows)).all()
    }


# A whole batch as arrays, one statement (PostgreSQL): far cheaper than a row each.
_INSERT_BATCH_SQL = """
INSERT INTO activity_event (
    source, external_id, type, actor, employee_id, occurred_at, attributes, payload_hash,
    status, received_at, attempts, submitted_by)
SELECT *, $10::timestamptz, 0, $11::varchar FROM unnest(
    $1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[], $5::int[], $6::timestamptz[],
    $7::json[], $8::varchar[], $9::varchar[])
ON CONFLICT (source, external_id) DO NOTHING
RETURNING id, external_id
"""


async def _insert_new_postgres(session: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, int]:
    columns = ("source", "external_id", "type", "actor", "employee_id", "occurred_at")
    arrays: list[Any] = [[r[c] for r in rows] for c in columns]
    arrays.append([json.dumps(r["attributes"]) for r in rows])  # as SQLAlchemy's JSON sends
    arrays.append([r["payload_hash"] for r in rows])
    arrays.append([r["status"] for r in rows])
    connection = await driver(session)
    submitted_by = rows[0]["submitted_by"] if rows else None  # one batch, one submitter
    found = await connection.fetch(_INSERT_BATCH_SQL, *arrays, utcnow(), submitted_by)
    return {record["external_id"]: record["id"] for record in found}


async def _record_conflict(
    session: AsyncSession, event_id: int, event: EventIn, digest: str
) -> None:
    stmt = insert_for(session, EventConflict).values(
        event_id=event_id, payload=json.loads(event.model_dump_json()), payload_hash=digest
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["event_id", "payload_hash"],
        set_={"times_seen": EventConflict.times_seen + 1},
    )
    await session.exec(stmt)


async def match_unmatched(session: AsyncSession, userids: Sequence[str] | None = None) -> int:
    """Attach waiting events to people who now exist, and schedule their scoring."""
    query = select(ActivityEvent.id, ActivityEvent.actor).where(
        ActivityEvent.status == EventStatus.unmatched
    )
    if userids is not None:
        query = query.where(col(ActivityEvent.actor).in_(userids))
    waiting = (await session.exec(query)).all()
    if not waiting:
        return 0
    employees = dict(
        (
            await session.exec(
                select(Employee.userid, Employee.id).where(
                    col(Employee.userid).in_(sorted({a for _i, a in waiting}))
                )
            )
        ).all()
    )
    matched: list[int] = []
    for event_id, actor in waiting:
        employee_id = employees.get(actor)
        if employee_id is None or event_id is None:
            continue
        event = await session.get(ActivityEvent, event_id)
        assert event is not None
        event.employee_id = employee_id
        event.status = EventStatus.pending
        session.add(event)
        matched.append(event_id)
    for start in range(0, len(matched), MAX_BATCH):
        enqueue_after_commit(session, SCORE_JOB, event_ids=matched[start : start + MAX_BATCH])
    return len(matched)


async def status_counts(session: AsyncSession) -> dict[str, int]:
    rows = await session.exec(
        select(ActivityEvent.status, func.count()).group_by(ActivityEvent.status)
    )
    return {str(status): count for status, count in rows.all()}


async def conflicts(session: AsyncSession, limit: int = 100) -> Sequence[Any]:
    rows = await session.exec(
        select(EventConflict, ActivityEvent)
        .join(ActivityEvent, col(ActivityEvent.id) == col(EventConflict.event_id))
        .order_by(col(EventConflict.received_at).desc())
        .limit(limit)
    )
    return rows.all()


async def ingest_payloads(
    session: AsyncSession,
    source: str,
    items: Sequence[Any],
    *,
    submitted_by: str | None = None,
    submitter_userid: str | None = None,
) -> list[dict[str, Any]]:
    """Validate raw payloads one by one, store the good ones, report each.

    The result for an item is ``created``, ``duplicate``, ``conflict``, or ``invalid``
    with the reason, in the order the items came. An event about the person who
    submits it (``submitter_userid``) is refused: nobody awards themselves points.
    """
    if not source or len(source) > 32 or not source.replace("_", "").isalnum():
        raise InvalidInput("source must be a short word like api, import or wecom")
    valid: list[tuple[int, EventIn]] = []
    results: list[dict[str, Any]] = [{} for _item in items]
    now = utcnow()
    for index, item in enumerate(items):
        external_id = item.get("external_id") if isinstance(item, dict) else None
        try:
            event = EventIn.model_validate(item)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "event"
            results[index] = {
                "external_id": external_id if isinstance(external_id, str) else None,
                "status": "invalid",
                "error": f"{where}: {first['msg']}",
            }
            continue
        try:
            check_not_future(event, now)
        except ValueError as exc:
            results[index] = {
                "external_id": event.external_id,
                "status": "invalid",
                "error": f"occurred_at: {exc}",
            }
            continue
        try:
            # The catalogue's attribute types: "on_time": "yes" would never match a rule.
            event.attributes = conform(event.type, event.attributes)
        except ValueError as exc:
            results[index] = {
                "external_id": event.external_id,
                "status": "invalid",
                "error": str(exc),
            }
            continue
        if submitter_userid is not None and event.actor == submitter_userid:
            results[index] = {
                "external_id": event.external_id,
                "status": "invalid",
                "error": "actor: " + _("You cannot post events about yourself."),
            }
            continue
        valid.append((index, event))
    stored = await ingest(
        session, source, [event for _i, event in valid], submitted_by=submitted_by
    )
    for (index, _event), result in zip(valid, stored, strict=True):
        results[index] = result.to_dict()
    return results


async def recent_submissions(session: AsyncSession, limit: int = 50) -> Sequence[ActivityEvent]:
    """The latest events handed in through the API or an import, with who submitted them."""
    rows = await session.exec(
        select(ActivityEvent)
        .where(col(ActivityEvent.submitted_by).is_not(None))
        .order_by(col(ActivityEvent.id).desc())
        .limit(limit)
    )
    return rows.all()


async def parked(session: AsyncSession, limit: int = 100) -> Sequence[ActivityEvent]:
    """Events that kept failing to score, for an admin to look at and retry."""
    rows = await session.exec(
        select(ActivityEvent)
        .where(ActivityEvent.status == EventStatus.parked)
        .order_by(col(ActivityEvent.id))
        .limit(limit)
    )
    return rows.all()


# -- one event in one statement (the WeCom callback's path) ----------------------------

#: PostgreSQL: match the actor, insert unless ``(source, external_id)`` is known, and
#: otherwise read the stored row back -- one round trip. ``created`` tells the cases
#: apart. Every parameter is cast: in ``INSERT ... SELECT`` PostgreSQL would not infer
#: the types from the target columns.
_INGEST_ONE_SQL = """
WITH stored AS (
    INSERT INTO activity_event (
        source, external_id, type, actor, employee_id, occurred_at, attributes,
        payload_hash, received_at, status, attempts
    )
    SELECT $1::varchar, $2::varchar, $3::varchar, $4::varchar, employee.id,
           $5::timestamptz, $6::json, $7::varchar, $8::timestamptz,
           CASE WHEN employee.id IS NULL THEN $9::varchar ELSE $10::varchar END, 0
    FROM (SELECT 1) AS one LEFT JOIN employee ON employee.userid = $4::varchar
    ON CONFLICT (source, external_id) DO NOTHING
    RETURNING id, status, payload_hash
)
SELECT id, status, payload_hash, true AS created FROM stored
UNION ALL
SELECT id, status, payload_hash, false AS created FROM activity_event
WHERE source = $1::varchar AND external_id = $2::varchar AND NOT EXISTS (SELECT FROM stored)
"""

#: The stored row when the statement above saw neither its insert nor the row: another
#: transaction committed it after the statement's snapshot (its insert then waited for
#: that transaction and did nothing). A new statement sees it.
_STORED_ONE_SQL = """
SELECT id, status, payload_hash, false AS created FROM activity_event
WHERE source = $1::varchar AND external_id = $2::varchar
"""


async def ingest_one(session: AsyncSession, source: str, event: EventIn) -> IntakeResult:
    """Store one event with the outcome ``ingest(session, source, [event])`` would give.

    ``created`` (scoring enqueued after commit, unless the actor is no employee yet:
    then the event waits as ``unmatched``), ``duplicate`` for the same payload again,
    ``conflict`` for a different payload under a known id (recorded, original kept).

    On PostgreSQL the employee look-up, the insert and the read-back of a known row
    are one statement (one round trip, no ORM) on the session's connection. When the
    session has a transaction open the statement runs inside it, as ``ingest`` does;
    when it has none, the statement is its own transaction and commits by itself, so
    no BEGIN and COMMIT round trips are spent on it -- a later rollback of the session
    then keeps the event. Either way the scoring job is only sent by
    :func:`points.jobs.commit`, after the row is committed. On SQLite this is
    :func:`ingest`.
    """
    if not is_postgres(session):
        (result,) = await ingest(session, source, [event])
        return result
    digest = payload_hash(event)
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    row = await driver.fetchrow(
        _INGEST_ONE_SQL,
        source,
        event.external_id,
        event.type,
        event.actor,
        event.occurred_at.astimezone(UTC),
        json.dumps(event.attributes),  # what SQLAlchemy's JSON type would send
        digest,
        utcnow(),
        EventStatus.unmatched.value,
        EventStatus.pending.value,
    )
    if row is None:
        row = await driver.fetchrow(_STORED_ONE_SQL, source, event.external_id)
    assert row is not None
    event_id: int = row["id"]
    if row["created"]:
        if row["status"] == EventStatus.pending.value:
            enqueue_after_commit(session, SCORE_JOB, event_ids=[event_id])
        return IntakeResult(event.external_id, "created", event_id)
    if row["payload_hash"] == digest:
        return IntakeResult(event.external_id, "duplicate", event_id)
    await _record_conflict(session, event_id, event, digest)
    return IntakeResult(event.external_id, "conflict", event_id)
