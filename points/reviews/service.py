"""Review before award: holding, accepting, rejecting and expiring awards.

The scorer hands awards of rules with ``review`` to :func:`hold` instead of the
ledger: each becomes a :class:`PendingAward` keyed like the ledger line it would be
(``award:{event}:{rule}:{version}``), so scoring the event again adds nothing.

**Caps and once_per.** A pending award holds its place: :func:`hold_places` adds
pending awards to the person's rule history exactly like posted ones (cap sums per
period, once_per values, first_time, cooldowns), so a later event cannot use room
the pending award will take when accepted, and accepting can never exceed a cap.
Rejected, expired and withdrawn awards give their place back.

**Who decides.** HR and admins decide every pending award; a department head decides
``review: {by: head}`` awards of people in the departments they run. Nobody decides
their own. Accepting posts the award through :func:`points.ledger.writer.post` with
its event and rule (and the reviewer as author); deciding twice is a no-op, and the
other decision after one is a 409. Each decision is audited and the person gets an
app message. :func:`expire_due` (job ``expire_pending_awards``) rejects awards nobody
decided in time, with that reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import and_, col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.auth.scope import visible_departments
from points.db import insert_for, utcnow
from points.errors import Conflict, Forbidden, InvalidInput, NotFound
from points.i18n import _
from points.ledger.models import LedgerTransaction, TransactionKind
from points.ledger.service import Posting, earning, lock_people
from points.ledger.writer import post
from points.notifications.service import notify
from points.org.models import Employee, EmployeeStatus, Role
from points.reviews.models import PendingAward, ReviewStatus
from points.settings import Settings
from rules import ActorHistory, CompiledRuleset
from rules.review import Review, expiry_of

MAX_REASON = 500
EXPIRED_REASON = "审核期限已过，无人处理，自动驳回"
EXPIRED_REASON_EN = "Nobody reviewed it in time; rejected automatically"
WITHDRAWN_REASON = "来源已撤回该事件"
DECIDED = (ReviewStatus.rejected, ReviewStatus.expired, ReviewStatus.withdrawn)


def reviewed_rules(ruleset: CompiledRuleset) -> dict[str, Review]:
    """The rules of ``ruleset`` whose awards wait for review, by id."""
    return {r.id: r.source.review for r in ruleset.rules if r.source.review is not None}


def not_back_applied(reviewed: Iterable[str]) -> list[Any]:
    """Ledger conditions leaving out what back-apply must not redo: awards of reviewed
    rules (a reviewer pays them) and team goal payouts (settled when a window closes)."""
    wanted: list[Any] = [~col(LedgerTransaction.key).startswith("team_goal:")]
    rules = sorted(set(reviewed))
    if rules:
        rule = col(LedgerTransaction.rule_id)
        wanted.append(or_(rule.is_(None), rule.not_in(rules)))
    return wanted


async def hold(
    session: AsyncSession, held: Sequence[tuple[Posting, Review]], now: datetime | None = None
) -> int:
    """Keep these awards pending instead of posting them; returns how many are new."""
    if not held:
        return 0
    now = now or utcnow()
    values = [
        {
            "key": p.key,
            "employee_id": p.employee_id,
            "department_id": p.department_id,
            "event_id": p.event_id,
            "rule_id": p.rule_id,
            "rule_version": p.rule_version,
            "points": p.points,
            "effective_at": p.effective_at,
            "cap_period_key": p.cap_period_key,
            "once_value": p.once_value,
            "badge": p.badge,
            "reason": p.reason[:500],
            "reason_en": p.reason_en[:500],
            "reviewer": review.by,
            "created_at": now,
            "expires_at": now + expiry_of(review),
            "status": ReviewStatus.pending.value,
            "decision_reason": "",
        }
        for p, review in held
    ]
    stmt = insert_for(session, PendingAward).values(values)
    result = await session.exec(stmt.on_conflict_do_nothing(index_elements=["key"]))
    return int(getattr(result, "rowcount", 0) or 0)


async def hold_places(
    session: AsyncSession, histories: Mapping[int, ActorHistory], rule_ids: Iterable[str]
) -> None:
    """Count pending awards in the people's rule history like posted ones."""
    rules = sorted(set(rule_ids))
    if not rules or not histories:
        return
    rows = await session.exec(
        select(PendingAward).where(
            col(PendingAward.employee_id).in_(list(histories)),
            col(PendingAward.rule_id).in_(rules),
            PendingAward.status == ReviewStatus.pending,
        )
    )
    for row in rows.all():
        history = histories[row.employee_id]
        if row.cap_period_key is not None:
            key = (row.rule_id, row.cap_period_key)
            history.period_points[key] = history.period_points.get(key, 0) + row.points
        last = history.last_award_at.get(row.rule_id)
        if last is None or row.effective_at > last:
            history.last_award_at[row.rule_id] = row.effective_at
        if row.once_value is not None:
            history.once_values.setdefault(row.rule_id, set()).add(row.once_value)
        history.rules_awarded.add(row.rule_id)


