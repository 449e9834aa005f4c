from __future__ import annotations

from datetime import date, datetime

from points.dashboards import dashboard as dashboard_service
from points.dashboards import pilots as dashboard_pilots
from points.i18n import use_locale
from points.ledger.models import Period
from tests.support.boards import SHANGHAI, award
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

NOW = datetime.fromisoformat("2026-11-28T12:00:00+08:00")


async def _seed(pg: Store) -> dict[str, int]:
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        east = await make_department(session, "华东区", parent=sales)
        finance = await make_department(session, "财务部")
        await make_employee(session, sales, userid="head", name="王五")
        await make_employee(session, east, userid="a", name="甲")
        await make_employee(session, east, userid="b", name="乙")
        await make_employee(session, east, userid="idle", name="闲")
        await make_employee(session, finance, userid="f", name="财")
        await session.commit()
    events = [
        event(
            "ap:1",
            "approval.submitted",
            "a",
            "2026-11-03T09:00",
            sp_no="1",
            on_time=True,
            template="报销",
        ),
        event(
            "ap:2",
            "approval.submitted",
            "b",
            "2026-11-04T09:00",
            sp_no="2",
            on_time=False,
            template="报销",
        ),
        event(
            "dec:1", "approval.decided", "head", "2026-11-04T10:00", sp_no="1", turnaround_hours=4
        ),
        event(
            "dec:2", "approval.decided", "head", "2026-11-05T10:00", sp_no="2", turnaround_hours=2
        ),
        event(
            "dec:0", "approval.decided", "head", "2026-10-05T10:00", sp_no="0", turnaround_hours=6
        ),
        event("doc:1", "doc.shared", "a", "2026-11-20T09:00", doc_id="1"),
        event("fin:1", "checkin.recorded", "f", "2026-11-20T09:00"),
    ]
    await send(pg, events)
    return {"sales": sales.id, "finance": finance.id}


async def test_department_figures_cover_the_subtree_only(pg: Store) -> None:
    ids = await _seed(pg)
    async with pg.db.session() as session:
        from points.org.models import Department

        sales = await session.get(Department, ids["sales"])
        board = await dashboard_service.dashboard(
            session,
            department=sales,
            period=Period.month,
            key="2026-11",
            zone=SHANGHAI,
            show_inactive=True,
            now=NOW,
        )
    now = board.current
    assert now.members == 4 and now.active == 3 and now.active_share == 75.0
    assert now.approvals_submitted == 2 and now.on_time_share == 50.0
    assert now.approval_users_share == 50.0
    assert now.turnaround_hours == 3.0 and board.previous.turnaround_hours == 6.0
    assert board.change("turnaround_hours") == -50.0
    assert now.docs_shared == 1 and now.checkins == 0  # the finance check-in is not theirs
    # a shared a document on the 20th; the others have been quiet for over 14 days.
    assert {e.userid for e, _name in board.inactive or []} == {"head", "b", "idle"}
    assert len(board.trend) == 8 and sum(f.docs_shared for f in board.trend) == 1
    assert board.contributors[0].points > 0


async def test_pilot_progress_and_newsletter_summary(pg: Store) -> None:
    ids = await _seed(pg)
    async with pg.db.session() as session:
        pilot = await dashboard_pilots.create_pilot(
            session,
            actor="hr",
            name="销售部报销线上化",
            department_ids=[ids["sales"]],
            start_on=date(2026, 11, 1),
            goals=[
                {
                    "figure": "approval_users_share",
                    "kind": "target",
                    "value": 100,
                    "label": "报销审批线上化",
                },
                {
                    "figure": "turnaround_hours",
                    "kind": "improve",
                    "value": 30,
                    "label": "审批效率提升",
                },
            ],
        )
        await session.commit()
        progress = await dashboard_pilots.pilot_progress(session, pilot, SHANGHAI, now=NOW)
    online, faster = progress.goals
    assert online.current == 50.0 and online.progress == 50.0 and not online.met
    # 6 h before the pilot, 3 h during it: 50 % faster against a 30 % goal.
    assert faster.baseline == 6.0 and faster.change_pct == 50.0 and faster.met
    summary = dashboard_pilots.newsletter_summary(progress)
    assert "销售部报销线上化" in summary and "报销审批线上化" in summary
    # Goals carry their unit and direction, and only the met one is praised.
    with use_locale("en"):
        assert dashboard_pilots.goal_sentence(faster).endswith("turnaround down 30%")
        summary = dashboard_pilots.newsletter_summary(progress)
    assert "down 30% — reached." in summary
    assert "— not reached yet (now 50%)." in summary
    assert summary.startswith("Best practice: ")


