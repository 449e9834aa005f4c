"""Believable WeCom activity for the demo company, fed through the real intake path.

The pilot departments (行政部, 销售部) adopt first; the rest follow week by week;
weekends are quiet; a few people are heavy users and some never start.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import col, select

from points.db import Database
from points.events.schemas import EventIn
from points.events.service import MAX_BATCH, ingest
from points.jobs import JobQueue, commit
from points.org.models import Department, Employee, Role, RoleAssignment

PILOT_DEPARTMENTS = {2, 3}  # 行政部, 销售部 (and the regions below it)
SALES = {3, 31, 32, 33}
TEMPLATES = ("报销", "请假", "出差", "采购", "用印")
DOC_TITLES = (
    "周报",
    "客户方案",
    "会议纪要",
    "报价单",
    "项目计划",
    "培训资料",
    "季度总结",
    "产品手册",
)
MEETING_TOPICS = ("周例会", "项目评审", "客户沟通", "培训", "复盘会", "站会")
CUSTOMERS = ("华润", "美的", "海尔", "格力", "比亚迪", "顺丰", "中粮", "万科", "招商", "京东方")
TAGS = ("重点客户", "意向强", "已报价", "待回访", "老客户")


@dataclass
class Person:
    userid: str
    department_id: int
    head: bool
    start_day: int | None  # the day they begin using WeCom; None: never
    intensity: float


def _people(
    rng: random.Random, employees: list[Employee], paths: dict[int, str], heads: set[str], days: int
) -> list[Person]:
    people = []
    for employee in employees:
        path = paths.get(employee.department_id, "")
        top = int(path.strip("/").split("/")[1]) if path.count("/") > 2 else employee.department_id
        pilot = top in PILOT_DEPARTMENTS
        roll = rng.random()
        if roll < 0.08 and employee.userid not in heads:
            start = None  # some never start
        elif pilot:
            start = rng.randint(0, max(1, days // 9))
        else:
            start = rng.randint(days // 5, max(days // 5 + 1, int(days * 0.8)))
        intensity = 3.0 if rng.random() < 0.05 else rng.uniform(0.5, 1.3)
        people.append(
            Person(
                employee.userid, employee.department_id, employee.userid in heads, start, intensity
            )
        )
    return people


def _at(day: date, rng: random.Random, zone: ZoneInfo, early: int = 8, late: int = 19) -> datetime:
    minute = rng.randint(early * 60, late * 60)
    return datetime.combine(day, time(minute // 60, minute % 60), tzinfo=zone)


def generate(
    people: list[Person], *, days: int, end: date, seed: int, zone: ZoneInfo
) -> Iterator[EventIn]:
    """Events in time order, deterministic for a seed."""
    rng = random.Random(seed)
    heads = [p for p in people if p.head]
    serial = 0
    for offset in range(days):
        day = end - timedelta(days=days - 1 - offset)
        weekend = day.isoweekday() >= 6
        todays: list[EventIn] = []
        for person in people:
            if person.start_day is None or offset < person.start_day:
                continue
            # Usage grows over the first weeks after someone starts.
            ramp = min(1.0, 0.35 + (offset - person.start_day) / 28)
            rate = person.intensity * ramp * (0.08 if weekend else 1.0)
            if rng.random() > min(0.95, 0.75 * rate):
                continue
            before = len(todays)

            def event(
                type_: str,
                external_id: str,
                when: datetime,
                *,
                _who: str = person.userid,
                _into: list[EventIn] = todays,
                **attributes: Any,
            ) -> None:
                _into.append(
                    EventIn(
                        external_id=external_id,
                        type=type_,
                        actor=_who,
                        occurred_at=when,
                        attributes=attributes,
                    )
                )

            if offset == person.start_day:
                event(
                    "training.completed",
                    f"training:onboarding:{person.userid}",
                    _at(day, rng, zone),
                    course_id="wecom-101",
                    course="企业微信入门",
                    category="入职",
                    score=float(rng.randint(70, 100)),
                    passed=True,
                )
            if not weekend and rng.random() < 0.85:
                when = datetime.combine(day, time(8, rng.randint(20, 59)), tzinfo=zone)
                event(
                    "checkin.recorded",
                    f"checkin:{person.userid}:{day.isoformat()}:in",
                    when,
                    checkin_type="上班打卡",
                    on_time=when.minute < 56 or rng.random() < 0.2,
                    outside=person.department_id in SALES and rng.random() < 0.3,
                )
            if rng.random() < 0.22 * rate:
                serial += 1
                sp_no = f"{day:%Y%m%d}{serial:05d}"
                template = rng.choice(TEMPLATES)
                submitted = _at(day, rng, zone)
                event(
                    "approval.submitted",
                    f"approval:{sp_no}:submitted",
                    submitted,
                    template=template,
                    sp_no=sp_no,
                    on_time=rng.random() < 0.85,
                    approver_count=rng.randint(1, 3),
                )
                if heads and rng.random() < 0.9:
                    approver = rng.choice(heads)
                    hours = round(rng.choice((0.5, 1.0, 2.0, 3.0, 6.0, 20.0, 30.0)), 1)
                    todays.append(
                        EventIn(
                            external_id=f"approval:{sp_no}:decided:{approver.userid}",
                            type="approval.decided",
                            actor=approver.userid,
                            occurred_at=submitted + timedelta(hours=hours),
                            attributes={
                                "template": template,
                                "sp_no": sp_no,
                                "applicant": person.userid,
                                "decision": "approved",
                                "turnaround_hours": hours,
                            },
                        )
                    )
                if rng.random() < 0.03:
                    event(
                        "approval.revoked",
                        f"approval:{sp_no}:revoked",
                        submitted + timedelta(minutes=30),
                        template=template,
                        sp_no=sp_no,
                    )
            if rng.random() < 0.3 * rate:
                serial += 1
                title = rng.choice(DOC_TITLES)
                event(
                    "doc.shared",
                    f"doc:{serial}:shared",
                    _at(day, rng, zone),
                    doc_id=f"d{serial}",
                    doc_type="doc",
                    title=title,
                    recipients=rng.randint(1, 12),
                    external=False,
                )
            if rng.random() < 0.12 * rate:
                serial += 1
                event(
                    "doc.created",
                    f"doc:{serial}:created",
                    _at(day, rng, zone),
                    doc_id=f"d{serial}",
                    doc_type=rng.choice(("doc", "sheet")),
                    title=rng.choice(DOC_TITLES),
                )
            if rng.random() < 0.1 * rate:
                serial += 1
                event(
                    "meeting.started",
                    f"meeting:{serial}:started",
                    _at(day, rng, zone),
                    meeting_id=f"m{serial}",
                    topic=rng.choice(MEETING_TOPICS),
                    attendees=rng.randint(1, 9),
                    duration_minutes=float(rng.randint(15, 90)),
                    scheduled=rng.random() < 0.7,
                    external=False,
                )
            if person.department_id in SALES and rng.random() < 0.35 * rate:
                serial += 1
                customer = f"{rng.choice(CUSTOMERS)}{rng.randint(1, 99)}号店"
                event(
                    "customer.added",
                    f"customer:c{serial}:added",
                    _at(day, rng, zone),
                    external_userid=f"wmdemo{serial}",
                    customer_name=customer,
                    source="名片",
                )
                if rng.random() < 0.6:
                    tags = rng.sample(TAGS, rng.randint(1, 2))
                    event(
                        "customer.tagged",
                        f"customer:c{serial}:tagged",
                        _at(day, rng, zone),
                        external_userid=f"wmdemo{serial}",
                        customer_name=customer,
                        tags=tags,
                        tag_count=len(tags),
                    )
            if len(todays) > before and rng.random() < 0.5:
                event(
                    "app.entered",
                    f"app:{person.userid}:{day.isoformat()}",
                    _at(day, rng, zone),
                    app="积分",
                    agent_id="1000002",
                )
        todays.sort(key=lambda e: e.occurred_at)
        yield from todays


async def feed_activity(
    db: Database,
    queue: JobQueue,
    *,
    days: int,
    seed: int,
    zone: ZoneInfo,
    end: date | None = None,
) -> int:
    """Generate ``days`` of activity up to ``end`` (today) and send it through intake."""
    async with db.session() as session:
        employees = list(
            (
                await session.exec(
                    select(Employee)
                    .where(col(Employee.excluded).is_(False))
                    .order_by(col(Employee.id))
                )
            ).all()
        )
        paths = {d.id: d.path for d in (await session.exec(select(Department))).all()}
        heads = set(
            (
                await session.exec(
                    select(Employee.userid)
                    .join(RoleAssignment, col(RoleAssignment.employee_id) == col(Employee.id))
                    .where(RoleAssignment.role == Role.head)
                )
            ).all()
        )
    rng = random.Random(seed)
    people = _people(rng, employees, paths, heads, days)
    end = end or datetime.now(zone).date()
    sent = 0
    batch: list[EventIn] = []

    async def flush() -> None:
        async with db.session() as session:
            await ingest(session, "demo", batch)
            await commit(session, queue)
        batch.clear()

    for event in generate(people, days=days, end=end, seed=seed, zone=zone):
        if event.occurred_at > datetime.now(zone):
            continue  # today's activity stops at "now"
        batch.append(event)
        sent += 1
        if len(batch) >= MAX_BATCH:
            await flush()
    if batch:
        await flush()
    return sent
