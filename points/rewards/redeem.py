"""Requesting a reward: the first phase of a two-phase workflow that cannot oversell.

A request holds the price (ledger ``hold``: available → held) after checking, in
the same database transaction, the balance, stock, per-person limit, audience,
window and whether the account is frozen. Fulfilment spends the hold (held →
the system ``spent`` account); decline, cancel, expiry and the leaver flow
release it (held → available) and give the unit of stock back.

Concurrency: every change locks the person first (their available account, the
row ``lock_people`` locks), so a person's balance, limit count and idempotency
key are judged one request at a time; stock is taken by a conditional
``UPDATE … WHERE stock > 0`` issued last, so the hot reward row is locked only
for the commit. A refusal raises :class:`RedemptionRefused` and the caller rolls
back: nothing changes.

A request is the busiest path, so it is short: one statement locks the person and
reads what the checks need, a second (only with an Idempotency-Key or a limit)
counts earlier requests, and on PostgreSQL one more writes everything
(:mod:`points.rewards.request_pg`) — the checks themselves are plain Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, literal_column, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased, make_transient_to_detached
from sqlmodel import SQLModel, col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit import service as audit
from points.calendar import Period, bounds_at
from points.db import is_postgres, utcnow
from points.errors import Conflict, InvalidInput, NotFound
from points.i18n import _
from points.ledger.models import Account, AccountKind, TransactionKind
from points.ledger.service import AccountRef, lock_people
from points.ledger.writer import post
from points.notifications.service import message
from points.org.models import Department, Employee, EmployeeStatus
from points.rewards import request_pg
from points.rewards.models import (
    COUNTED,
    Approver,
    Fulfilment,
    Redemption,
    RedemptionStatus,
    Reward,
)
from points.rewards.notices import notice, step, tell_heads
from points.rewards.policy import (
    LIMIT_MESSAGES,
    Actor,
    in_audience,
    in_window,
    leave_date_problem,
    refuse,
)
from points.rewards.postings import redemption_posting
from points.rewards.vouchers import reserve_code
from points.rewards.workflow import fulfil_locked
from points.settings import Settings


@dataclass
class RequestResult:
    redemption: Redemption
    created: bool  # False: an earlier request with the same Idempotency-Key


@dataclass
class _Offer:
    """The reward's columns a request needs (never the picture)."""

    id: int
    name: str
    name_en: str
    price: int
    stock: int | None
    limit_count: int | None
    limit_period: str | None
    audience: list[int]
    available_from: datetime | None
    available_until: datetime | None
    fulfilment: str
    approver: str
    expire_after_days: int
    active: bool


@dataclass
class _Requester:
    """The person asking, as read under their lock: balance and the accounts to post to."""

    id: int
    userid: str
    name: str
    locale: str | None
    status: str
    department_id: int
    department_path: str
    available: int
    available_account: int
    held_account: int | None
    next_id: int | None  # the redemption's id, drawn by the locking read (PostgreSQL)


_held = aliased(Account, name="held")

# One statement locks the person (their available account, as lock_people does) and
# reads what the checks need: the balance from the locked row (PostgreSQL returns
# its latest committed version once the lock is granted), the person, their
# department and the reward. Counts that depend on earlier requests of the same
# person are read by a later statement, which sees what the previous holder of the
# lock committed.
_LOCK_AND_READ = (
    core_select(
        col(Account.id),
        col(Account.balance),
        col(_held.id),
        col(Employee.userid),
        col(Employee.name),
        col(Employee.locale),
        col(Employee.status),
        col(Department.id),
        col(Department.path),
        col(Reward.id),
        col(Reward.name),
        col(Reward.name_en),
        col(Reward.price),
        col(Reward.stock),
        col(Reward.limit_count),
        col(Reward.limit_period),
        col(Reward.audience),
        col(Reward.available_from),
        col(Reward.available_until),
        col(Reward.fulfilment),
        col(Reward.approver),
        col(Reward.expire_after_days),
        col(Reward.active),
    )
    .select_from(Account)
    .join(Employee, col(Employee.id) == col(Account.employee_id))
    .join(Department, col(Department.id) == col(Employee.department_id))
    .outerjoin(
        _held,
        (col(_held.employee_id) == col(Account.employee_id))
        & (col(_held.kind) == AccountKind.held.value),
    )
    .outerjoin(Reward, col(Reward.id) == bindparam("reward_id"))
    .where(
        col(Account.employee_id) == bindparam("employee_id"),
        col(Account.kind) == AccountKind.available.value,
    )
    .with_for_update(of=Account)
)
# On PostgreSQL the same read also draws the id the redemption will have, so the
# request's rows and its hold can be written by one statement.
_LOCK_AND_READ_PG = _LOCK_AND_READ.add_columns(
    literal_column("nextval(pg_get_serial_sequence('redemption', 'id'))")
)

