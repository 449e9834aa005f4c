"""Who may redeem what, and when: the refusal, the acting person, the checks that need
no database (audience, window, the limit's calendar period)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from points.auth.permissions import Principal
from points.calendar import Period
from points.errors import DomainError
from points.i18n import N_, _
from points.rewards.models import (
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
    Period.day: N_("Already redeemed {n} times today"),
    Period.week: N_("Already redeemed {n} times this week"),
    Period.month: N_("Already redeemed {n} times this month"),
    Period.quarter: N_("Already redeemed {n} times this quarter"),
    Period.year: N_("Already redeemed {n} times this year"),
}


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


# How far ahead a day of paid leave may be asked for (beyond is a typo, e.g. year 9999).
LEAVE_AHEAD = timedelta(days=366)


def leave_date_problem(leave_date: date | None, today: date) -> str | None:
    """Why this day cannot be taken as paid leave (translated), or None when it can."""
    if leave_date is None:
        return _("Choose the day you want off.")
    if leave_date < today:
        return _("The day of leave cannot be in the past.")
    if leave_date > today + LEAVE_AHEAD:
        return _("The day of leave must be within a year from today.")
    return None
