"""Who may do what: the one permission table every route goes through."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from points.errors import Forbidden
from points.i18n import _
from points.org.models import Role


class Permission(enum.StrEnum):
    view_own = "view_own"  # my points, my history, redeem
    redeem = "redeem"
    view_department = "view_department"  # dashboards and boards of a subtree
    approve_redemptions = "approve_redemptions"
    view_company = "view_company"  # every department's figures
    manage_rules = "manage_rules"
    manage_rewards = "manage_rewards"
    fulfil_redemptions = "fulfil_redemptions"
    adjust_points = "adjust_points"
    export = "export"
    submit_events = "submit_events"
    manage_roles = "manage_roles"
    manage_tokens = "manage_tokens"
    manage_settings = "manage_settings"
    view_audit = "view_audit"
    manage_pilots = "manage_pilots"  # define pilot programmes (试点) and their goals
    view_spend = "view_spend"  # the reward spend report
    view_appeals = "view_appeals"  # appeals of the departments one may see (read-only)
    resolve_appeals = "resolve_appeals"
    run_jobs = "run_jobs"  # the periodic jobs page: see runs, run one now
    review_integrity = "review_integrity"  # the integrity queue: patterns worth a look
    review_awards = "review_awards"  # accept or reject awards of rules with `review`
    nudge_joiners = "nudge_joiners"  # remind a new joiner of their onboarding quests


_EMPLOYEE = {Permission.view_own, Permission.redeem}
_HEAD = _EMPLOYEE | {
    Permission.view_department,
    Permission.approve_redemptions,
    Permission.view_appeals,
    Permission.review_awards,
    Permission.nudge_joiners,
}
# Finance reads every figure and export, and changes nothing.
_FINANCE = _EMPLOYEE | {
    Permission.view_department,
    Permission.view_company,
    Permission.view_spend,
    Permission.export,
}
_HR = _HEAD | {
    Permission.view_company,
    Permission.view_spend,
    Permission.resolve_appeals,
    Permission.manage_rules,
    Permission.manage_rewards,
    Permission.fulfil_redemptions,
    Permission.adjust_points,
    Permission.export,
    Permission.submit_events,
    Permission.manage_pilots,
    Permission.review_integrity,
}
ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.employee: frozenset(_EMPLOYEE),
    Role.head: frozenset(_HEAD),
    Role.hr: frozenset(_HR),
    Role.finance: frozenset(_FINANCE),
    Role.admin: frozenset(Permission),
}


@dataclass(frozen=True)
class Principal:
    """The person (or token) making a request, with everything needed to authorise it."""

    userid: str
    name: str
    roles: frozenset[Role]
    employee_id: int | None = None
    # Departments whose subtree this person runs as head.
    head_of: frozenset[int] = field(default_factory=frozenset)
    via: str = "session"  # session | token:NAME
    read_only: bool = False  # a read-only token: every write is refused

    @property
    def permissions(self) -> frozenset[Permission]:
        granted: set[Permission] = set()
        for role in self.roles:
            granted |= ROLE_PERMISSIONS[role]
        return frozenset(granted)

    @property
    def top_role(self) -> Role:
        for role in (Role.admin, Role.hr, Role.finance, Role.head):
            if role in self.roles:
                return role
        return Role.employee

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions

    def require(self, permission: Permission) -> None:
        if not self.can(permission):
            raise Forbidden(_("You are not allowed to do this."), code="forbidden")

    @property
    def audit_name(self) -> str:
        return self.userid if self.via == "session" else f"{self.via}({self.userid})"