# What earlier requests of the same person say: the one with this key, and how many
# count towards the limit in the period. Read after the lock, in its own statement.
_EARLIER = core_select(
    select(col(Redemption.id))
    .where(
        col(Redemption.employee_id) == bindparam("employee_id"),
        col(Redemption.idempotency_key) == bindparam("key"),
    )
    .scalar_subquery(),
    select(func.count())
    .select_from(Redemption)
    .where(
        col(Redemption.employee_id) == bindparam("employee_id"),
        col(Redemption.reward_id) == bindparam("reward_id"),
        col(Redemption.status).in_([s.value for s in COUNTED]),
        col(Redemption.requested_at) >= bindparam("start"),
        col(Redemption.requested_at) < bindparam("end"),
    )
    .scalar_subquery(),
)


async def _lock_and_read(
    session: AsyncSession, employee_id: int, reward_id: int
) -> tuple[_Requester, _Offer | None]:
    postgres = is_postgres(session)
    statement = _LOCK_AND_READ_PG if postgres else _LOCK_AND_READ
    connection = await session.connection()
    params = {"employee_id": employee_id, "reward_id": reward_id}
    row = (await connection.execute(statement, params)).first()
    if row is None:
        # No available account yet: create it (and lock it) the general way, then read.
        await lock_people(session, [employee_id])
        row = (await connection.execute(statement, params)).first()
        if row is None:
            raise NotFound(_("No such employee."))
    values: tuple[Any, ...] = tuple(row)
    account, available, held, userid, name, locale, status, department, path = values[:9]
    person = _Requester(
        employee_id,
        userid,
        name,
        locale,
        status,
        department,
        path,
        available,
        account,
        held,
        values[23] if postgres else None,
    )
    # The reward's columns, in _Offer's order (all NULL when there is no such reward).
    return person, None if values[9] is None else _Offer(*values[9:23])


async def request_redemption(
    session: AsyncSession,
    settings: Settings,
    *,
    reward_id: int,
    employee_id: int,
    actor: Actor,
    idempotency_key: str | None = None,
    leave_date: date | None = None,
    now: datetime | None = None,
) -> RequestResult:
    """Check everything and hold the price, in the caller's transaction.

    Refusals raise :class:`RedemptionRefused` (the caller rolls back, so nothing
    changes). The same ``idempotency_key`` for the same person returns the first
    redemption instead of making another. Paid leave needs ``leave_date``, the day
    off (from today to a year ahead, else :class:`InvalidInput` with code
    ``leave_date``); other rewards ignore it.
    """
    now = now or utcnow()
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidInput(_("Idempotency-Key must be 1–128 characters."))
    person, reward = await _lock_and_read(session, employee_id, reward_id)
    limit: tuple[int, Period] | None = None
    if reward is not None and reward.limit_count is not None and reward.limit_period is not None:
        limit = (reward.limit_count, Period(reward.limit_period))
    used = 0
    if idempotency_key is not None or limit is not None:
        start = end = now
        if limit is not None:
            start, end = bounds_at(limit[1], now, settings.zone)
        connection = await session.connection()
        earlier_id, used = (
            await connection.execute(
                _EARLIER,
                {
                    "employee_id": employee_id,
                    "reward_id": reward_id,
                    "key": idempotency_key,
                    "start": start,
                    "end": end,
                },
            )
        ).one()
        if earlier_id is not None:
            earlier = await session.get(Redemption, earlier_id, populate_existing=True)
            assert earlier is not None
            if earlier.reward_id != reward_id:
                raise Conflict(
                    _("This Idempotency-Key was already used for another reward."),
                    code="idempotency_key_reused",
                )
            return RequestResult(earlier, created=False)
    if reward is None:
        raise NotFound(_("No such reward."))
    if person.status == EmployeeStatus.left:
        raise refuse(_("Account frozen"), "account_frozen")
    if not reward.active:
        raise refuse(_("This reward is no longer offered"), "inactive")
    if not in_window(reward, now):
        raise refuse(_("Not started yet or already over"), "outside_window")
    if not in_audience(reward, person.department_path):
        raise refuse(_("Not available to your department"), "not_in_audience")
    if reward.stock is not None and reward.stock <= 0:
        raise refuse(_("Sold out"), "sold_out")
    if limit is not None and used >= limit[0]:
        message = _(LIMIT_MESSAGES[limit[1]]).format(n=used)
        raise refuse(message, "limit_reached")
    if person.available < reward.price:
        raise refuse(
            _("Not enough points, {n} more needed").format(n=reward.price - person.available),
            "insufficient_points",
        )
    if reward.fulfilment == Fulfilment.leave:
        problem = leave_date_problem(leave_date, now.astimezone(settings.zone).date())
        if problem is not None:
            raise InvalidInput(problem, code="leave_date")
    else:
        leave_date = None
    needs_approval = reward.approver != Approver.none
    redemption = Redemption(
        id=person.next_id,
        reward_id=reward_id,
        employee_id=employee_id,
        department_id=person.department_id,
        price=reward.price,
        status=(
            RedemptionStatus.awaiting_approval
            if needs_approval
            else RedemptionStatus.awaiting_fulfilment
        ),
        idempotency_key=idempotency_key,
        requested_at=now,
        requested_by=actor.name,
        expires_at=now + timedelta(days=reward.expire_after_days),
        leave_date=leave_date,
    )
    # A voucher code or the heads' notices come after the request's rows; then the
    # stock is taken on its own, last. Otherwise the request's statement takes it.
    follow_up = reward.fulfilment == Fulfilment.voucher or reward.approver == Approver.head
    limited_stock = reward.stock is not None
    taken = await _write_request(
        session,
        settings,
        redemption,
        person,
        reward,
        actor,
        take_stock=limited_stock and not follow_up,
    )
    assert redemption.id is not None
    if reward.fulfilment == Fulfilment.voucher and not await reserve_code(
        session, reward_id, redemption.id
    ):
        raise refuse(_("Sold out"), "sold_out")
    if reward.approver == Approver.head:
        await tell_heads(
            session,
            settings,
            employee_id=person.id,
            name=person.name,
            department_path=person.department_path,
            reward_name=reward.name,
        )
    if limited_stock and taken is None:
        # Last, so the hot reward row stays locked only until commit.
        if session.new or session.dirty:
            await session.flush()
        taken = await _take_stock(session, reward_id)
    if limited_stock and not taken:
        raise refuse(_("Sold out"), "sold_out")
    if reward.fulfilment == Fulfilment.voucher and not needs_approval:
        # A code needs no one to hand it over: deliver at once.
        employee = await session.get(Employee, employee_id)
        full_reward = await session.get(Reward, reward_id, populate_existing=True)
        assert employee is not None and full_reward is not None
        await fulfil_locked(session, settings, redemption, full_reward, employee, actor, now)
    return RequestResult(redemption, created=True)


