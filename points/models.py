"""Every table, imported in one place so Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

from points.adjustments.models import PendingAdjustment
from points.appeals.models import Appeal
from points.audit.models import AuditEntry
from points.auth.models import ApiToken
from points.boards.models import FrozenBoard, FrozenRank
from points.dashboards.models import Pilot, PilotPulse
from points.events.models import ActivityEvent, EventConflict
from points.integrity.models import IntegrityFlag
from points.ledger.models import (
    Account,
    DepartmentScore,
    LedgerEntry,
    LedgerTransaction,
    PeriodScore,
    RuleCapUsage,
    RuleProgress,
    RuleProgressContribution,
    RuleStreak,
)
from points.levels.models import Level
from points.notifications.models import Notification
from points.ops.models import JobRun
from points.org.models import Department, Employee, FormerDepartment, RoleAssignment
from points.privacy.models import SiteText
from points.reviews.models import PendingAward
from points.rewards.models import Redemption, RedemptionStep, Reward, RewardGoal, VoucherCode
from points.rulesets.models import RuleVersion
from points.team_goals.models import TeamGoalResult
from points.wecom.models import (
    ApprovalPolicyRule,
    BehaviorDay,
    CallbackStatus,
    ConnectorState,
    QuarantinedRecord,
)
from points.workdays.models import CalendarDay

metadata = SQLModel.metadata

__all__ = [
    "Account",
    "ActivityEvent",
    "ApiToken",
    "Appeal",
    "ApprovalPolicyRule",
    "AuditEntry",
    "BehaviorDay",
    "CalendarDay",
    "CallbackStatus",
    "ConnectorState",
    "Department",
    "DepartmentScore",
    "Employee",
    "EventConflict",
    "FormerDepartment",
    "FrozenBoard",
    "FrozenRank",
    "IntegrityFlag",
    "JobRun",
    "LedgerEntry",
    "LedgerTransaction",
    "Level",
    "Notification",
    "PendingAdjustment",
    "PendingAward",
    "PeriodScore",
    "Pilot",
    "PilotPulse",
    "QuarantinedRecord",
    "Redemption",
    "RedemptionStep",
    "Reward",
    "RewardGoal",
    "RoleAssignment",
    "RuleCapUsage",
    "RuleProgress",
    "RuleProgressContribution",
    "RuleStreak",
    "RuleVersion",
    "SiteText",
    "TeamGoalResult",
    "VoucherCode",
    "metadata",
]