async def _load(session: AsyncSession, award_id: int) -> tuple[PendingAward, Employee]:
    award = await session.get(PendingAward, award_id, with_for_update=True)
    if award is None:
        raise NotFound(_("No such award."))
    employee = await session.get(Employee, award.employee_id)
    assert employee is not None
    return award, employee


def _is_hr(principal: Principal) -> bool:
    return bool(principal.roles & {Role.hr, Role.admin})


async def _may_decide(
    session: AsyncSession, principal: Principal, award: PendingAward, employee: Employee
) -> None:
    principal.require(Permission.review_awards)
    if principal.employee_id == employee.id or principal.userid == employee.userid:
        raise Forbidden(_("Nobody may review their own award."), code="own_award")
    if _is_hr(principal):
        return
    if award.reviewer != "head":
        raise Forbidden(_("Only HR may review this award."), code="hr_only")
    visible = await visible_departments(session, principal)
    if visible is not None and employee.department_id not in visible:
        raise Forbidden(_("You can only review awards of the departments you run."))


def _clean(reason: str) -> str:
    reason = reason.strip()
    if len(reason) > MAX_REASON:
        raise InvalidInput(_("The reason may be at most 500 characters."))
    return reason


async def accept(
    session: AsyncSession, settings: Settings, principal: Principal, award_id: int, ip: str = ""
) -> PendingAward:
    """Accept: the award is posted to the ledger now, naming its event and rule."""
    award, employee = await _load(session, award_id)
    await _may_decide(session, principal, award, employee)
    if award.status == ReviewStatus.accepted:
        return award  # the same form posted twice
    if award.status != ReviewStatus.pending:
        raise Conflict(_("This award was already decided."))
    if employee.status != EmployeeStatus.active:
        raise Conflict(_("This person has left; their account is frozen."), code="frozen")
    await lock_people(session, [employee.id or 0])
    posting = earning(
        award.key,
        TransactionKind.award,
        award.employee_id,
        award.department_id,
        award.points,
        award.effective_at,
        event_id=award.event_id,
        rule_id=award.rule_id,
        rule_version=award.rule_version,
        cap_period_key=award.cap_period_key,
        once_value=award.once_value,
        badge=award.badge,
        author=principal.audit_name[:96],
        reason=award.reason,
        reason_en=award.reason_en,
    )
    await post(session, [posting], settings.zone)
    award.transaction_id = (
        await session.exec(select(LedgerTransaction.id).where(LedgerTransaction.key == award.key))
    ).one()
    await _decide(session, principal.audit_name, award, employee, ReviewStatus.accepted, "", ip)
    return award


async def reject(
    session: AsyncSession, principal: Principal, award_id: int, reason: str = "", ip: str = ""
) -> PendingAward:
    """Reject: nothing reaches the ledger, and the award's place is given back."""
    reason = _clean(reason)
    award, employee = await _load(session, award_id)
    await _may_decide(session, principal, award, employee)
    if award.status == ReviewStatus.rejected:
        return award
    if award.status != ReviewStatus.pending:
        raise Conflict(_("This award was already decided."))
    await _decide(session, principal.audit_name, award, employee, ReviewStatus.rejected, reason, ip)
    return award


_TITLES = {
    ReviewStatus.accepted: "你的 {points} 分已通过审核：{reason}",
    ReviewStatus.rejected: "你的 {points} 分未通过审核：{reason}",
    ReviewStatus.expired: "你的 {points} 分审核已过期：{reason}",
}


