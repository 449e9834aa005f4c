"""Who may redeem what, and when: the refusal, the acting person, the checks that need
no database (audience, window, the limit's calendar period)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from points.auth.permissions import Principal
from points.errors import DomainError
from points.i18n import N_
from points.rewards.models import (
    LimitPeriod,
    Offer,
    audience_of,
)


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

LIMIT_MESSAGES = {
    LimitPeriod.day: N_("Already redeemed {n} times today"),
    LimitPeriod.week: N_("Already redeemed {n} times this week"),
    LimitPeriod.month: N_("Already redeemed {n} times this month"),
    LimitPeriod.quarter: N_("Already redeemed {n} times this quarter"),
    LimitPeriod.year: N_("Already redeemed {n} times this year"),
}


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


def refuse(message: str, code: str) -> RedemptionRefused:
    return RedemptionRefused(message, code=code)
