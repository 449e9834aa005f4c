"""The one ledger writer: every change of points is written by :func:`post`.

Scoring, adjustments, holds, releases, spends, reversals, back-apply and expiry
all hand :func:`post` their postings. It writes, in the caller's database
transaction, for each posting whose key is new (a repeated key is a no-op: no
entries, no balance change, no score):

- the ``ledger_transaction`` row (unique by key, so doing a thing twice is once),
- its balanced ``ledger_entry`` rows (double entry: each posting sums to zero),
- the accounts' balances (``CHECK (balance >= 0)`` refuses an overdraft),
- the period scores of the person and of the department named on the posting
  (the department the person was in when it was earned), for earning kinds, and the
  department's count of people who earned there (:mod:`points.ledger.participation`),
- the rule cap usage, for capped awards.

What the rows are is worked out once, here (:func:`expand`); how they reach the
database is a store chosen once per dialect (:func:`store_for`): the portable
store below (SQLAlchemy, the embedded SQLite) or PostgreSQL's one-statement store
(:mod:`points.ledger.writer_pg`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import tzinfo
from typing import Any, Protocol

from sqlalchemy import Insert, bindparam, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.calendar import keys_at
from points.db import insert_for, utcnow
from points.ledger import models, participation
from points.ledger.service import AccountRef, Posting, account_ids
from points.org.models import Employee

# (transaction key, owner id, period, period key, points)
ScoreRow = tuple[str, int, str, str, int]


@dataclass
class Expanded:
    """Everything a set of postings may write, each row tagged with its posting's key;
    only the rows of postings whose transaction is new are written."""

    transactions: list[dict[str, Any]]
    legs: list[tuple[str, int, int]] = field(default_factory=list)  # key, account, amount
    people: list[ScoreRow] = field(default_factory=list)
    departments: list[ScoreRow] = field(default_factory=list)
    # (key, person, department, period, period key, points): who earned where.
    members: list[tuple[str, int, int, str, str, int]] = field(default_factory=list)
    caps: list[tuple[str, int, str, str, int]] = field(default_factory=list)  # key, e, rule, p


def expand(
    postings: Sequence[Posting], accounts: Mapping[AccountRef, int], zone: tzinfo
) -> Expanded:
    """The rows of ``postings``: legs on account ids, scores per period, cap usage."""
    now = utcnow()
    out = Expanded([p.transaction_row(now) for p in postings])
    for posting in postings:
        key = posting.key
        out.legs += [(key, accounts[ref], amount) for ref, amount in posting.legs]
        if posting.kind in models.CAP_KINDS and posting.rule_id and posting.cap_period_key:
            out.caps.append(
                (key, posting.employee_id, posting.rule_id, posting.cap_period_key, posting.points)
            )
        if posting.kind in models.EARNING_KINDS and posting.points:
            for period, period_key in keys_at(posting.effective_at, zone):
                row = (period.value, period_key, posting.points)
                out.people.append((key, posting.employee_id, *row))
                if posting.department_id is not None:
                    out.departments.append((key, posting.department_id, *row))
                    out.members.append((key, posting.employee_id, posting.department_id, *row))
    return out


class Store(Protocol):
    """How a dialect writes an expansion: returns the new transactions' (id, key)."""

    async def write(self, session: AsyncSession, rows: Expanded) -> list[tuple[int, str]]: ...


async def post(
    session: AsyncSession,
    postings: Sequence[Posting],
    zone: tzinfo,
    known: Mapping[AccountRef, int] | None = None,
) -> list[int]:
    """Write the postings not written before; return the new transactions' ids.

    ``known`` are account ids the caller has just read (under its lock), so they
    need not be looked up again; the other accounts are found or created.
    """
    if not postings:
        return []
    if len({p.key for p in postings}) != len(postings):
        raise ValueError("two postings share a key")
    postings = await _with_departments(session, postings)
    accounts = await accounts_of(session, postings, known)
    rows = expand(postings, accounts, zone)
    written = await store_for(session).write(session, rows)
    new = {key for _id, key in written}
    await participation.record(session, totals(rows.members, new), zone)
    return [transaction_id for transaction_id, _key in written]


