"""Departments, employees and roles: the organisation the points live in."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime, tzinfo

from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.db import utcnow
from points.errors import InvalidInput, NotFound
from points.i18n import _
from points.org.models import (
    Department,
    Employee,
    EmployeeStatus,
    FormerDepartment,
    Role,
    RoleAssignment,
    Roll,
)
from points.shared_reads import shared


async def upsert_department(
    session: AsyncSession,
    *,
    id: int,
    name: str,
    parent_id: int | None,
    name_en: str | None = None,
    sort_order: int = 0,
) -> Department:
    """Create or update a department; its path follows its parent's."""
    parent_path = "/"
    if parent_id is not None:
        parent = await session.get(Department, parent_id)
        if parent is None:
            raise NotFound(f"parent department {parent_id} does not exist")
        parent_path = parent.path
    department = await session.get(Department, id)
    new_path = f"{parent_path}{id}/"
    if department is None:
        department = Department(id=id, name=name, parent_id=parent_id, path=new_path)
    else:
        if department.path != new_path:
            if new_path.startswith(department.path):
                raise InvalidInput("a department cannot move under its own subtree")
            await _rebase_subtree(session, department.path, new_path)
        department.name, department.parent_id, department.path = name, parent_id, new_path
    department.name_en = name_en
    department.sort_order = sort_order
    session.add(department)
    await session.flush()
    return department


async def _rebase_subtree(session: AsyncSession, old: str, new: str) -> None:
    rows = (
        await session.exec(select(Department).where(col(Department.path).startswith(old)))
    ).all()
    for row in rows:
        row.path = new + row.path[len(old) :]
        session.add(row)


async def subtree_ids(session: AsyncSession, department_id: int) -> list[int]:
    """The department and every department below it."""
    root = await session.get(Department, department_id)
    if root is None:
        raise NotFound(f"department {department_id} does not exist")
    rows = await session.exec(
        select(Department.id).where(col(Department.path).startswith(root.path))
    )
    return list(rows.all())


async def department_chain(session: AsyncSession, department_id: int) -> list[Department]:
    """The department and its ancestors, root first."""
    # Ancestors are the departments whose path starts this one's ("/1/" is not a prefix
    # of "/10/": paths end with a slash), root first: one statement.
    own = select(Department.path).where(Department.id == department_id).scalar_subquery()
    rows = (
        await session.exec(
            select(Department)
            .where(own.like(col(Department.path).concat("%")))
            .order_by(func.length(col(Department.path)))
        )
    ).all()
    return list(rows)


async def list_departments(session: AsyncSession) -> Sequence[Department]:
    return (
        await session.exec(
            select(Department).order_by(col(Department.path), col(Department.sort_order))
        )
    ).all()


#: ``(session, employee_id, roll before, zone)``: follows a change of someone's roll
#: (excluded, status, leaving date) in what is kept per department. The ledger keeps
#: it (:func:`points.ledger.participation.roll_changed`); the organisation imports no
#: ledger, so whoever changes a roll passes it in.
RollChanged = Callable[[AsyncSession, int, Roll, tzinfo], Awaitable[None]]


async def upsert_employee(
    session: AsyncSession,
    *,
    userid: str,
    name: str,
    department_id: int,
    title: str = "",
    joined_on: date | None = None,
    excluded: bool = False,
    moved_at: datetime | None = None,
    roll_changed: tuple[RollChanged, tzinfo] | None = None,
) -> Employee:
    """Create or update a person; a change of department is a move, remembered as of
    ``moved_at`` (default now) so the old department keeps what they earned there.

    Excluding or including someone who is already here changes their roll: the
    caller passes ``roll_changed`` (the function and the company zone) to follow it.
    """
    employee = (await session.exec(select(Employee).where(Employee.userid == userid))).first()
    before: Roll | None = None
    if employee is None:
        employee = Employee(userid=userid, name=name, department_id=department_id)
    else:
        before = Roll.of(employee)
        if employee.department_id != department_id:
            await _remember_move(session, employee, moved_at or utcnow())
    employee.name, employee.department_id, employee.title = name, department_id, title
    employee.joined_on = joined_on or employee.joined_on
    employee.excluded = excluded
    session.add(employee)
    await session.flush()
    if before is not None and before.excluded != excluded:
        if roll_changed is None:
            raise ValueError(f"{userid}: excluding or including someone needs roll_changed")
        follow, zone = roll_changed
        assert employee.id is not None
        await follow(session, employee.id, before, zone)
    return employee


