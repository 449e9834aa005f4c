"""Filing, seeing and answering appeals.

An upheld appeal is answered through the ordinary adjustment service (the same
ledger writer, checks and audit as any HR adjustment), keyed ``adjust:appeal:{id}``
so the adjustment and the appeal point at each other and a double submit is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.appeals.models import Appeal, AppealStatus
from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.calendar import day_start
from points.db import utcnow
from points.errors import Conflict, Forbidden, InvalidInput, NotFound
from points.events.models import ActivityEvent
from points.i18n import _
from points.ledger.adjustments import adjust
from points.ledger.models import LedgerTransaction
from points.notifications.service import notify
from points.org import service as org
from points.org.models import Employee
from points.settings import Settings

MAX_MESSAGE = 1000
MAX_REASON = 500
# How far around the appealed day HR sees the person's events and entries.
CONTEXT_DAYS = 3


def adjustment_key(appeal_id: int) -> str:
    """The ledger key of the adjustment that answers an appeal."""
    return f"adjust:appeal:{appeal_id}"


def appeal_of_key(key: str) -> int | None:
    """The appeal an adjustment answers, read from its ledger key."""
    prefix = "adjust:appeal:"
    tail = key[len(prefix) :] if key.startswith(prefix) else ""
    return int(tail) if tail.isdigit() else None


def _clean(text: str, limit: int, empty_message: str) -> str:
    text = text.replace("\x00", "").strip()
    if not text:
        raise InvalidInput(empty_message, code="message_required")
    if len(text) > limit:
        raise InvalidInput(
            _("Please keep it under {n} characters.").format(n=limit), code="too_long"
        )
    return text


async def file_appeal(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    *,
    message: str,
    entry_id: int | None = None,
    occurred_on: date | None = None,
    ip: str = "",
    user_agent: str = "",
) -> Appeal:
    """The caller appeals a line of their own history, or a day they got nothing for."""
    text = _clean(message, MAX_MESSAGE, _("Say what you think is wrong."))
    employee = await org.get_employee(session, principal.userid)
    assert employee.id is not None
    if entry_id is not None:
        entry = await session.get(LedgerTransaction, entry_id)
        if entry is None or entry.employee_id != employee.id:
            raise NotFound(_("No such line in your history."), code="entry_not_found")
    if occurred_on is not None:
        today = utcnow().astimezone(settings.zone).date()
        if occurred_on > today or occurred_on < today - timedelta(days=366):
            raise InvalidInput(
                _("Choose a day within the last year, not in the future."), code="bad_date"
            )
    appeal = Appeal(
        employee_id=employee.id,
        department_id=employee.department_id,
        entry_id=entry_id,
        occurred_on=occurred_on,
        message=text,
    )
    session.add(appeal)
    await session.flush()
    await record(
        session,
        actor=principal.audit_name,
        action="appeal.file",
        target=f"appeal:{appeal.id}",
        details={"entry_id": entry_id, "occurred_on": str(occurred_on or "")},
        ip=ip,
        user_agent=user_agent,
    )
    return appeal


async def _visible_where(session: AsyncSession, principal: Principal) -> Any:
    """Which appeals a person may see: HR all, heads their subtrees, everyone their own."""
    own = col(Appeal.employee_id) == (principal.employee_id or -1)
    if principal.can(Permission.resolve_appeals):
        return None
    if principal.can(Permission.view_appeals) and principal.head_of:
        departments: set[int] = set()
        for department_id in principal.head_of:
            departments.update(await org.subtree_ids(session, department_id))
        return or_(own, col(Appeal.department_id).in_(sorted(departments)))
    return own


async def list_appeals(
    session: AsyncSession,
    principal: Principal,
    *,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> Sequence[tuple[Appeal, Employee]]:
    """The appeals the caller may see, oldest open first (the queue's order)."""
    query = select(Appeal, Employee).join(Employee, col(Employee.id) == col(Appeal.employee_id))
    if status:
        try:
            query = query.where(Appeal.status == AppealStatus(status))
        except ValueError:
            raise InvalidInput(
                _("Status is one of open, resolved, rejected."), code="bad_status"
            ) from None
    where = await _visible_where(session, principal)
    if where is not None:
        query = query.where(where)
    rows = await session.exec(
        query.order_by(col(Appeal.created_at), col(Appeal.id)).offset(offset).limit(limit)
    )
    return rows.all()


async def get_appeal(
    session: AsyncSession, principal: Principal, appeal_id: int
) -> tuple[Appeal, Employee]:
    """One appeal, if the caller may see it; someone else's is simply not found."""
    query = (
        select(Appeal, Employee)
        .join(Employee, col(Employee.id) == col(Appeal.employee_id))
        .where(Appeal.id == appeal_id)
    )
    where = await _visible_where(session, principal)
    if where is not None:
        query = query.where(where)
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound(_("No such appeal."), code="appeal_not_found")
    return row


def _require_decider(principal: Principal, appeal: Appeal, employee: Employee) -> None:
    principal.require(Permission.resolve_appeals)
    if principal.employee_id is not None and principal.employee_id == employee.id:
        raise Forbidden(_("Nobody resolves their own appeal."), code="own_appeal")
    if appeal.status != AppealStatus.open:
        raise Conflict(_("This appeal has already been answered."), code="already_decided")


async def resolve(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    appeal_id: int,
    *,
    points: int,
    reason: str,
    ip: str = "",
    user_agent: str = "",
) -> Appeal:
    """Uphold an appeal with an adjustment linked to it; the person is told."""
    appeal, employee = await get_appeal(session, principal, appeal_id)
    _require_decider(principal, appeal, employee)
    text = _clean(reason, MAX_REASON - 20, _("An adjustment needs a reason."))
    assert appeal.id is not None
    await adjust(
        session,
        settings,
        userid=employee.userid,
        points=points,
        reason=_("Appeal #{id}: {reason}").format(id=appeal.id, reason=text),
        author=principal.audit_name,
        request_key=f"appeal:{appeal.id}",
        ip=ip,
    )
    transaction = (
        await session.exec(
            select(LedgerTransaction).where(LedgerTransaction.key == adjustment_key(appeal.id))
        )
    ).one()
    appeal.status = AppealStatus.resolved
    appeal.points = points
    appeal.transaction_id = transaction.id
    _decided(appeal, principal, text)
    session.add(appeal)
    await record(
        session,
        actor=principal.audit_name,
        action="appeal.resolve",
        target=f"appeal:{appeal.id}",
        details={"employee": employee.userid, "points": points, "transaction": transaction.id},
        ip=ip,
        user_agent=user_agent,
    )
    notify(
        session,
        userid=employee.userid,
        kind="appeal.resolved",
        title=f"你的积分申诉 #{appeal.id} 已处理：{points:+d} 分",
        body=text,
        url=f"/appeals/{appeal.id}",
    )
    return appeal


async def reject(
    session: AsyncSession,
    principal: Principal,
    appeal_id: int,
    *,
    reason: str,
    ip: str = "",
    user_agent: str = "",
) -> Appeal:
    """Turn an appeal down with a reason the person reads."""
    appeal, employee = await get_appeal(session, principal, appeal_id)
    _require_decider(principal, appeal, employee)
    text = _clean(reason, MAX_REASON, _("Say why the appeal is turned down."))
    appeal.status = AppealStatus.rejected
    _decided(appeal, principal, text)
    session.add(appeal)
    await record(
        session,
        actor=principal.audit_name,
        action="appeal.reject",
        target=f"appeal:{appeal.id}",
        details={"employee": employee.userid, "reason": text},
        ip=ip,
        user_agent=user_agent,
    )
    notify(
        session,
        userid=employee.userid,
        kind="appeal.rejected",
        title=f"你的积分申诉 #{appeal.id} 未通过",
        body=text,
        url=f"/appeals/{appeal.id}",
    )
    return appeal


def _decided(appeal: Appeal, principal: Principal, reason: str) -> None:
    appeal.decided_at = utcnow()
    appeal.decided_by = principal.audit_name[:96]
    appeal.decision_reason = reason


def is_overdue(appeal: Appeal, settings: Settings, now: datetime | None = None) -> bool:
    """Open longer than the SLA setting (never, when no SLA is set)."""
    if settings.APPEAL_SLA_DAYS <= 0 or appeal.status != AppealStatus.open:
        return False
    return (now or utcnow()) - appeal.created_at > timedelta(days=settings.APPEAL_SLA_DAYS)


@dataclass
class AppealContext:
    """What HR looks at to decide: the person's events and entries around the day."""

    day: date
    events: Sequence[ActivityEvent]
    entries: Sequence[LedgerTransaction]
    entry: LedgerTransaction | None


async def context(session: AsyncSession, settings: Settings, appeal: Appeal) -> AppealContext:
    entry = await session.get(LedgerTransaction, appeal.entry_id) if appeal.entry_id else None
    if appeal.occurred_on is not None:
        day = appeal.occurred_on
    elif entry is not None:
        day = entry.effective_at.astimezone(settings.zone).date()
    else:
        day = appeal.created_at.astimezone(settings.zone).date()
    start = day_start(day - timedelta(days=CONTEXT_DAYS), settings.zone)
    end = day_start(day + timedelta(days=CONTEXT_DAYS + 1), settings.zone)
    events = (
        await session.exec(
            select(ActivityEvent)
            .where(
                ActivityEvent.employee_id == appeal.employee_id,
                ActivityEvent.occurred_at >= start,
                ActivityEvent.occurred_at < end,
            )
            .order_by(col(ActivityEvent.occurred_at))
            .limit(200)
        )
    ).all()
    entries = (
        await session.exec(
            select(LedgerTransaction)
            .where(
                LedgerTransaction.employee_id == appeal.employee_id,
                LedgerTransaction.effective_at >= start,
                LedgerTransaction.effective_at < end,
            )
            .order_by(col(LedgerTransaction.effective_at))
            .limit(200)
        )
    ).all()
    return AppealContext(day=day, events=events, entries=entries, entry=entry)


async def for_home(session: AsyncSession, employee_id: int) -> Sequence[Appeal]:
    """Open appeals and those answered in the last 30 days, for the person's home page."""
    since = utcnow() - timedelta(days=30)
    rows = await session.exec(
        select(Appeal)
        .where(
            Appeal.employee_id == employee_id,
            or_(Appeal.status == AppealStatus.open, col(Appeal.decided_at) >= since),
        )
        .order_by(col(Appeal.id).desc())
        .limit(5)
    )
    return rows.all()


async def answers_by_entry(session: AsyncSession, entry_ids: Sequence[int]) -> dict[int, int]:
    """Which of these ledger lines answer an appeal: {transaction id: appeal id}."""
    if not entry_ids:
        return {}
    rows = await session.exec(
        select(Appeal.transaction_id, Appeal.id).where(
            col(Appeal.transaction_id).in_(list(entry_ids))
        )
    )
    return {int(t): int(a) for t, a in rows.all() if t is not None and a is not None}


def appeal_json(appeal: Appeal, employee: Employee, settings: Settings) -> dict[str, Any]:
    return {
        "id": appeal.id,
        "status": appeal.status,
        "employee": employee.userid,
        "name": employee.name,
        "department_id": appeal.department_id,
        "message": appeal.message,
        "entry_id": appeal.entry_id,
        "occurred_on": appeal.occurred_on.isoformat() if appeal.occurred_on else None,
        "created_at": appeal.created_at.isoformat(),
        "decided_at": appeal.decided_at.isoformat() if appeal.decided_at else None,
        "decided_by": appeal.decided_by or None,
        "reason": appeal.decision_reason or None,
        "points": appeal.points,
        "transaction_id": appeal.transaction_id,
        "overdue": is_overdue(appeal, settings),
    }