async def _write_request(
    session: AsyncSession,
    settings: Settings,
    redemption: Redemption,
    person: _Requester,
    reward: _Offer,
    actor: Actor,
    *,
    take_stock: bool,
    one_statement: bool | None = None,
) -> bool | None:
    """Write the redemption, its hold, first timeline step, audit row and notice.

    On PostgreSQL one statement writes them all (``redemption.id`` was drawn by the
    locking read) and, when ``take_stock``, takes the unit of stock last; elsewhere,
    or when ``one_statement`` is False, the session writes them. The redemption ends
    up in the session either way. Returns whether the stock was taken, or None when
    it is still to take.
    """
    if one_statement is None:
        one_statement = is_postgres(session)
    if not one_statement:
        redemption.id = None  # the session's INSERT draws it
        session.add(redemption)
        await session.flush()
    assert redemption.id is not None
    title, body = notice(settings, person.locale, reward.name, reward.name_en, redemption)
    rows: list[tuple[str, SQLModel]] = [
        ("step", step(redemption, actor, redemption.requested_at)),
        (
            "audit",
            audit.entry(
                actor=actor.name,
                action="redemption.request",
                target=f"redemption:{redemption.id}",
                details={"reward_id": reward.id, "employee_id": person.id, "price": reward.price},
                ip=actor.ip,
                user_agent=actor.user_agent,
            ),
        ),
        (
            "notice",
            message(
                userid=person.userid,
                kind=f"redemption.{redemption.status}",
                title=title,
                body=body,
                url=f"/rewards/mine/{redemption.id}",
            ),
        ),
    ]
    hold = redemption_posting(
        TransactionKind.hold,
        redemption,
        reward.name,
        reward.name_en,
        actor.name,
        redemption.requested_at,
    )
    if one_statement:
        taken = await request_pg.write_request(
            session,
            redemption,
            hold,
            _accounts_of(person),
            settings.zone,
            rows,
            take_stock=take_stock,
        )
        make_transient_to_detached(redemption)  # written: as if loaded from the database
        session.add(redemption)
        return taken if take_stock else None
    await post(session, [hold], settings.zone, known=_accounts_of(person))
    session.add_all([row for _name, row in rows])
    return None


def _accounts_of(person: _Requester) -> dict[AccountRef, int]:
    known: dict[AccountRef, int] = {(person.id, AccountKind.available): person.available_account}
    if person.held_account is not None:
        known[(person.id, AccountKind.held)] = person.held_account
    return known


async def _take_stock(session: AsyncSession, reward_id: int) -> bool:
    """One unit of stock, if any is left (the conditional UPDATE that cannot oversell)."""
    if is_postgres(session):
        return await request_pg.take_stock(session, reward_id)
    taken = await session.exec(
        update(Reward)
        .where(col(Reward.id) == reward_id, col(Reward.stock) > 0)
        .values(stock=col(Reward.stock) - 1)
        .execution_options(synchronize_session=False)
    )
    return taken.rowcount == 1
