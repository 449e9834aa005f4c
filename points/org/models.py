"""Departments (a tree, mirrored from WeCom), employees and their roles."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import NamedTuple

from sqlalchemy import Index, String, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from points.db import AwareDateTime, utcnow


class Department(SQLModel, table=True):
    """A WeCom department. ``path`` ("/1/2/7/") makes subtree queries one LIKE."""

    __tablename__ = "department"

    id: int = Field(primary_key=True, description="WeCom department id")
    name: str = Field(max_length=64)
    name_en: str | None = Field(default=None, max_length=64)
    parent_id: int | None = Field(default=None, foreign_key="department.id", index=True)
    path: str = Field(max_length=512, index=True)
    sort_order: int = 0


class EmployeeStatus(enum.StrEnum):
    active = "active"
    left = "left"


# Who is on the roll now, and who is not: the predicates of employee's partial indexes
# (a head count per department is an index-only count; the few off the roll a short scan).
ON_ROLL_NOW = "status = 'active' AND NOT excluded"
OFF_ROLL_NOW = "(status <> 'active' OR excluded)"


class Employee(SQLModel, table=True):
    __tablename__ = "employee"
    __table_args__ = (
        Index(
            "ix_employee_on_roll",
            "department_id",
            postgresql_where=text(ON_ROLL_NOW),
            sqlite_where=text(ON_ROLL_NOW),
        ),
        Index(
            "ix_employee_off_roll",
            "left_on",
            postgresql_where=text(OFF_ROLL_NOW),
            sqlite_where=text(OFF_ROLL_NOW),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    userid: str = Field(max_length=64, unique=True, index=True, description="WeCom userid")
    name: str = Field(max_length=64)
    department_id: int = Field(foreign_key="department.id", index=True)
    title: str = Field(default="", max_length=64)
    status: EmployeeStatus = Field(default=EmployeeStatus.active, sa_type=String(16))
    joined_on: date | None = None
    left_on: date | None = None
    # Bots, shared accounts and admins who should never earn or appear on boards.
    excluded: bool = False
    # Shown as 匿名同事 to others on public boards.
    board_opt_out: bool = False
    locale: str | None = Field(default=None, max_length=8)
    created_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    # Every login session carries the epoch it began in; raising it (logout, a role
    # change, leaving) ends all of this person's sessions at once, server-side.
    session_epoch: int = 0


class Roll(NamedTuple):
    """What decides whether a person is on the roll of a window (see
    :func:`points.ledger.participation.on_roll`): noted before one of them changes."""

    excluded: bool
    status: EmployeeStatus
    left_on: date | None

    @classmethod
    def of(cls, employee: Employee) -> Roll:
        return cls(bool(employee.excluded), EmployeeStatus(employee.status), employee.left_on)


class FormerDepartment(SQLModel, table=True):
    """A department a person was in before they moved, from when until when.

    Department boards keep history with it: a person counts as a member of every
    department they were in during a period (a mover counts in both). Only moves
    write rows; a person's current department is ``Employee.department_id`` from
    their latest ``until`` on (from the start when they never moved).
    """

    __tablename__ = "former_department"
    __table_args__ = (Index("ix_former_department_until", "until"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    department_id: int = Field(foreign_key="department.id")
    # None: from before anything was known of them.
    since: datetime | None = Field(default=None, sa_type=AwareDateTime)
    until: datetime = Field(sa_type=AwareDateTime)


class Role(enum.StrEnum):
    employee = "employee"
    head = "head"
    hr = "hr"
    finance = "finance"  # reads figures and exports them; changes nothing
    admin = "admin"


class RoleAssignment(SQLModel, table=True):
    """An extra role for a person; everyone is an employee without a row.

    A head's assignment names the department whose subtree they run.
    """

    __tablename__ = "role_assignment"
    __table_args__ = (UniqueConstraint("employee_id", "role", "department_id"),)

    id: int | None = Field(default=None, primary_key=True)
    employee_id: int = Field(foreign_key="employee.id", index=True)
    role: Role = Field(sa_type=String(16))
    department_id: int | None = Field(default=None, foreign_key="department.id")
    granted_at: datetime = Field(default_factory=utcnow, sa_type=AwareDateTime)
    granted_by: str = Field(default="system", max_length=64)