async def _remember_move(session: AsyncSession, employee: Employee, at: datetime) -> None:
    """Close the person's stint in their current department at ``at``."""
    assert employee.id is not None
    since = (
        await session.exec(
            select(func.max(FormerDepartment.until)).where(
                FormerDepartment.employee_id == employee.id
            )
        )
    ).one()
    session.add(
        FormerDepartment(
            employee_id=employee.id, department_id=employee.department_id, since=since, until=at
        )
    )


def end_sessions(employee: Employee) -> None:
    """End every login session of this person (logout, a role change, leaving).

    Sessions carry the epoch they began in; a cookie from an earlier epoch is refused,
    so a copied or replayed cookie stops working everywhere at once.
    """
    employee.session_epoch += 1


async def get_employee(session: AsyncSession, userid: str, *, lock: bool = False) -> Employee:
    """The person with this userid; ``lock`` reads the row afresh and holds it until the
    transaction ends (who changes someone's roll must see it as it is now)."""
    query = select(Employee).where(Employee.userid == userid)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    employee = (await session.exec(query)).first()
    if employee is None:
        raise NotFound(_("No employee with userid {userid}.").format(userid=userid))
    return employee


async def find_active_employee(session: AsyncSession, userid: str) -> Employee | None:
    """The person with this userid if they still work here, else None."""
    employee = (await session.exec(select(Employee).where(Employee.userid == userid))).first()
    return employee if employee is not None and employee.status == EmployeeStatus.active else None


async def search_employees(
    session: AsyncSession,
    *,
    department_ids: Sequence[int] | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[Employee], int]:
    query = select(Employee).where(Employee.status == EmployeeStatus.active)
    if department_ids is not None:
        query = query.where(col(Employee.department_id).in_(department_ids))
    if q:
        query = query.where(or_(col(Employee.name).contains(q), col(Employee.userid).contains(q)))
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (await session.exec(query.order_by(Employee.userid).offset(offset).limit(limit))).all()
    return rows, total


async def grant_role(
    session: AsyncSession,
    *,
    userid: str,
    role: Role,
    department_id: int | None = None,
    granted_by: str = "system",
    ip: str = "",
    user_agent: str = "",
) -> RoleAssignment:
    """Give a person a role (a head needs the department they run); audited with from where."""
    if role == Role.employee:
        raise InvalidInput("everyone is an employee already")
    if role == Role.head and department_id is None:
        raise InvalidInput("a department head needs a department")
    if role != Role.head:
        department_id = None
    if department_id is not None and await session.get(Department, department_id) is None:
        raise NotFound(_("No such department."))
    employee = await get_employee(session, userid)
    existing = (
        await session.exec(
            select(RoleAssignment).where(
                RoleAssignment.employee_id == employee.id,
                RoleAssignment.role == role,
                RoleAssignment.department_id == department_id,
            )
        )
    ).first()
    if existing is not None:
        return existing
    assert employee.id is not None
    assignment = RoleAssignment(
        employee_id=employee.id, role=role, department_id=department_id, granted_by=granted_by
    )
    session.add(assignment)
    end_sessions(employee)
    await record(
        session,
        actor=granted_by,
        action="role.grant",
        target=userid,
        details={"role": role.value, "department_id": department_id},
        ip=ip,
        user_agent=user_agent,
    )
    return assignment