async def _with_departments(
    session: AsyncSession, postings: Sequence[Posting]
) -> Sequence[Posting]:
    """Points earned without a department named count for the person's department now.

    Every earning then carries a department, which is what lets the participant counts
    (:mod:`points.ledger.participation`) take a person's period score as what they
    earned in their department when they never moved.
    """
    missing = sorted(
        {
            p.employee_id
            for p in postings
            if p.kind in models.EARNING_KINDS and p.department_id is None
        }
    )
    if not missing:
        return postings
    found = await session.exec(
        select(Employee.id, Employee.department_id).where(col(Employee.id).in_(missing))
    )
    where = {int(e or 0): int(d) for e, d in found.all()}
    return [
        replace(p, department_id=where.get(p.employee_id))
        if p.kind in models.EARNING_KINDS and p.department_id is None
        else p
        for p in postings
    ]


async def accounts_of(
    session: AsyncSession, postings: Iterable[Posting], known: Mapping[AccountRef, int] | None
) -> dict[AccountRef, int]:
    found = dict(known or {})
    missing = {ref for p in postings for ref, _amount in p.legs} - found.keys()
    if missing:
        found.update(await account_ids(session, missing))
    return found


def store_for(session: AsyncSession) -> Store:
    """The store of the session's dialect: chosen here, and only here."""
    dialect = session.bind.dialect.name if session.bind is not None else ""
    if dialect == "postgresql":
        from points.ledger.writer_pg import POSTGRES

        return POSTGRES
    return PORTABLE


def totals(rows: Iterable[tuple[Any, ...]], new: set[str]) -> list[tuple[Any, ...]]:
    """Sum the last column of rows of new transactions by the columns between key and
    value, sorted (so concurrent writers take row locks in the same order), zeros dropped."""
    summed: dict[tuple[Any, ...], int] = defaultdict(int)
    for key, *group, value in rows:
        if key in new:
            summed[tuple(group)] += value
    return [(*group, value) for group, value in sorted(summed.items()) if value]


class PortableStore:
    """SQLAlchemy statements any dialect runs; executemany, so each is compiled once."""

    async def write(self, session: AsyncSession, rows: Expanded) -> list[tuple[int, str]]:
        stmt: Insert = insert_for(session, models.LedgerTransaction)
        stmt = stmt.on_conflict_do_nothing(index_elements=["key"]).returning(  # type: ignore[attr-defined]
            col(models.LedgerTransaction.id), col(models.LedgerTransaction.key)
        )
        connection = await session.connection()
        inserted = [(i, k) for i, k in (await connection.execute(stmt, rows.transactions)).all()]
        if not inserted:
            return []
        ids = dict((k, i) for i, k in inserted)
        await connection.execute(
            insert_for(session, models.LedgerEntry),
            [
                {"transaction_id": ids[k], "account_id": a, "amount": m}
                for k, a, m in rows.legs
                if k in ids
            ],
        )
        new = set(ids)
        table = models.Account.__table__  # type: ignore[attr-defined]
        changes = [{"account": a, "delta": d} for a, d in totals(rows.legs, new)]
        if changes:
            await connection.execute(
                update(table)
                .where(table.c.id == bindparam("account"))
                .values(balance=table.c.balance + bindparam("delta")),
                changes,
            )
        for model, owner, scores in (
            (models.PeriodScore, "employee_id", rows.people),
            (models.DepartmentScore, "department_id", rows.departments),
            (models.RuleCapUsage, "", rows.caps),
        ):
            summed = totals(scores, new)
            if not summed:
                continue
            names = (
                ["employee_id", "rule_id", "cap_period_key"]
                if model is models.RuleCapUsage
                else [owner, "period", "period_key"]
            )
            upsert = insert_for(session, model)
            upsert = upsert.on_conflict_do_update(
                index_elements=names, set_={"points": model.points + upsert.excluded.points}
            )
            values = [dict(zip([*names, "points"], row, strict=True)) for row in summed]
            await connection.execute(upsert, values)
        return inserted


PORTABLE = PortableStore()