async def _month_view(
    pg: Store, department_id: int, now: datetime, key: str = "2026-11"
) -> dashboard_service.Dashboard:
    async with pg.db.session() as session:
        from points.org.models import Department

        return await dashboard_service.dashboard(
            session,
            department=await session.get(Department, department_id),
            period=Period.month,
            key=key,
            zone=SHANGHAI,
            show_inactive=False,
            now=now,
        )


async def test_changes_compare_the_same_elapsed_part_of_the_previous_period(pg: Store) -> None:
    async with pg.db.session() as session:
        team = await make_department(session, "市场部")
        await make_employee(session, team, userid="m", name="马")
        await session.commit()
    docs = [("doc:a", "2026-10-03T09:00"), ("doc:b", "2026-10-20T09:00")]
    docs.append(("doc:c", "2026-11-02T09:00"))
    await send(pg, [event(i, "doc.shared", "m", when, doc_id=i) for i, when in docs])
    ten_days_in = datetime.fromisoformat("2026-11-10T12:00:00+08:00")
    view = await _month_view(pg, team.id, ten_days_in)
    # 1–10 November so far against 1–10 October: the share on 20 October is not compared.
    assert (view.current.docs_shared, view.previous.docs_shared) == (1, 1)
    assert view.change("docs_shared") == 0.0
    assert view.to_dict()["compared_with"] == {
        "start": "2026-10-01T00:00:00+08:00",
        "end": "2026-10-10T12:00:00+08:00",
        "same_elapsed_part": True,
    }
    assert "2026-10-10 12:00" in view.compared_text()
    # The trend stops at the week of now: nothing in the future is plotted.
    assert all(week.start <= ten_days_in for week in view.trend)
    assert view.trend[-1].start <= ten_days_in < view.trend[-1].end
    # A month still ahead has nothing to show yet, and its trend stops at now too.
    ahead = await _month_view(pg, team.id, ten_days_in, key="2027-03")
    assert ahead.current.docs_shared == 0 and ahead.points == 0
    assert all(week.start <= ten_days_in for week in ahead.trend)
    # Once November has closed, it compares with the whole of October.
    closed = await _month_view(pg, team.id, datetime.fromisoformat("2026-12-05T12:00:00+08:00"))
    assert (closed.current.docs_shared, closed.previous.docs_shared) == (1, 2)
    assert not closed.partial and closed.to_dict()["compared_with"]["end"].startswith("2026-11-01")
    # Its trend ends with the week of its last day (30 November).
    assert closed.trend[-1].start.date() <= date(2026, 11, 30) < closed.trend[-1].end.date()


async def test_points_compare_the_same_elapsed_days(pg: Store) -> None:
    async with pg.db.session() as session:
        team = await make_department(session, "市场部")
        person = await make_employee(session, team, userid="m", name="马")
        for points, when in (
            (7, "2026-10-03T09:00"),
            (9, "2026-10-25T09:00"),
            (4, "2026-11-02T09:00"),
        ):
            await award(session, person, points, when)
        await session.commit()
    view = await _month_view(pg, team.id, datetime.fromisoformat("2026-11-10T12:00:00+08:00"))
    assert (view.points, view.points_before) == (4, 7)
    closed = await _month_view(pg, team.id, datetime.fromisoformat("2026-12-05T12:00:00+08:00"))
    assert (closed.points, closed.points_before) == (4, 16)
