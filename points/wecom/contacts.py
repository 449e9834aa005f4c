"""Contacts sync: WeCom's departments and members become ours.

New hires appear (and events that waited for them are scored), moves follow (past
ledger rows keep the department they were earned in; future ones count for the new
one), and people gone from WeCom start the leaver flow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.calendar import local_day
from points.db import utcnow
from points.errors import NotFound
from points.events.service import match_unmatched
from points.ledger.participation import roll_changed
from points.org import service as org
from points.org.leavers import mark_left
from points.org.models import Employee, EmployeeStatus, Roll
from points.rewards.workflow import release_holds_of
from points.settings import Settings
from points.wecom.client import WeComClient

# WeCom member status: 1 active, 2 disabled, 4 not yet activated, 5 quit.
_GONE_STATUSES = frozenset({2, 5})
#: A sync that would mark more than this share of active people as leavers stops:
#: that is a narrowed app visibility or a console mistake, not a wave of departures.
MAX_LEAVER_SHARE = 0.3
MIN_LEAVERS_BEFORE_GUARD = 5


class SuspiciousSync(Exception):
    """The directory WeCom returned would remove too many people; nothing was applied."""


@dataclass
class ContactsSummary:
    departments: int = 0
    employees: int = 0
    hired: list[str] = field(default_factory=list)
    moved: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    rejoined: list[str] = field(default_factory=list)
    matched_events: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "departments": self.departments,
            "employees": self.employees,
            "hired": len(self.hired),
            "moved": len(self.moved),
            "left": len(self.left),
            "rejoined": len(self.rejoined),
            "matched_events": self.matched_events,
        }


def _parents_first(departments: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Departments ordered so every parent comes before its children."""
    by_id = {int(d["id"]): d for d in departments}
    ordered: list[Mapping[str, Any]] = []
    placed: set[int] = set()

    def place(dept_id: int, trail: frozenset[int]) -> None:
        if dept_id in placed or dept_id in trail:
            return
        parent = int(by_id[dept_id].get("parentid") or 0)
        if parent in by_id:
            place(parent, trail | {dept_id})
        placed.add(dept_id)
        ordered.append(by_id[dept_id])

    for dept_id in sorted(by_id):
        place(dept_id, frozenset())
    return ordered


def _main_department(user: Mapping[str, Any], known: set[int]) -> int | None:
    main = user.get("main_department")
    if isinstance(main, int) and main in known:
        return main
    for dept in user.get("department") or []:
        if int(dept) in known:
            return int(dept)
    return None


async def sync_contacts(
    session: AsyncSession, settings: Settings, client: WeComClient, *, today: date | None = None
) -> ContactsSummary:
    """Mirror WeCom's directory into departments and employees, in the caller's transaction.

    Raises :class:`SuspiciousSync` (before changing anything) when WeCom returns no
    members, or when more than :data:`MAX_LEAVER_SHARE` of active people would leave.
    """
    today = today or local_day(utcnow(), settings.zone)
    summary = ContactsSummary()
    departments = _parents_first(await client.list_departments())
    known = {int(d["id"]) for d in departments}
    roots = [int(d["id"]) for d in departments if int(d.get("parentid") or 0) not in known]
    users: dict[str, Mapping[str, Any]] = {}
    for root in roots:
        for member in await client.list_users(root, fetch_child=True):
            userid = str(member.get("userid") or "").strip()
            if userid:
                users[userid] = member
    present = {u for u, user in users.items() if int(user.get("status") or 1) not in _GONE_STATUSES}
    existing = {e.userid: e for e in (await session.exec(select(Employee))).all()}
    active = {u for u, e in existing.items() if e.status == EmployeeStatus.active}
    leaving = sorted(active - present)
    if not present and active:
        raise SuspiciousSync("WeCom returned no members: check the app's visible range")
    if len(leaving) > max(MIN_LEAVERS_BEFORE_GUARD, MAX_LEAVER_SHARE * len(active)):
        raise SuspiciousSync(
            f"{len(leaving)} of {len(active)} people would leave: check the app's visible range"
        )

    for dept in departments:
        parent = int(dept.get("parentid") or 0)
        await org.upsert_department(
            session,
            id=int(dept["id"]),
            name=str(dept.get("name") or dept["id"])[:64],
            parent_id=parent if parent in known else None,
            name_en=(str(dept["name_en"])[:64] if dept.get("name_en") else None),
            sort_order=int(dept.get("order") or 0),
        )
        summary.departments += 1

    for userid in sorted(present):
        user = users[userid]
        department_id = _main_department(user, known)
        if department_id is None:
            continue
        before = existing.get(userid)
        if before is not None and before.status == EmployeeStatus.left:
            # A rejoin changes their roll: read it afresh, under a lock, as mark_left does.
            before = await org.get_employee(session, userid, lock=True)
        # upsert_employee updates the same identity-mapped object: note the old state first.
        old_department = before.department_id if before else None
        was_left = before is not None and before.status == EmployeeStatus.left
        roll = Roll.of(before) if before is not None else None
        employee = await org.upsert_employee(
            session,
            userid=userid,
            name=str(user.get("name") or userid)[:64],
            department_id=department_id,
            title=str(user.get("position") or "")[:64],
            joined_on=before.joined_on if before else today,
            # Exclusions are ours (bots, admins), WeCom does not know them.
            excluded=before.excluded if before else False,
        )
        summary.employees += 1
        if before is None:
            summary.hired.append(userid)
        elif was_left:
            employee.status = EmployeeStatus.active
            employee.left_on = None
            session.add(employee)
            assert roll is not None and employee.id is not None
            # Back on the roll of the windows since they left, which they earned in.
            await roll_changed(session, employee.id, roll, settings.zone)
            summary.rejoined.append(userid)
            await record(session, actor="wecom", action="employee.rejoined", target=userid)
        if old_department is not None and old_department != department_id:
            summary.moved.append(userid)
            await record(
                session,
                actor="wecom",
                action="employee.moved",
                target=userid,
                details={"from": old_department, "to": department_id},
            )

    for userid in leaving:
        if await mark_left(
            session,
            settings,
            userid,
            "gone from WeCom contacts",
            release_holds=release_holds_of,
            roll_changed=roll_changed,
            actor="wecom",
            left_on=today,
        ):
            summary.left.append(userid)

    if summary.hired or summary.rejoined:
        summary.matched_events = await match_unmatched(session, summary.hired + summary.rejoined)
    return summary


async def apply_leaver(
    session: AsyncSession, settings: Settings, userid: str, *, on: date, reason: str
) -> bool:
    """Start the leaver flow for a ``delete_user`` change; False if unknown or already left."""
    try:
        return await mark_left(
            session,
            settings,
            userid,
            reason,
            release_holds=release_holds_of,
            roll_changed=roll_changed,
            actor="wecom",
            left_on=on,
        )
    except NotFound:
        return False