async def revoke_role(
    session: AsyncSession,
    *,
    userid: str,
    role: Role,
    revoked_by: str,
    ip: str = "",
    user_agent: str = "",
) -> int:
    employee = await get_employee(session, userid)
    rows = (
        await session.exec(
            select(RoleAssignment).where(
                RoleAssignment.employee_id == employee.id, RoleAssignment.role == role
            )
        )
    ).all()
    for row in rows:
        await session.delete(row)
    if rows:
        end_sessions(employee)
        await record(
            session,
            actor=revoked_by,
            action="role.revoke",
            target=userid,
            details={"role": role},
            ip=ip,
            user_agent=user_agent,
        )
    return len(rows)


async def people_with_roles(session: AsyncSession) -> Sequence[tuple[Employee, RoleAssignment]]:
    rows = await session.exec(
        select(Employee, RoleAssignment)
        .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
        .order_by(RoleAssignment.role, Employee.userid)
    )
    return rows.all()


async def login_choices(
    session: AsyncSession, employees: int = 6
) -> dict[str, list[dict[str, str]]]:
    """People to offer on the dev login page, a few of each role.

    Everyone who logs in by hand opens this page first: plain columns, kept a moment by
    the process (:mod:`points.shared_reads`).
    """
    return await shared(session, f"login_choices:{employees}", lambda: _choices(session, employees))


async def _choices(session: AsyncSession, employees: int) -> dict[str, list[dict[str, str]]]:
    choices: dict[str, list[dict[str, str]]] = {role.value: [] for role in Role}
    departments = dict((await session.exec(select(Department.id, Department.name))).all())
    held = await session.exec(
        select(
            Employee.userid,
            Employee.name,
            RoleAssignment.role,
            func.coalesce(RoleAssignment.department_id, Employee.department_id),
        )
        .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
        .where(Employee.status == EmployeeStatus.active)
        .order_by(RoleAssignment.role, Employee.userid)
    )
    for userid, name, role, department_id in held.all():
        if len(choices[role]) >= 8:
            continue
        where = departments.get(department_id, "")
        choices[role].append({"userid": userid, "name": name, "department": where})
    with_roles = select(RoleAssignment.employee_id)
    rows = await session.exec(
        select(Employee.userid, Employee.name, Employee.department_id)
        .where(Employee.status == EmployeeStatus.active, col(Employee.id).not_in(with_roles))
        .order_by(col(Employee.id))
        .limit(employees)
    )
    for userid, name, department_id in rows.all():
        choices[Role.employee].append(
            {"userid": userid, "name": name, "department": departments.get(department_id, "")}
        )
    return choices


async def names_by_userid(session: AsyncSession, userids: set[str]) -> dict[str, str]:
    """Display names for userids (people are shown by name, never by id)."""
    if not userids:
        return {}
    rows = await session.exec(
        select(Employee.userid, Employee.name).where(col(Employee.userid).in_(userids))
    )
    return dict(rows.all())


async def pick_people(session: AsyncSession, q: str, limit: int = 8) -> list[dict[str, str]]:
    """Active people whose name or userid contains ``q``: name, department, userid."""
    people, _total = await search_employees(session, q=q, limit=limit)
    departments = {d.id: d.name for d in await list_departments(session)}
    return [
        {"userid": p.userid, "name": p.name, "department": departments.get(p.department_id, "")}
        for p in people
    ]


async def shown_department_labels(session: AsyncSession) -> dict[int, tuple[str, ...]]:
    """:func:`department_labels` for what pages show, kept a moment by the process."""
    return await shared(session, "department_labels", lambda: department_labels(session))


async def department_labels(session: AsyncSession) -> dict[int, tuple[str, ...]]:
    """Each department's name and id, then its ancestors', most specific first: what a
    rule's `departments:` scope is matched against."""
    rows = await session.exec(select(Department.id, Department.name, Department.path))
    departments = {id_: (name, path) for id_, name, path in rows.all()}
    labels: dict[int, tuple[str, ...]] = {}
    for department_id, (_name, path) in departments.items():
        chain: list[str] = []
        for part in reversed([p for p in path.strip("/").split("/") if p]):
            ancestor = departments.get(int(part))
            if ancestor is not None:
                chain += [ancestor[0], str(int(part))]
        labels[department_id] = tuple(chain)
    return labels
