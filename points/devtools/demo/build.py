"""``points demo``: migrate, build the company, feed its activity, stock the catalogue."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.dashboards import pulse
from points.dashboards.models import Pilot
from points.dashboards.pilots import create_pilot
from points.db import Database, utcnow
from points.devtools.demo.activity import feed_activity
from points.devtools.demo.company import build_company
from points.devtools.demo.joiners import joiner_events, make_joiners
from points.devtools.demo.rewards import build_demo_rewards
from points.errors import DomainError
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from points.migrate import upgrade_async
from points.org.models import Department
from points.rulesets.service import activate, ensure_active, save_draft
from points.settings import Settings
from points.wiring import load_jobs
from points.workdays.service import parse_calendar, save_days
from rules.loader import DEFAULT_RULES_PATH

DEMO_FILES = Path(__file__).resolve().parent

PILOT_TEAM = "客户服务部"
# The roll-out guide's two pilot goals (推广指引: 试点部门先行).
# 报销线上化 counts 报销 approvals only: the share of members who claimed expenses online.
PILOT_GOALS = (
    {"figure": "turnaround_hours", "kind": "improve", "value": 30, "label": "审批效率提升 30%"},
    {
        "figure": "approval_users_share",
        "kind": "target",
        "value": 90,
        "label": "报销审批线上化率",
        "templates": ["报销"],
    },
)
# Some members answered the weekly pulse (每周收集反馈): last week and this week.
PULSE_ANSWERS = (
    (14, 4, "审批节点太多，希望简化"),
    (7, 3, "报销要上传发票照片，手机上不太方便"),
    (7, 5, ""),
    (0, 4, "简化后快多了"),
    (0, 5, "客户资料在企业微信里好找"),
)


async def start_demo_pilot(
    session: AsyncSession, settings: Settings, *, days: int, owner: str = ""
) -> str:
    """One pilot in 客户服务部, started halfway through the demo's activity (so it has a
    baseline): customer service lives on WeCom (customers, approvals), a natural first team."""
    if days < 2:
        return "no pilot (too few days of activity)"
    team = (await session.exec(select(Department).where(Department.name == PILOT_TEAM))).first()
    if team is None or team.id is None:
        return f"no pilot (no {PILOT_TEAM})"
    today = utcnow().astimezone(settings.zone).date()
    await create_pilot(
        session,
        actor="system",
        name=f"{PILOT_TEAM}企业微信试点",
        department_ids=[team.id],
        start_on=today - timedelta(days=days // 2),
        days=60,
        goals=PILOT_GOALS,
        note="试点部门先行，再全员推广。",
        owner=owner,
    )
    return f"1 pilot ({PILOT_TEAM}) with two goals"


async def use_demo_rules(session: AsyncSession) -> None:
    """This year's and next year's working-day calendar, then the shipped rules plus the
    demo's working-day streak and 分享达人 milestones (``rules.yaml``) as version 2."""
    for year in (2026, 2027):
        text = (DEMO_FILES / f"calendar_{year}.json").read_text(encoding="utf-8")
        await save_days(session, parse_calendar(text), actor="system")
    extra = (DEMO_FILES / "rules.yaml").read_text(encoding="utf-8")
    source = DEFAULT_RULES_PATH.read_text(encoding="utf-8").rstrip() + "\n\n" + extra
    draft = await save_draft(session, source=source, author="system", note="演示规则")
    assert draft.id is not None
    await activate(session, version_id=draft.id, author="system")


async def seed_pulse(db: Database, queue: InlineQueue, settings: Settings) -> str:
    """A few members' pulse answers, scored like real ones (one award a week each)."""
    now = utcnow()
    answered = 0
    async with db.session() as session:
        pilot = (await session.exec(select(Pilot).order_by(col(Pilot.id)))).first()
        if pilot is None:
            return "no pulse answers (no pilot)"
        people = await pulse.members(session, pilot)
    for index, (days_ago, score, comment) in enumerate(PULSE_ANSWERS):
        if index >= len(people):
            break
        when = now - timedelta(days=days_ago, hours=1)
        async with db.session() as session:
            person = people[index]
            assert pilot.id is not None
            try:
                await pulse.answer(session, settings, person, pilot.id, score, comment, now=when)
            except DomainError:
                continue  # before the pilot started (a short demo)
            await commit(session, queue)
            answered += 1
    return f"{answered} pulse answers"


async def build_demo(settings: Settings, *, employees: int, days: int, seed: int) -> str:
    started = time.perf_counter()
    load_jobs()
    await upgrade_async(settings.DATABASE_URL)
    db = Database(settings)
    lines = []
    try:
        async with db.session() as session:
            company = await build_company(session, employees=employees, seed=seed)
            await ensure_active(session)
            await use_demo_rules(session)
            await session.commit()
        lines.append(
            f"demo company ready: {company.employees} employees in {company.departments} "
            f"departments; admin {company.admin}, HR {', '.join(company.hr)}"
        )
        # Scoring runs right here, in this process, batch by batch.
        queue = InlineQueue(settings, db)
        events = await feed_activity(db, queue, days=days, seed=seed, zone=settings.zone)
        lines.append(f"{events} events of {days} days scored")
        today = utcnow().astimezone(settings.zone).date()
        async with db.session() as session:
            joiners = await make_joiners(session, today)
            await session.commit()
        async with db.session() as session:
            await ingest(session, "demo", joiner_events(joiners, today, settings.zone))
            await commit(session, queue)
        lines.append(f"{len(joiners)} new joiners part-way through their onboarding quests")
        async with db.session() as session:
            lines.append(await build_demo_rewards(session, settings, seed))
            owner = company.hr[0] if company.hr else ""
            lines.append(await start_demo_pilot(session, settings, days=days, owner=owner))
            await session.commit()
        lines.append(await seed_pulse(db, queue, settings))
        await db.analyze()
    finally:
        await db.dispose()
    lines.append(f"built in {time.perf_counter() - started:.1f} s")
    return "\n".join(lines)
