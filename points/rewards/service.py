"""Rewards and redemption: the catalogue, and a two-phase workflow that cannot oversell.

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

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import bindparam, case, literal_column, update
from sqlalchemy import select as core_select
from sqlalchemy.orm import aliased, make_transient_to_detached
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.db import utcnow
from points.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from points.i18n import N_, _, use_locale
from points.ledger.models import Account, AccountKind, TransactionKind
from points.ledger.service import (
    AccountRef,
    Posting,
    balances,
    is_postgres,
    lock_people,
    moving_legs,
    post,
)
from points.notifications.service import notify
from points.org.models import Department, Employee, EmployeeStatus, Role, RoleAssignment
from points.rewards import request_pg
from points.rewards.models import (
    COUNTED,
    PENDING,
    Approver,
    Fulfilment,
    LimitPeriod,
    Offer,
    Redemption,
    RedemptionStatus,
    RedemptionStep,
    Reward,
    VoucherCode,
    audience_of,
)
from points.rewards.schemas import RewardCreate
from points.settings import Settings

MAX_PICTURE_BYTES = 512 * 1024
PICTURE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
MAX_CODES_PER_UPLOAD = 20_000


class RedemptionRefused(DomainError):
    """A request the checks refused; ``message`` says exactly why, nothing changed."""

    status_code = 409
    code = "refused"


@dataclass(frozen=True)
class Actor:
    """Who acts (None: the system — jobs, the leaver flow) and from where, for the audit log."""

    principal: Principal | None = None
    ip: str = ""
    user_agent: str = ""

    @property
    def name(self) -> str:
        return self.principal.audit_name if self.principal else "system"


SYSTEM = Actor()

_LIMIT_MESSAGES = {
    LimitPeriod.day: N_("Already redeemed {n} times today"),
    LimitPeriod.week: N_("Already redeemed {n} times this week"),
    LimitPeriod.month: N_("Already redeemed {n} times this month"),
    LimitPeriod.quarter: N_("Already redeemed {n} times this quarter"),
    LimitPeriod.year: N_("Already redeemed {n} times this year"),
}

STATUS_LABELS = {
    RedemptionStatus.awaiting_approval: N_("Awaiting approval"),
    RedemptionStatus.awaiting_fulfilment: N_("Awaiting fulfilment"),
    RedemptionStatus.fulfilled: N_("Fulfilled"),
    RedemptionStatus.declined: N_("Declined"),
    RedemptionStatus.cancelled: N_("Cancelled"),
    RedemptionStatus.expired: N_("Expired"),
}


# ---------------------------------------------------------------- periods and checks


def period_bounds(period: LimitPeriod, moment: datetime, zone: tzinfo) -> tuple[datetime, datetime]:
    """The local-calendar period containing ``moment``, as [start, end) instants."""
    local = moment.astimezone(zone)
    day = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if period == LimitPeriod.day:
        start, end = day, day + timedelta(days=1)
    elif period == LimitPeriod.week:
        start = day - timedelta(days=day.weekday())
        end = start + timedelta(days=7)
    else:
        months = {LimitPeriod.month: 1, LimitPeriod.quarter: 3, LimitPeriod.year: 12}[period]
        first = (day.month - 1) // months * months + 1
        start = day.replace(month=first, day=1)
        year, month = divmod(first - 1 + months, 12)
        end = start.replace(year=start.year + year, month=month + 1)
    return start.replace(tzinfo=zone), end.replace(tzinfo=zone)


def in_audience(reward: Offer, department_path: str) -> bool:
    """True when the person's department is in the subtree of an audience department."""
    audience = audience_of(reward)
    if not audience:
        return True
    chain = {int(part) for part in department_path.strip("/").split("/") if part}
    return bool(chain.intersection(audience))


def in_window(reward: Offer, now: datetime) -> bool:
    if reward.available_from is not None and now < reward.available_from:
        return False
    return not (reward.available_until is not None and now >= reward.available_until)


def _refuse(message: str, code: str) -> RedemptionRefused:
    return RedemptionRefused(message, code=code)


# ---------------------------------------------------------------- catalogue


async def get_reward(session: AsyncSession, reward_id: int) -> Reward:
    reward = await session.get(Reward, reward_id)
    if reward is None:
        raise NotFound(_("No such reward."))
    return reward


async def list_rewards(session: AsyncSession, *, include_inactive: bool = False) -> list[Reward]:
    query = select(Reward)
    if not include_inactive:
        query = query.where(col(Reward.active).is_(True))
    rows = await session.exec(query.order_by(col(Reward.sort_order), col(Reward.price)))
    return list(rows.all())