async def _decide(
    session: AsyncSession,
    actor: str,
    award: PendingAward,
    employee: Employee,
    status: ReviewStatus,
    reason: str,
    ip: str = "",
    now: datetime | None = None,
) -> None:
    award.status, award.decided_by, award.decided_at = status, actor[:96], now or utcnow()
    award.decision_reason = reason[:500]
    session.add(award)
    await record(
        session,
        actor=actor,
        action=f"award.review.{status.value}",
        target=employee.userid,
        details={
            "award_id": award.id,
            "rule_id": award.rule_id,
            "event_id": award.event_id,
            "points": award.points,
            "reason": reason,
        },
        ip=ip,
    )
    title = _TITLES.get(status)
    if title is not None:
        notify(
            session,
            userid=employee.userid,
            kind=f"award.{status.value}",
            title=title.format(points=award.points, reason=award.reason)[:200],
            body=reason,
            url="/history",
        )


async def expire_due(session: AsyncSession, now: datetime | None = None) -> int:
    """Reject, with the reason, every award whose review period has passed."""
    now = now or utcnow()
    due = (
        await session.exec(
            select(PendingAward, Employee)
            .join(Employee, col(Employee.id) == col(PendingAward.employee_id))
            .where(PendingAward.status == ReviewStatus.pending, PendingAward.expires_at <= now)
            .order_by(col(PendingAward.id))
            .with_for_update(of=PendingAward)
        )
    ).all()
    for award, employee in due:
        await _decide(
            session, "system", award, employee, ReviewStatus.expired, EXPIRED_REASON, now=now
        )
    return len(due)


async def withdraw_for_events(session: AsyncSession, event_ids: Sequence[int]) -> int:
    """The source took these events back: their pending awards will never be paid."""
    if not event_ids:
        return 0
    rows = (
        await session.exec(
            select(PendingAward, Employee)
            .join(Employee, col(Employee.id) == col(PendingAward.employee_id))
            .where(
                col(PendingAward.event_id).in_(list(event_ids)),
                PendingAward.status == ReviewStatus.pending,
            )
        )
    ).all()
    for award, employee in rows:
        await _decide(session, "system", award, employee, ReviewStatus.withdrawn, WITHDRAWN_REASON)
    return len(rows)


async def queue(
    session: AsyncSession, principal: Principal, limit: int = 200
) -> list[tuple[PendingAward, Employee]]:
    """Pending awards this person may decide (their own left out), oldest first."""
    principal.require(Permission.review_awards)
    query = (
        select(PendingAward, Employee)
        .join(Employee, col(Employee.id) == col(PendingAward.employee_id))
        .where(
            PendingAward.status == ReviewStatus.pending,
            Employee.userid != principal.userid,
        )
        .order_by(col(PendingAward.created_at), col(PendingAward.id))
    )
    if not _is_hr(principal):
        visible = await visible_departments(session, principal)
        query = query.where(PendingAward.reviewer == "head")
        if visible is not None:
            query = query.where(col(Employee.department_id).in_(sorted(visible)))
    return list((await session.exec(query.limit(limit))).all())


@dataclass(frozen=True)
class PersonReviews:
    """What a person sees of their reviewed awards: waiting, and recently refused."""

    pending: list[PendingAward]
    refused: list[PendingAward]

    @property
    def pending_points(self) -> int:
        return sum(a.points for a in self.pending)


async def for_person(
    session: AsyncSession, employee_id: int, now: datetime | None = None
) -> PersonReviews:
    """The person's pending awards, and those refused in the last 30 days."""
    since = (now or utcnow()) - timedelta(days=30)
    rows = (
        await session.exec(
            select(PendingAward)
            .where(
                PendingAward.employee_id == employee_id,
                or_(
                    col(PendingAward.status) == ReviewStatus.pending.value,
                    and_(
                        col(PendingAward.status).in_([s.value for s in DECIDED]),
                        col(PendingAward.decided_at) >= since,
                    ),
                ),
            )
            .order_by(col(PendingAward.effective_at).desc(), col(PendingAward.id).desc())
            .limit(50)
        )
    ).all()
    return PersonReviews(
        pending=[r for r in rows if r.status == ReviewStatus.pending],
        refused=[r for r in rows if r.status != ReviewStatus.pending],
    )
