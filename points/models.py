"""Every table, imported in one place so Alembic and tests see the whole schema."""

from __future__ import annotations

from sqlmodel import SQLModel

from points.audit.models import AuditEntry
from points.auth.models import ApiToken
from points.org.models import Department, Employee, RoleAssignment

metadata = SQLModel.metadata

__all__ = ["ApiToken", "AuditEntry", "Department", "Employee", "RoleAssignment", "metadata"]
