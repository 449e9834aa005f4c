"""Department challenges: a team that reaches its target is paid once when the window closes."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlmodel import col, func, select

from points.events.schemas import EventIn
from points.ledger.models import LedgerTransaction
from points.org import service as org
from points.org.models import Employee
from points.rulesets.service import activate, compiled, ensure_active, save_draft
from points.team_goals import service
from points.team_goals.models import TeamGoalResult
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.reviews import available
from tests.support.services import Store

RULES = """\
- id: admin-online
  title: 行政部线上审批挑战
  title_en: Online approvals challenge
  points: 30
  badge: 线上先锋
  team_goal:
    departments: [行政部]
    when: approval.submitted
    measure: participation
    target: 60%
    window: {from: 2026-10-01, days: 10}
- id: finance-count
  title: 财务部审批冲刺
  points: 50
  team_goal:
    departments: [财务部]
    when: approval.submitted
    measure: count
    target: 10
    window: {from: 2026-10-01, days: 10}
"""
CLOSED = datetime(2026, 10, 11, 0, 30, tzinfo=SHANGHAI)


def submitted(n: int, actor: str, day: int) -> EventIn:
    return event(
        f"a:{actor}:{n}",
        "approval.submitted",
        actor,
        f"2026-10-{day:02d} 10:00",
        sp_no=f"{actor}{n}",
    )


async def _company(store: Store) -> dict[str, int]:
    async with store.db.session() as session:
        admin = await make_department(session, "行政部")
        finance = await make_department(session, "财务部")
        people = {
            userid: await make_employee(session, admin, userid=userid, name=userid)
            for userid in ("a1", "a2", "a3")
        }
        people["f1"] = await make_employee(session, finance, userid="f1", name="f1")
        people["mover"] = await make_employee(session, finance, userid="mover", name="mover")
        await org.upsert_employee(
            session,
            userid="mover",
            name="mover",
            department_id=admin.id,
            moved_at=datetime(2026, 10, 4, 12, tzinfo=SHANGHAI),
        )
        people["newbie"] = await org.upsert_employee(
            session,
            userid="newbie",
            name="newbie",
            department_id=admin.id,
            joined_on=date(2026, 10, 5),
        )
        draft = await save_draft(session, source=RULES, author="hr")
        assert draft.id is not None
        await activate(session, version_id=draft.id, author="hr")
        await session.commit()
        return {k: v.id or 0 for k, v in people.items()}


async def _paid(store: Store) -> int:
    async with store.db.session() as session:
        found = await session.exec(
            select(func.count())
            .select_from(LedgerTransaction)
            .where(col(LedgerTransaction.key).startswith("team_goal:"))
        )
        return int(found.one())


async def test_a_team_that_reaches_its_target_pays_each_member_of_the_whole_window(
    store: Store,
) -> None:
    ids = await _company(store)
    events = [submitted(1, who, 2) for who in ("a1", "a2")]
    events += [submitted(1, "newbie", 6), submitted(1, "mover", 5), submitted(1, "f1", 3)]
    events += [submitted(2, "mover", 3)]  # still in 财务部 then: counts there, not here
    assert await send(store, events) == ["created"] * 6
    async with store.db.session() as session:
        # Before the close nothing is paid, whatever the figure.
        early = await service.settle(session, store.settings, CLOSED - timedelta(hours=1))
        assert early.settled == 0
        ruleset = compiled(await ensure_active(session))
        rule = ruleset.get("admin-online")
        assert rule is not None
        [team] = await service.measure(session, ruleset, rule, store.settings.zone, CLOSED)
        # Members: a1 a2 a3 newbie mover; active: a1 a2 newbie mover → 80% ≥ 60%.
        assert (team.members, team.active, team.events) == (5, 4, 4)
        assert team.met and team.shown(team.value) == "80%"
        assert sorted(p.userid for p in team.eligible) == ["a1", "a2", "a3"]
        summary = await service.settle(session, store.settings, CLOSED)
        await session.commit()
    assert (summary.settled, summary.met, summary.paid, summary.points) == (2, 1, 3, 90)
    async with store.db.session() as session:
        for who in ("a1", "a2", "a3"):
            person = await session.get(Employee, ids[who])
            assert person is not None and await available(session, person) == 30
        for who in ("newbie", "mover", "f1"):  # joined or moved in mid-window; other team
            person = await session.get(Employee, ids[who])
            assert person is not None and await available(session, person) == 0
        line = (
            await session.exec(
                select(LedgerTransaction).where(
                    LedgerTransaction.key == f"team_goal:admin-online:2026-10-01:{ids['a1']}"
                )
            )
        ).one()
        assert line.rule_id == "admin-online" and line.badge == "线上先锋"
        assert "行政部参与率 80%（目标 60%" in line.reason
        finance = [r for r in await service.results(session, "finance-count", date(2026, 10, 1))]
        assert [(r.met, r.events, r.awarded) for r in finance] == [(False, 2, 0)]
        # Running the job again (or a second worker) pays nobody twice.
        again = await service.settle(session, store.settings, CLOSED + timedelta(days=1))
        await session.commit()
        assert again.settled == 0
    assert await _paid(store) == 3


async def test_a_team_below_target_gets_nothing_and_is_settled_once(store: Store) -> None:
    await _company(store)
    await send(store, [submitted(1, "a1", 2)])
    async with store.db.session() as session:
        summary = await service.settle(session, store.settings, CLOSED)
        await session.commit()
        assert (summary.settled, summary.met, summary.paid) == (2, 0, 0)
        rows = (await session.exec(select(TeamGoalResult))).all()
        assert sorted((r.rule_id, r.met) for r in rows) == [
            ("admin-online", False),
            ("finance-count", False),
        ]
    assert await _paid(store) == 0
