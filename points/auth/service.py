"""Building principals, and creating and checking API tokens."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.models import ApiToken
from points.auth.permissions import Principal
from points.db import utcnow
from points.errors import InvalidInput, NotFound, Unauthorized
from points.i18n import _
from points.org.models import Employee, EmployeeStatus, Role, RoleAssignment

TOKEN_PREFIX = "wcp_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def principal_for_employee(session: AsyncSession, employee: Employee) -> Principal:
    """Everything a request needs to know about who is asking."""
    assert employee.id is not None
    rows = (
        await session.exec(select(RoleAssignment).where(RoleAssignment.employee_id == employee.id))
    ).all()
    return principal_of(employee, rows)


def principal_of(employee: Employee, assignments: Sequence[RoleAssignment]) -> Principal:
    """The principal of a person whose role assignments are already loaded."""
    assert employee.id is not None
    roles = {Role.employee} | {row.role for row in assignments}
    head_of = {
        row.department_id for row in assignments if row.role == Role.head and row.department_id
    }
    return Principal(
        userid=employee.userid,
        name=employee.name,
        roles=frozenset(roles),
        employee_id=employee.id,
        head_of=frozenset(head_of),
    )


async def person_with_roles(
    session: AsyncSession, userid: str
) -> tuple[Employee, list[RoleAssignment]] | None:
    """A person and their role assignments in one round trip (every signed-in request)."""
    rows = (
        await session.exec(
            select(Employee, RoleAssignment)
            .outerjoin(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
            .where(Employee.userid == userid)
        )
    ).all()
    if not rows:
        return None
    return rows[0][0], [assignment for _employee, assignment in rows if assignment is not None]


async def principal_for_userid(session: AsyncSession, userid: str) -> Principal | None:
    employee = (await session.exec(select(Employee).where(Employee.userid == userid))).first()
    if employee is None or employee.status != EmployeeStatus.active:
        return None
    return await principal_for_employee(session, employee)


async def create_token(
    session: AsyncSession,
    *,
    name: str,
    role: Role,
    userid: str | None,
    created_by: str = "cli",
    read_only: bool = False,
) -> str:
    """Create a bearer token and return it; only its hash is kept."""
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidInput("token name must be 1–64 characters")
    employee_id = None
    if userid is not None:
        employee = (await session.exec(select(Employee).where(Employee.userid == userid))).first()
        if employee is None:
            raise NotFound(f"no employee with userid {userid!r}")
        employee_id = employee.id
    elif role in (Role.employee, Role.head):
        raise InvalidInput(f"a {role.value} token acts as a person: pass --user USERID")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            name=name,
            role=role,
            employee_id=employee_id,
            token_hash=hash_token(token),
            prefix=token[:10],
            created_by=created_by,
            read_only=read_only,
        )
    )
    await record(
        session,
        actor=created_by,
        action="token.create",
        target=name,
        details={"role": role.value, "user": userid, "read_only": read_only},
    )
    return token


async def principal_for_token(session: AsyncSession, token: str) -> Principal:
    """Resolve a bearer token; malformed, unknown and revoked tokens are all 401."""
    if not token.startswith(TOKEN_PREFIX) or not (20 <= len(token) <= 128):
        raise Unauthorized(_("This API token is malformed."), code="bad_token")
    row = (
        await session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    ).first()
    if row is None or row.revoked_at is not None:
        raise Unauthorized(_("This API token is unknown or revoked."), code="bad_token")
    row.last_used_at = utcnow()
    session.add(row)
    # A token acts with exactly its role: never with the roles its person holds besides.
    roles = frozenset({Role.employee, row.role})
    if row.employee_id is not None:
        employee = await session.get(Employee, row.employee_id)
        if employee is None or employee.status != EmployeeStatus.active:
            raise Unauthorized(_("The person of this API token has left."), code="bad_token")
        base = await principal_for_employee(session, employee)
        return Principal(
            userid=base.userid,
            name=base.name,
            roles=roles,
            employee_id=base.employee_id,
            # A head token looks into the departments its person runs, nothing more.
            head_of=base.head_of if row.role == Role.head else frozenset(),
            via=f"token:{row.name}",
            read_only=row.read_only,
        )
    return Principal(
        userid=f"token:{row.name}",
        name=row.name,
        roles=roles,
        via=f"token:{row.name}",
        read_only=row.read_only,
    )


async def list_tokens(session: AsyncSession) -> Sequence[tuple[ApiToken, str | None]]:
    """Every token with the userid it acts as (if any), newest first."""
    rows = await session.exec(
        select(ApiToken, Employee.userid)
        .join(Employee, col(Employee.id) == col(ApiToken.employee_id), isouter=True)
        .order_by(col(ApiToken.id).desc())
    )
    return rows.all()


async def revoke_token(session: AsyncSession, *, token_id: int, revoked_by: str) -> bool:
    token = await session.get(ApiToken, token_id)
    if token is None:
        raise NotFound("no such token")
    if token.revoked_at is not None:
        return False
    token.revoked_at = utcnow()
    session.add(token)
    await record(session, actor=revoked_by, action="token.revoke", target=token.name)
    return True
