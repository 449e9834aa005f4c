"""Onboarding (新手任务) for HR and heads: completion by department, who is stuck, nudges.

A new joiner joined ``POINTS_ONBOARDING_DAYS`` days ago or less. They are *done* when
every onboarding challenge they have is complete, and *stuck* when they are not done
:data:`STUCK_AFTER_DAYS` days after joining. A nudge is a WeCom app message through the
outbox (:mod:`points.wecom.messages` sends it), at most one per person and day, audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Permission, Principal
from points.auth.scope import require_department, visible_departments
from points.challenges.service import Standing, challenge_rules, standings
from points.errors import InvalidInput
from points.i18n import _, use_locale
from points.ledger.service import lock_people
from points.notifications.models import Notification
from points.notifications.service import notify
from points.org.models import Department, Employee, EmployeeStatus
from points.org.service import get_employee
from points.settings import Settings

STUCK_AFTER_DAYS = 7
NUDGE_KIND = "onboarding.nudge"


def nudge_kind(day: date) -> str:
    """The outbox kind of one day's nudge; one per person and day."""
    return f"{NUDGE_KIND}.{day.isoformat()}"


@dataclass
class Joiner:
    employee: Employee
    department: str
    department_en: str
    standing: Standing
    day: int  # days since joining, the join date being day 1
    nudged_today: bool = False

    @property
    def done(self) -> bool:
        return self.standing.onboarding_done

    @property
    def stuck(self) -> bool:
        return not self.done and self.day > STUCK_AFTER_DAYS

    @property
    def goals_met(self) -> int:
        return sum(p.met_goals for p in self.standing.onboarding)

    @property
    def goals(self) -> int:
        return sum(len(p.goals) for p in self.standing.onboarding)

    @property
    def missing(self) -> list[tuple[str, str]]:
        """(Chinese, English) titles of the goals still open."""
        return [
            (g.title, g.title_en) for p in self.standing.onboarding for g in p.goals if not g.met
        ]


@dataclass
class DepartmentCompletion:
    department_id: int
    name: str
    name_en: str
    joiners: int = 0
    done: int = 0
    stuck: int = 0

    @property
    def percent(self) -> int:
        return 100 * self.done // self.joiners if self.joiners else 0


@dataclass
class Overview:
    departments: list[DepartmentCompletion] = field(default_factory=list)
    joiners: list[Joiner] = field(default_factory=list)

    @property
    def done(self) -> int:
        return sum(1 for j in self.joiners if j.done)

    @property
    def stuck(self) -> list[Joiner]:
        return [j for j in self.joiners if j.stuck]


async def overview(
    session: AsyncSession, settings: Settings, principal: Principal, today: date
) -> Overview:
    """New joiners the principal may see (heads: their subtrees), by department."""
    visible = await visible_departments(session, principal)
    query = select(Employee).where(
        Employee.status == EmployeeStatus.active,
        col(Employee.excluded).is_(False),
        col(Employee.joined_on) > today - timedelta(days=settings.ONBOARDING_DAYS),
        col(Employee.joined_on) <= today,
    )
    if visible is not None:
        query = query.where(col(Employee.department_id).in_(sorted(visible)))
    people = list(
        (await session.exec(query.order_by(col(Employee.joined_on), col(Employee.id)))).all()
    )
    result = Overview()
    rules = [r for r in await challenge_rules(session) if r.challenge.starts == "joined"]
    if not people or not rules:
        return result
    found = await standings(session, settings, people, today, rules)
    departments = {
        d.id: d
        for d in (
            await session.exec(
                select(Department).where(
                    col(Department.id).in_(sorted({p.department_id for p in people}))
                )
            )
        ).all()
    }
    nudged = set(
        (
            await session.exec(
                select(Notification.userid).where(
                    col(Notification.userid).in_([p.userid for p in people]),
                    Notification.kind == nudge_kind(today),
                )
            )
        ).all()
    )
    rows: dict[int, DepartmentCompletion] = {}
    for person in people:
        assert person.id is not None and person.joined_on is not None
        standing = found[person.id]
        if not standing.onboarding:
            continue  # no onboarding quest applies to them
        department = departments[person.department_id]
        joiner = Joiner(
            person,
            department.name,
            department.name_en or department.name,
            standing,
            (today - person.joined_on).days + 1,
            person.userid in nudged,
        )
        result.joiners.append(joiner)
        row = rows.get(department.id)
        if row is None:
            row = rows[department.id] = DepartmentCompletion(
                department.id, department.name, department.name_en or department.name
            )
        row.joiners += 1
        row.done += joiner.done
        row.stuck += joiner.stuck
    result.departments = sorted(rows.values(), key=lambda r: (r.percent, r.name))
    return result


async def nudge(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    userid: str,
    today: date,
    ip: str = "",
) -> bool:
    """Queue today's reminder for a new joiner who is not done; False if already sent today.

    Heads may nudge only people in the departments they run; nobody nudges themselves.
    """
    principal.require(Permission.nudge_joiners)
    employee = await get_employee(session, userid)
    await require_department(session, principal, employee.department_id)
    if employee.userid == principal.userid:
        raise InvalidInput(_("You cannot nudge yourself."), code="own_nudge")
    assert employee.id is not None
    await lock_people(session, [employee.id])  # two heads at once: one message
    mine = (await standings(session, settings, [employee], today))[employee.id]
    if not mine.onboarding or employee.status != EmployeeStatus.active:
        raise InvalidInput(_("This person has no onboarding quests."), code="not_a_joiner")
    if mine.onboarding_done:
        raise InvalidInput(_("This person has finished their onboarding quests."), code="done")
    kind = nudge_kind(today)
    already = (
        await session.exec(
            select(Notification.id).where(Notification.userid == userid, Notification.kind == kind)
        )
    ).first()
    if already is not None:
        return False
    missing = [(g.title, g.title_en) for p in mine.onboarding for g in p.goals if not g.met]
    with use_locale(employee.locale or settings.DEFAULT_LOCALE):
        english = (employee.locale or settings.DEFAULT_LOCALE) == "en"
        todo = "、".join(en if english else zh for zh, en in missing)
        notify(
            session,
            userid=userid,
            kind=kind,
            title=_("Your onboarding quests: {n} to go").format(n=len(missing)),
            body=_("Still to do: {todo}. Each one is a real step in WeCom.").format(todo=todo),
            url="/",
        )
    await record(
        session,
        actor=principal.audit_name,
        action="onboarding.nudge",
        target=userid,
        details={"day": today.isoformat(), "missing": [zh for zh, _en in missing]},
        ip=ip,
    )
    return True