@dataclass
class CatalogueItem:
    """A reward as one person sees it: can they afford it, how much is missing."""

    reward: Reward
    remaining: int | None  # units left (stock, or free codes); None is unlimited
    shortfall: int  # points still missing; 0 when affordable
    open_now: bool
    for_me: bool

    @property
    def affordable(self) -> bool:
        return self.shortfall == 0

    @property
    def sold_out(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    @property
    def low_stock(self) -> bool:
        return self.remaining is not None and 0 < self.remaining <= self.reward.low_stock_at


async def free_codes(session: AsyncSession, reward_ids: Sequence[int]) -> dict[int, int]:
    """How many unreserved codes each voucher reward has left."""
    if not reward_ids:
        return {}
    rows = await session.exec(
        select(VoucherCode.reward_id, func.count())
        .where(col(VoucherCode.reward_id).in_(reward_ids), col(VoucherCode.redemption_id).is_(None))
        .group_by(col(VoucherCode.reward_id))
    )
    return {reward_id: count for reward_id, count in rows.all()}


async def catalogue(
    session: AsyncSession,
    employee: Employee | None,
    *,
    include_inactive: bool = False,
    now: datetime | None = None,
) -> list[CatalogueItem]:
    """The rewards a person may see (their audience), with what they can afford."""
    now = now or utcnow()
    rewards = await list_rewards(session, include_inactive=include_inactive)
    available = 0
    path = "/"
    if employee is not None and employee.id is not None:
        available = (await balances(session, employee.id))[AccountKind.available]
        department = await session.get(Department, employee.department_id)
        path = department.path if department else "/"
    codes = await free_codes(
        session, [r.id for r in rewards if r.id and r.fulfilment == Fulfilment.voucher]
    )
    items = []
    for reward in rewards:
        for_me = employee is None or in_audience(reward, path)
        if not for_me and not include_inactive:
            continue
        remaining = reward.stock
        if reward.fulfilment == Fulfilment.voucher:
            pool = codes.get(reward.id or 0, 0)
            remaining = pool if remaining is None else min(remaining, pool)
        items.append(
            CatalogueItem(
                reward=reward,
                remaining=remaining,
                shortfall=max(0, reward.price - available) if employee is not None else 0,
                open_now=in_window(reward, now),
                for_me=for_me,
            )
        )
    return items


async def save_reward(
    session: AsyncSession, data: RewardCreate, actor: Actor, reward_id: int | None = None
) -> Reward:
    """Create a reward or change one; audited."""
    reward = (
        Reward(name=data.name, price=data.price)
        if reward_id is None
        else await get_reward(session, reward_id)
    )
    before = {} if reward_id is None else _reward_summary(reward)
    for name, value in data.model_dump().items():
        setattr(reward, name, value)
    reward.audience = sorted(set(data.audience))
    reward.updated_at = utcnow()
    reward.updated_by = actor.name
    if reward.fulfilment == Fulfilment.leave:
        reward.approver = Approver.head
    if reward.audience:
        known = (
            await session.exec(select(Department.id).where(col(Department.id).in_(reward.audience)))
        ).all()
        unknown = sorted(set(reward.audience) - set(known))
        if unknown:
            raise InvalidInput(_("Unknown department: {ids}").format(ids=unknown))
    session.add(reward)
    await session.flush()
    await record(
        session,
        actor=actor.name,
        action="reward.create" if reward_id is None else "reward.update",
        target=f"reward:{reward.id}",
        details={"before": before, "after": _reward_summary(reward)}
        if before
        else _reward_summary(reward),
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    return reward


def _reward_summary(reward: Reward) -> dict[str, Any]:
    return {
        "name": reward.name,
        "price": reward.price,
        "stock": reward.stock,
        "limit": [reward.limit_count, reward.limit_period],
        "audience": list(reward.audience or []),
        "fulfilment": reward.fulfilment,
        "approver": reward.approver,
        "active": reward.active,
    }


async def set_picture(
    session: AsyncSession, reward_id: int, data: bytes, content_type: str, actor: Actor
) -> None:
    """Store an uploaded picture in the database (no file storage to back up separately)."""
    if content_type not in PICTURE_TYPES:
        raise InvalidInput(_("Upload a PNG, JPEG, WebP or GIF picture."))
    if len(data) > MAX_PICTURE_BYTES:
        raise InvalidInput(_("The picture is larger than 512 KB."))
    reward = await get_reward(session, reward_id)
    reward.picture, reward.picture_type = data, content_type
    session.add(reward)
    await record(
        session,
        actor=actor.name,
        action="reward.picture",
        target=f"reward:{reward_id}",
        details={"bytes": len(data), "type": content_type},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )


def parse_codes(text: str) -> list[str]:
    """Codes from a CSV: the first column of each row; a header row 'code' is skipped."""
    codes: list[str] = []
    for row in csv.reader(io.StringIO(text.lstrip("\ufeff"))):
        if not row or not row[0].strip():
            continue
        value = row[0].strip()
        if not codes and value.lower() in ("code", "codes", "券码", "兑换码"):
            continue
        if len(value) > 200:
            raise InvalidInput(
                _("A code is longer than 200 characters: {code}…").format(code=value[:20])
            )
        codes.append(value)
    return codes


async def upload_codes(
    session: AsyncSession, reward_id: int, text: str, batch: str, actor: Actor
) -> tuple[int, int]:
    """Add codes to a voucher reward's pool; returns (added, duplicates skipped). Audited."""
    reward = await get_reward(session, reward_id)
    if reward.fulfilment != Fulfilment.voucher:
        raise InvalidInput(_("Only voucher rewards have a code pool."))
    parsed = parse_codes(text)
    codes = list(dict.fromkeys(parsed))
    if not codes:
        raise InvalidInput(_("The file has no codes."))
    if len(codes) > MAX_CODES_PER_UPLOAD:
        raise InvalidInput(_("At most 20000 codes per file."))
    existing = set(
        (
            await session.exec(
                select(VoucherCode.code).where(
                    VoucherCode.reward_id == reward_id, col(VoucherCode.code).in_(codes)
                )
            )
        ).all()
    )
    fresh = [c for c in codes if c not in existing]
    now = utcnow()
    for code in fresh:
        session.add(
            VoucherCode(
                reward_id=reward_id,
                code=code,
                batch=batch[:100],
                uploaded_at=now,
                uploaded_by=actor.name,
            )
        )
    await record(
        session,
        actor=actor.name,
        action="reward.codes_upload",
        target=f"reward:{reward_id}",
        details={"batch": batch[:100], "added": len(fresh), "duplicates": len(parsed) - len(fresh)},
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    return len(fresh), len(parsed) - len(fresh)


@dataclass
class CodePool:
    total: int
    free: int
    reserved: int  # held for a pending redemption, not shown to anyone yet
    given: int
    batches: list[tuple[str, int]]


async def code_pool(session: AsyncSession, reward_id: int) -> CodePool:
    row = (
        await session.exec(
            select(
                func.count(),
                func.sum(case((col(VoucherCode.redemption_id).is_(None), 1), else_=0)),
                func.sum(case((col(VoucherCode.given_at).is_not(None), 1), else_=0)),
            ).where(VoucherCode.reward_id == reward_id)
        )
    ).one()
    total, free, given = int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)
    batches = (
        await session.exec(
            select(VoucherCode.batch, func.count())
            .where(VoucherCode.reward_id == reward_id)
            .group_by(col(VoucherCode.batch))
            .order_by(col(VoucherCode.batch))
        )
    ).all()
    return CodePool(total, free, total - free - given, given, [(b, n) for b, n in batches])


# ---------------------------------------------------------------- requesting


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
    now: datetime | None = None,
) -> RequestResult:
    """Check everything and hold the price, in the caller's transaction.

    Refusals raise :class:`RedemptionRefused` (the caller rolls back, so nothing
    changes). The same ``idempotency_key`` for the same person returns the first
    redemption instead of making another.
    """
    now = now or utcnow()
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 128:
        raise InvalidInput(_("Idempotency-Key must be 1–128 characters."))
    person, reward = await _lock_and_read(session, employee_id, reward_id)
    limit: tuple[int, LimitPeriod] | None = None
    if reward is not None and reward.limit_count is not None and reward.limit_period is not None:
        limit = (reward.limit_count, LimitPeriod(reward.limit_period))
    used = 0
    if idempotency_key is not None or limit is not None:
        start = end = now
        if limit is not None:
            start, end = period_bounds(limit[1], now, settings.zone)
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
        raise _refuse(_("Account frozen"), "account_frozen")
    if not reward.active:
        raise _refuse(_("This reward is no longer offered"), "inactive")
    if not in_window(reward, now):
        raise _refuse(_("Not started yet or already over"), "outside_window")
    if not in_audience(reward, person.department_path):
        raise _refuse(_("Not available to your department"), "not_in_audience")
    if reward.stock is not None and reward.stock <= 0:
        raise _refuse(_("Sold out"), "sold_out")
    if limit is not None and used >= limit[0]:
        message = _(_LIMIT_MESSAGES[limit[1]]).format(n=used)
        raise _refuse(message, "limit_reached")
    if person.available < reward.price:
        raise _refuse(
            _("Not enough points, {n} more needed").format(n=reward.price - person.available),
            "insufficient_points",
        )
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
    if reward.fulfilment == Fulfilment.voucher and not await _reserve_code(
        session, reward_id, redemption.id
    ):
        raise _refuse(_("Sold out"), "sold_out")
    if reward.approver == Approver.head:
        await _tell_heads(session, settings, person, reward.name)
    if limited_stock and taken is None:
        # Last, so the hot reward row stays locked only until commit.
        if session.new or session.dirty:
            await session.flush()
        taken = await _take_stock(session, reward_id)
    if limited_stock and not taken:
        raise _refuse(_("Sold out"), "sold_out")
    if reward.fulfilment == Fulfilment.voucher and not needs_approval:
        # A code needs no one to hand it over: deliver at once.
        employee = await session.get(Employee, employee_id)
        full_reward = await session.get(Reward, reward_id, populate_existing=True)
        assert employee is not None and full_reward is not None
        await _fulfil_locked(session, settings, redemption, full_reward, employee, actor, now)
    return RequestResult(redemption, created=True)


def _hold(redemption: Redemption, reward: _Offer, actor: Actor) -> Posting:
    """The ledger hold of a request: its price, available → held."""
    assert redemption.id is not None
    return Posting(
        key=f"hold:{redemption.id}",
        kind=TransactionKind.hold,
        employee_id=redemption.employee_id,
        department_id=redemption.department_id,
        points=redemption.price,
        effective_at=redemption.requested_at,
        legs=moving_legs(
            redemption.employee_id,
            AccountKind.available,
            AccountKind.held,
            redemption.price,
            target_employee=redemption.employee_id,
        ),
        redemption_id=redemption.id,
        author=actor.name,
        reason=f"兑换「{reward.name}」冻结",
        reason_en=f"Held for {reward.name_en or reward.name}",
    )


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
    title, body = _notice(settings, person.locale, reward.name, reward.name_en, redemption)
    details = {"reward_id": reward.id, "employee_id": person.id, "price": reward.price}
    if one_statement:
        taken = await request_pg.write_request(
            session,
            redemption,
            _hold(redemption, reward, actor),
            _accounts_of(person),
            actor=actor.name,
            ip=actor.ip,
            user_agent=actor.user_agent,
            details=details,
            userid=person.userid,
            title=title,
            body=body,
            take_stock=take_stock,
        )
        make_transient_to_detached(redemption)  # written: as if loaded from the database
        session.add(redemption)
        return taken if take_stock else None
    redemption.id = None  # the session's INSERT draws it
    session.add(redemption)
    await session.flush()
    assert redemption.id is not None
    await post(session, [_hold(redemption, reward, actor)], settings.zone)
    _step(session, redemption, actor, redemption.requested_at)
    await record(
        session,
        actor=actor.name,
        action="redemption.request",
        target=f"redemption:{redemption.id}",
        details=details,
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
    notify(
        session,
        userid=person.userid,
        kind=f"redemption.{redemption.status}",
        title=title,
        body=body,
        url=f"/rewards/mine/{redemption.id}",
    )
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


async def _reserve_code(session: AsyncSession, reward_id: int, redemption_id: int) -> bool:
    """Set a free code aside for this redemption (nobody sees it until fulfilment)."""
    query = (
        select(VoucherCode.id)
        .where(VoucherCode.reward_id == reward_id, col(VoucherCode.redemption_id).is_(None))
        .order_by(col(VoucherCode.id))
        .limit(1)
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    code_id = (await session.exec(query)).first()
    if code_id is None:
        return False
    result = await session.exec(
        update(VoucherCode)
        .where(col(VoucherCode.id) == code_id, col(VoucherCode.redemption_id).is_(None))
        .values(redemption_id=redemption_id)
    )
    return result.rowcount == 1


# ---------------------------------------------------------------- notifying


def _step(
    session: AsyncSession, redemption: Redemption, actor: Actor, at: datetime, note: str = ""
) -> None:
    assert redemption.id is not None
    session.add(
        RedemptionStep(
            redemption_id=redemption.id,
            status=redemption.status,
            at=at,
            actor=actor.name,
            note=note[:500],
        )
    )


_NOTICES = {
    RedemptionStatus.awaiting_approval: (
        N_("Redemption requested: {reward}"),
        N_("{points} points are held while it waits for approval."),
    ),
    RedemptionStatus.awaiting_fulfilment: (
        N_("Redemption on its way: {reward}"),
        N_("{points} points are held until it is handed over."),
    ),
    RedemptionStatus.fulfilled: (
        N_("Redeemed: {reward}"),
        N_("{points} points were spent. Enjoy!"),
    ),
    RedemptionStatus.declined: (
        N_("Redemption declined: {reward}"),
        N_("{points} points are back in your balance. Reason: {reason}"),
    ),
    RedemptionStatus.cancelled: (
        N_("Redemption cancelled: {reward}"),
        N_("{points} points are back in your balance."),
    ),
    RedemptionStatus.expired: (
        N_("Redemption expired: {reward}"),
        N_("Nobody acted on it in time; {points} points are back in your balance."),
    ),
}


def _notice(
    settings: Settings,
    locale: str | None,
    reward_name: str,
    reward_name_en: str,
    redemption: Redemption,
) -> tuple[str, str]:
    """The title and body telling the person what happened, in their language."""
    title, body = _NOTICES[RedemptionStatus(redemption.status)]
    locale = locale or settings.DEFAULT_LOCALE
    with use_locale(locale):
        name = reward_name if locale == "zh_CN" or not reward_name_en else reward_name_en
        return (
            _(title).format(reward=name),
            _(body).format(points=redemption.price, reason=redemption.reason or "-"),
        )


def _tell(
    session: AsyncSession,
    settings: Settings,
    employee: Employee,
    reward: Reward,
    redemption: Redemption,
) -> None:
    """Tell the person what happened, in their language, through the outbox."""
    title, body = _notice(settings, employee.locale, reward.name, reward.name_en, redemption)
    notify(
        session,
        userid=employee.userid,
        kind=f"redemption.{redemption.status}",
        title=title,
        body=body,
        url=f"/rewards/mine/{redemption.id}",
    )


async def _tell_heads(
    session: AsyncSession, settings: Settings, person: _Requester, reward_name: str
) -> None:
    """Ask the nearest head above the person (never the person themselves) to approve."""
    chain = [int(p) for p in person.department_path.strip("/").split("/") if p]
    rows = (
        await session.exec(
            select(RoleAssignment.department_id, Employee.userid)
            .join(Employee, col(Employee.id) == col(RoleAssignment.employee_id))
            .where(
                RoleAssignment.role == Role.head,
                col(RoleAssignment.department_id).in_(chain),
                Employee.id != person.id,
                Employee.status == EmployeeStatus.active,
            )
        )
    ).all()
    if not rows:
        return
    nearest = max(chain.index(d) for d, _u in rows if d is not None)
    with use_locale(settings.DEFAULT_LOCALE):
        for department_id, userid in rows:
            if department_id == chain[nearest]:
                notify(
                    session,
                    userid=userid,
                    kind="redemption.approval_needed",
                    title=_("Approval needed: {name} asks for {reward}").format(
                        name=person.name, reward=reward_name
                    ),
                    url="/approvals",
                )


# ---------------------------------------------------------------- transitions


async def _lock_redemption(session: AsyncSession, redemption_id: int) -> Redemption:
    """The redemption, with its owner locked first (the same order as requests take)."""
    first = await session.get(Redemption, redemption_id)
    if first is None:
        raise NotFound(_("No such redemption."))
    await lock_people(session, [first.employee_id])
    query = (
        select(Redemption)
        .where(Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    )
    if is_postgres(session):
        query = query.with_for_update()
    return (await session.exec(query)).one()


async def _owner_and_reward(
    session: AsyncSession, redemption: Redemption
) -> tuple[Employee, Reward]:
    employee = await session.get(Employee, redemption.employee_id)
    reward = await session.get(Reward, redemption.reward_id)
    assert employee is not None and reward is not None
    return employee, reward


async def may_approve(session: AsyncSession, principal: Principal, redemption: Redemption) -> bool:
    """HR approve rewards that name HR; heads approve rewards naming the head, for
    people in their subtree other than themselves."""
    reward = await session.get(Reward, redemption.reward_id)
    assert reward is not None
    if reward.approver == Approver.hr:
        return principal.can(Permission.fulfil_redemptions)
    if reward.approver != Approver.head or not principal.can(Permission.approve_redemptions):
        return False
    if principal.employee_id == redemption.employee_id or not principal.head_of:
        return False
    employee = await session.get(Employee, redemption.employee_id)
    assert employee is not None
    department = await session.get(Department, employee.department_id)
    assert department is not None
    chain = {int(p) for p in department.path.strip("/").split("/") if p}
    return bool(chain & set(principal.head_of))


async def approve(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """Approve a request that needs it; it moves to the fulfilment queue. Audited."""
    redemption = await _lock_redemption(session, redemption_id)
    principal = actor.principal
    if principal is None or not await may_approve(session, principal, redemption):
        raise Forbidden(_("You cannot approve this redemption."))
    if redemption.status == RedemptionStatus.awaiting_fulfilment and redemption.approved_at:
        return redemption  # a second click
    if redemption.status != RedemptionStatus.awaiting_approval:
        raise Conflict(_("This redemption is no longer waiting for approval."))
    now = utcnow()
    employee, reward = await _owner_and_reward(session, redemption)
    redemption.status = RedemptionStatus.awaiting_fulfilment
    redemption.approved_at, redemption.approved_by = now, actor.name
    session.add(redemption)
    _step(session, redemption, actor, now, note=_("Approved"))
    await _audit(session, actor, "redemption.approve", redemption)
    _tell(session, settings, employee, reward, redemption)
    if reward.fulfilment == Fulfilment.voucher:
        await _fulfil_locked(session, settings, redemption, reward, employee, actor, now)
    return redemption


async def fulfil(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """Hand it over: the held points are spent, a reserved code is given. Audited."""
    if actor.principal is None or not actor.principal.can(Permission.fulfil_redemptions):
        raise Forbidden(_("Only HR can fulfil redemptions."))
    redemption = await _lock_redemption(session, redemption_id)
    if redemption.status == RedemptionStatus.fulfilled:
        return redemption  # a second click
    if redemption.status != RedemptionStatus.awaiting_fulfilment:
        raise Conflict(_("This redemption cannot be fulfilled now."))
    employee, reward = await _owner_and_reward(session, redemption)
    await _fulfil_locked(session, settings, redemption, reward, employee, actor, utcnow())
    return redemption


async def fulfil_many(
    session: AsyncSession, settings: Settings, redemption_ids: Sequence[int], actor: Actor
) -> int:
    """Bulk fulfil; redemptions not waiting for fulfilment are skipped. Returns how many."""
    done = 0
    for redemption_id in sorted(set(redemption_ids)):
        redemption = await _lock_redemption(session, redemption_id)
        if redemption.status != RedemptionStatus.awaiting_fulfilment:
            continue
        await fulfil(session, settings, redemption_id, actor)
        done += 1
    return done


async def _fulfil_locked(
    session: AsyncSession,
    settings: Settings,
    redemption: Redemption,
    reward: Reward,
    employee: Employee,
    actor: Actor,
    now: datetime,
) -> None:
    assert redemption.id is not None
    await post(
        session,
        [
            Posting(
                key=f"spend:{redemption.id}",
                kind=TransactionKind.spend,
                employee_id=redemption.employee_id,
                department_id=redemption.department_id,
                points=-redemption.price,
                effective_at=now,
                legs=moving_legs(
                    redemption.employee_id, AccountKind.held, AccountKind.spent, redemption.price
                ),
                redemption_id=redemption.id,
                author=actor.name,
                reason=f"兑换「{reward.name}」",
                reason_en=f"Redeemed {reward.name_en or reward.name}",
            )
        ],
        settings.zone,
    )
    if reward.fulfilment == Fulfilment.voucher:
        given = await session.exec(
            update(VoucherCode)
            .where(col(VoucherCode.redemption_id) == redemption.id)
            .values(given_at=now)
        )
        if given.rowcount != 1:
            raise Conflict(_("No voucher code is reserved for this redemption."))
    redemption.status = RedemptionStatus.fulfilled
    redemption.closed_at, redemption.closed_by = now, actor.name
    session.add(redemption)
    _step(session, redemption, actor, now)
    await _audit(session, actor, "redemption.fulfil", redemption)
    _tell(session, settings, employee, reward, redemption)


async def decline(
    session: AsyncSession, settings: Settings, redemption_id: int, reason: str, actor: Actor
) -> Redemption:
    """Say no, with a reason; the hold is released. Approvers and HR may decline."""
    reason = reason.strip()
    if not reason:
        raise InvalidInput(_("Say why it is declined."))
    redemption = await _lock_redemption(session, redemption_id)
    principal = actor.principal
    allowed = principal is not None and (
        principal.can(Permission.fulfil_redemptions)
        or await may_approve(session, principal, redemption)
    )
    if not allowed:
        raise Forbidden(_("You cannot decline this redemption."))
    if redemption.status == RedemptionStatus.declined:
        return redemption
    await _close(session, settings, redemption, RedemptionStatus.declined, actor, reason)
    return redemption


async def cancel(
    session: AsyncSession, settings: Settings, redemption_id: int, actor: Actor
) -> Redemption:
    """The person changed their mind before fulfilment; the hold is released."""
    redemption = await _lock_redemption(session, redemption_id)
    if actor.principal is None or actor.principal.employee_id != redemption.employee_id:
        raise Forbidden(_("Only the person who asked can cancel."))
    if redemption.status == RedemptionStatus.cancelled:
        return redemption
    await _close(session, settings, redemption, RedemptionStatus.cancelled, actor, "")
    return redemption


async def _close(
    session: AsyncSession,
    settings: Settings,
    redemption: Redemption,
    status: RedemptionStatus,
    actor: Actor,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Decline, cancel or expire: release the hold, the reserved code and the unit of stock."""
    if redemption.status not in PENDING:
        raise Conflict(_("This redemption is already closed."))
    assert redemption.id is not None
    now = now or utcnow()
    employee, reward = await _owner_and_reward(session, redemption)
    await post(
        session,
        [
            Posting(
                key=f"release:{redemption.id}",
                kind=TransactionKind.release,
                employee_id=redemption.employee_id,
                department_id=redemption.department_id,
                points=-redemption.price,
                effective_at=now,
                legs=moving_legs(
                    redemption.employee_id,
                    AccountKind.held,
                    AccountKind.available,
                    redemption.price,
                    target_employee=redemption.employee_id,
                ),
                redemption_id=redemption.id,
                author=actor.name,
                reason=f"兑换「{reward.name}」退回",
                reason_en=f"Released: {reward.name_en or reward.name}",
            )
        ],
        settings.zone,
    )
    await session.exec(
        update(VoucherCode)
        .where(col(VoucherCode.redemption_id) == redemption.id, col(VoucherCode.given_at).is_(None))
        .values(redemption_id=None)
    )
    await session.exec(
        update(Reward)
        .where(col(Reward.id) == reward.id, col(Reward.stock).is_not(None))
        .values(stock=col(Reward.stock) + 1)
        .execution_options(synchronize_session=False)
    )
    redemption.status = status
    redemption.closed_at, redemption.closed_by = now, actor.name
    redemption.reason = reason[:500]
    session.add(redemption)
    _step(session, redemption, actor, now, note=reason)
    await _audit(session, actor, f"redemption.{_ACTIONS[status]}", redemption, reason=reason)
    _tell(session, settings, employee, reward, redemption)


_ACTIONS = {
    RedemptionStatus.declined: "decline",
    RedemptionStatus.cancelled: "cancel",
    RedemptionStatus.expired: "expire",
}


async def _audit(
    session: AsyncSession, actor: Actor, action: str, redemption: Redemption, reason: str = ""
) -> None:
    details: dict[str, Any] = {
        "employee_id": redemption.employee_id,
        "reward_id": redemption.reward_id,
        "price": redemption.price,
    }
    if reason:
        details["reason"] = reason
    await record(
        session,
        actor=actor.name,
        action=action,
        target=f"redemption:{redemption.id}",
        details=details,
        ip=actor.ip,
        user_agent=actor.user_agent,
    )


async def expire_due(
    session: AsyncSession, settings: Settings, now: datetime | None = None, limit: int = 500
) -> int:
    """Release pending redemptions nobody acted on before ``expires_at``. Returns how many."""
    now = now or utcnow()
    ids = (
        await session.exec(
            select(Redemption.id)
            .where(
                col(Redemption.status).in_([s.value for s in PENDING]), Redemption.expires_at <= now
            )
            .order_by(col(Redemption.id))
            .limit(limit)
        )
    ).all()
    done = 0
    for redemption_id in ids:
        assert redemption_id is not None
        redemption = await _lock_redemption(session, redemption_id)
        if redemption.status in PENDING:
            await _close(
                session,
                settings,
                redemption,
                RedemptionStatus.expired,
                SYSTEM,
                _("Nobody acted on it in time"),
                now,
            )
            done += 1
    return done


async def release_holds_of(
    session: AsyncSession, settings: Settings, employee_id: int, reason: str
) -> int:
    """Cancel every pending redemption of a person (the leaver flow); returns how many."""
    await lock_people(session, [employee_id])
    ids = (
        await session.exec(
            select(Redemption.id)
            .where(
                Redemption.employee_id == employee_id,
                col(Redemption.status).in_([s.value for s in PENDING]),
            )
            .order_by(col(Redemption.id))
        )
    ).all()
    for redemption_id in ids:
        assert redemption_id is not None
        redemption = await _lock_redemption(session, redemption_id)
        await _close(
            session, settings, redemption, RedemptionStatus.cancelled, SYSTEM, reason or "left"
        )
    return len(ids)


# ---------------------------------------------------------------- reading


@dataclass
class RedemptionView:
    redemption: Redemption
    reward: Reward
    employee: Employee
    steps: list[RedemptionStep]
    voucher_code: str | None  # only for the owner, only once fulfilled


async def redemption_view(
    session: AsyncSession, redemption_id: int, principal: Principal
) -> RedemptionView:
    """A redemption with its timeline, for its owner, HR, or a head who may approve it."""
    redemption = await session.get(Redemption, redemption_id)
    if redemption is None:
        raise NotFound(_("No such redemption."))
    owner = principal.employee_id == redemption.employee_id
    if not (
        owner
        or principal.can(Permission.fulfil_redemptions)
        or await may_approve(session, principal, redemption)
    ):
        raise NotFound(_("No such redemption."))
    employee, reward = await _owner_and_reward(session, redemption)
    steps = (
        await session.exec(
            select(RedemptionStep)
            .where(RedemptionStep.redemption_id == redemption_id)
            .order_by(col(RedemptionStep.at), col(RedemptionStep.id))
        )
    ).all()
    code = None
    if owner and redemption.status == RedemptionStatus.fulfilled:
        code = (
            await session.exec(
                select(VoucherCode.code).where(VoucherCode.redemption_id == redemption_id)
            )
        ).first()
    return RedemptionView(redemption, reward, employee, list(steps), code)


async def my_redemptions(
    session: AsyncSession, employee_id: int, limit: int = 100
) -> list[tuple[Redemption, Reward]]:
    rows = await session.exec(
        select(Redemption, Reward)
        .join(Reward, col(Reward.id) == col(Redemption.reward_id))
        .where(Redemption.employee_id == employee_id)
        .order_by(col(Redemption.requested_at).desc(), col(Redemption.id).desc())
        .limit(limit)
    )
    return list(rows.all())


@dataclass
class QueueRow:
    redemption: Redemption
    reward: Reward
    employee: Employee
    department: str


async def fulfilment_queue(
    session: AsyncSession,
    *,
    statuses: Sequence[RedemptionStatus] = (RedemptionStatus.awaiting_fulfilment,),
    reward_id: int | None = None,
    department_ids: Sequence[int] | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[QueueRow], int]:
    """Redemptions for HR, oldest first, with filters."""
    query = (
        select(Redemption, Reward, Employee, Department.name)
        .join(Reward, col(Reward.id) == col(Redemption.reward_id))
        .join(Employee, col(Employee.id) == col(Redemption.employee_id))
        .join(Department, col(Department.id) == col(Redemption.department_id))
        .where(col(Redemption.status).in_([s.value for s in statuses]))
    )
    if reward_id is not None:
        query = query.where(Redemption.reward_id == reward_id)
    if department_ids is not None:
        query = query.where(col(Redemption.department_id).in_(department_ids))
    if q:
        query = query.where(col(Employee.name).contains(q) | col(Employee.userid).contains(q))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = await session.exec(
        query.order_by(col(Redemption.requested_at), col(Redemption.id)).offset(offset).limit(limit)
    )
    return [QueueRow(r, w, e, d) for r, w, e, d in rows.all()], total


async def approval_queue(session: AsyncSession, principal: Principal) -> list[QueueRow]:
    """Requests waiting for this person's approval (HR: rewards naming HR; heads: their
    subtree for rewards naming the head)."""
    rows, _total = await fulfilment_queue(
        session, statuses=(RedemptionStatus.awaiting_approval,), limit=500
    )
    return [row for row in rows if await may_approve(session, principal, row.redemption)]


@dataclass
class SpendRow:
    key: int
    name: str
    fulfilled: int
    spent: int
    pending: int
    held: int


async def spend_report(
    session: AsyncSession, *, by: str, since: datetime | None, until: datetime | None
) -> list[SpendRow]:
    """Points spent (fulfilled) and held (pending) per reward or per department.

    Fulfilled redemptions count by when they were fulfilled, pending ones by request.
    """
    if by not in ("reward", "department"):
        raise InvalidInput(_("Group by reward or department."))
    key = col(Redemption.reward_id) if by == "reward" else col(Redemption.department_id)
    name = col(Reward.name) if by == "reward" else col(Department.name)
    report: dict[int, SpendRow] = {}
    for closed, statuses, moment in (
        (True, [RedemptionStatus.fulfilled.value], col(Redemption.closed_at)),
        (False, [s.value for s in PENDING], col(Redemption.requested_at)),
    ):
        query = (
            select(key, name, func.count(), func.sum(col(Redemption.price)))
            .join(Reward, col(Reward.id) == col(Redemption.reward_id))
            .join(Department, col(Department.id) == col(Redemption.department_id))
            .where(col(Redemption.status).in_(statuses))
            .group_by(key, name)
        )
        if since is not None:
            query = query.where(moment >= since)
        if until is not None:
            query = query.where(moment < until)
        for k, n, count, points in (await session.exec(query)).all():
            row = report.setdefault(int(k), SpendRow(int(k), str(n), 0, 0, 0, 0))
            if closed:
                row.fulfilled, row.spent = int(count), int(points or 0)
            else:
                row.pending, row.held = int(count), int(points or 0)
    return sorted(report.values(), key=lambda r: (-r.spent, -r.held, r.name))


def spend_csv(rows: Sequence[SpendRow], by: str) -> str:
    """The report as CSV with a UTF-8 BOM, so Excel opens the Chinese names correctly."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "reward_id" if by == "reward" else "department_id",
            "name",
            "fulfilled",
            "points_spent",
            "pending",
            "points_held",
        ]
    )
    for r in rows:
        writer.writerow([r.key, r.name, r.fulfilled, r.spent, r.pending, r.held])
    return "\ufeff" + out.getvalue()


async def record_export(
    session: AsyncSession,
    actor: Actor,
    by: str,
    rows: int,
    since: datetime | None,
    until: datetime | None,
) -> None:
    await record(
        session,
        actor=actor.name,
        action="rewards.export",
        target=f"spend_by_{by}",
        details={
            "rows": rows,
            "since": since.isoformat() if since else None,
            "until": until.isoformat() if until else None,
        },
        ip=actor.ip,
        user_agent=actor.user_agent,
    )
