"""Pilots that learn: template-bound goals in words, the weekly pulse scored once a week,
the weekly report to the owner and heads, and the CSV."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlmodel import col, select

from points.dashboards import pilot_report, pulse
from points.dashboards import pilots as dashboard_pilots
from points.dashboards.models import Pilot, PilotPulse
from points.errors import Conflict, Forbidden, InvalidInput
from points.i18n import use_locale
from points.jobs import InlineQueue, commit
from points.ledger.models import LedgerTransaction
from points.notifications.models import Notification
from points.org import service as org
from points.org.models import Role
from tests.support.boards import SHANGHAI
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

# A Friday inside the pilot (it started on Monday 2 November, for 30 days).
NOW = datetime.fromisoformat("2026-11-20T16:00:00+08:00")
START = date(2026, 11, 9)


async def _pilot(pg: Store) -> Pilot:
    async with pg.db.session() as session:
        admin = await make_department(session, "行政部")
        other = await make_department(session, "财务部")
        await make_employee(
            session, admin, userid="head", name="主管", role=Role.head, head_of=admin
        )
        await make_employee(session, admin, userid="a", name="甲")
        await make_employee(session, admin, userid="b", name="乙")
        await make_employee(session, other, userid="hr", name="人事")
        await make_employee(session, other, userid="f", name="财")
        await session.commit()
        pilot = await dashboard_pilots.create_pilot(
            session,
            actor="hr",
            owner="hr",
            name="行政部企业微信试点",
            department_ids=[admin.id or 0],
            start_on=START,
            days=30,
            goals=[
                {
                    "figure": "approval_users_share",
                    "kind": "target",
                    "value": 90,
                    "label": "报销线上化率",
                    "templates": "报销",
                },
                {"figure": "turnaround_hours", "kind": "improve", "value": 30, "label": "审批效率"},
            ],
        )
        await session.commit()
        return pilot


def _approval(number: int, actor: str, when: str, template: str) -> object:
    return event(
        f"ap:{number}", "approval.submitted", actor, when, sp_no=str(number), template=template
    )


async def test_a_template_bound_goal_counts_only_its_template_and_reads_in_words(
    pg: Store,
) -> None:
    pilot = await _pilot(pg)
    # Before: only 甲 claimed expenses online (1 of 3 members); a 请假 does not count.
    # During: 甲 and 乙 did (2 of 3).
    await send(
        pg,
        [
            _approval(1, "a", "2026-11-03T09:00", "报销"),
            _approval(2, "b", "2026-11-04T09:00", "请假"),
            _approval(3, "a", "2026-11-10T09:00", "报销"),
            _approval(4, "b", "2026-11-11T09:00", "报销"),
            _approval(5, "head", "2026-11-12T09:00", "请假"),
        ],
    )
    async with pg.db.session() as session:
        progress = await dashboard_pilots.pilot_progress(session, pilot, SHANGHAI, now=NOW)
    goal = progress.goals[0]
    assert goal.templates == ("报销",)
    assert (goal.baseline, goal.current) == (33.3, 66.7)
    # Every template counts in the pilot's own figures: all 3 members approved online.
    assert progress.figures.approval_users_share == 100.0
    with use_locale("zh_CN"):
        assert dashboard_pilots.goal_in_words(goal) == (
            "报销线上化率 33.3% → 66.7%，提升 33.4 个百分点，目标 ≥ 90%"
        )
    with use_locale("en"):
        assert dashboard_pilots.goal_in_words(goal) == (
            "报销线上化率 33.3% → 66.7%, up 33.4 percentage points, target ≥ 90%"
        )
    data = goal.to_dict()
    assert (data["unit"], data["direction"], data["templates"]) == ("%", "higher", ["报销"])


async def test_goal_input_is_checked(pg: Store) -> None:
    await _pilot(pg)
    async with pg.db.session() as session:
        dept = (await org.list_departments(session))[0]
        for goals, owner in (
            ([{"figure": "docs_shared", "value": 3, "templates": "报销"}], ""),
            ([{"figure": "approvals_submitted", "value": 3, "templates": ["x" * 41]}], ""),
            ([{"figure": "approvals_submitted", "value": 3}], "nobody"),
        ):
            with pytest.raises(InvalidInput):
                await dashboard_pilots.create_pilot(
                    session,
                    actor="hr",
                    name="x",
                    department_ids=[dept.id or 0],
                    start_on=START,
                    goals=goals,
                    owner=owner,
                )


async def _answer(pg: Store, userid: str, score: object, comment: object, now: datetime) -> None:
    queue = InlineQueue(pg.settings, pg.db)
    async with pg.db.session() as session:
        person = await org.get_employee(session, userid)
        pilot = (await session.exec(select(Pilot))).one()
        await pulse.answer(session, pg.settings, person, pilot.id or 0, score, comment, now=now)
        await commit(session, queue)


async def _pulse_points(pg: Store, userid: str) -> list[int]:
    async with pg.db.session() as session:
        person = await org.get_employee(session, userid)
        return list(
            (
                await session.exec(
                    select(LedgerTransaction.points).where(
                        LedgerTransaction.employee_id == person.id,
                        LedgerTransaction.rule_id == "pilot-feedback",
                    )
                )
            ).all()
        )


async def test_the_pulse_answer_scores_once_a_week(pg: Store) -> None:
    await _pilot(pg)
    await _answer(pg, "a", "4", "审批节点太多", NOW)
    assert await _pulse_points(pg, "a") == [5]
    # A second answer the same week is refused and changes nothing.
    with pytest.raises(Conflict):
        await _answer(pg, "a", "5", "again", NOW + timedelta(hours=1))
    assert await _pulse_points(pg, "a") == [5]
    async with pg.db.session() as session:
        rows = (await session.exec(select(PilotPulse))).all()
    assert [(r.score, r.comment, r.week_key) for r in rows] == [(4, "审批节点太多", "2026-W47")]
    # Next week is a new week.
    await _answer(pg, "a", 3, "", NOW + timedelta(days=7))
    assert await _pulse_points(pg, "a") == [5, 5]
    async with pg.db.session() as session:
        person = await org.get_employee(session, "a")
        cards = await pulse.for_home(session, pg.settings, person, NOW + timedelta(days=7))
    assert [(c.answer is not None, c.points) for c in cards] == [(True, 5)]


@pytest.mark.parametrize(
    ("score", "comment"),
    [(0, ""), (6, ""), ("x", ""), ("", ""), (3, "a\x00b"), (3, "长" * 1001)],
)
async def test_bad_answers_are_refused_and_change_nothing(
    pg: Store, score: object, comment: str
) -> None:
    await _pilot(pg)
    with pytest.raises(InvalidInput):
        await _answer(pg, "a", score, comment, NOW)
    async with pg.db.session() as session:
        assert (await session.exec(select(PilotPulse))).all() == []
    assert await _pulse_points(pg, "a") == []


async def test_only_members_of_a_running_pilot_are_asked(pg: Store) -> None:
    await _pilot(pg)
    with pytest.raises(Forbidden):
        await _answer(pg, "f", 4, "", NOW)  # not in the pilot's departments
    with pytest.raises(Forbidden):
        await _answer(pg, "a", 4, "", NOW + timedelta(days=40))  # the pilot is over


async def test_weekly_pulse_messages_and_report(pg: Store) -> None:
    await _pilot(pg)
    async with pg.db.session() as session:
        # Thursday: not yet; Friday: every member once; again: nothing more.
        assert await pilot_report.queue_pulses(session, pg.settings, NOW - timedelta(days=1)) == 0
        assert await pilot_report.queue_pulses(session, pg.settings, NOW) == 3
        await session.commit()
        assert await pilot_report.queue_pulses(session, pg.settings, NOW) == 0
    await _answer(pg, "a", 4, "审批节点太多", NOW)
    await _answer(pg, "b", 2, "", NOW)
    monday = NOW + timedelta(days=3)
    async with pg.db.session() as session:
        assert await pilot_report.queue_reports(session, pg.settings, monday) == 2
        await session.commit()
        assert await pilot_report.queue_reports(session, pg.settings, monday) == 0
        reports = (
            await session.exec(
                select(Notification)
                .where(col(Notification.kind).startswith("pilot.report"))
                .order_by(col(Notification.userid))
            )
        ).all()
    assert [r.userid for r in reports] == ["head", "hr"]
    report = reports[0]
    assert report.title == "试点周报：行政部企业微信试点（2026-W47）"
    assert "报销线上化率" in report.body and "目标 ≥ 90%" in report.body
    assert "本周反馈：3 人中 2 人回答，平均 3 分（满分 5 分）。" in report.body
    assert report.url.endswith(f"/dashboard/pilots/{(await _pilot_id(pg))}")


async def _pilot_id(pg: Store) -> int:
    async with pg.db.session() as session:
        return (await session.exec(select(Pilot.id))).one() or 0


async def test_the_csv_has_goals_in_words_and_the_pulse(pg: Store) -> None:
    pilot = await _pilot(pg)
    await _answer(pg, "a", 4, "=HYPERLINK(1)", NOW)
    async with pg.db.session() as session:
        progress = await dashboard_pilots.pilot_progress(session, pilot, SHANGHAI, now=NOW)
        weeks = await pulse.weeks(session, pilot)
    with use_locale("zh_CN"):
        rows = pilot_report.csv_rows(progress, weeks)
    assert rows[0][:3] == ["目标", "指标", "审批模板"]
    assert rows[1][0] == "报销线上化率" and rows[1][2] == "报销" and rows[1][4] == "越高越好"
    assert ["2026-W47", 1, "4", "", ""] in rows
    assert ["2026-W47", "", "", 4, "=HYPERLINK(1)"] in rows  # made inert by csv_export
