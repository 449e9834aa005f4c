from __future__ import annotations

from datetime import datetime

from points.boards import frozen as board_frozen
from points.boards import leaderboard as board_leaderboard
from points.boards.windows import Scope, Window
from points.calendar import bounds
from points.dashboards import figures as dashboard_figures
from points.ledger.models import Period
from tests.support.boards import SHANGHAI, award
from tests.support.events import event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store


async def test_boards_and_figures_work_on_the_embedded_sqlite_default(lite: Store) -> None:
    async with lite.db.session() as session:
        sales = await make_department(session, "销售部")
        a = await make_employee(session, sales, userid="a", name="甲")
        b = await make_employee(session, sales, userid="b", name="乙")
        c = await make_employee(session, sales, userid="c", name="丙")
        for person, value in ((a, 5), (b, 5), (c, 2)):
            await award(session, person, value, "2026-11-10T10:00:00")
        await session.commit()
        board = await board_leaderboard.leaderboard(
            session,
            window=Window(Period.month, "2026-11"),
            scope=Scope(sales),
            viewer_id=c.id,
            limit=1,
        )
        frozen = await board_frozen.freeze_closed(
            session, SHANGHAI, now=datetime.fromisoformat("2026-12-01T00:30:00+08:00")
        )
        await session.commit()
    assert [(r.name, r.rank) for r in board.top] == [("甲", 1)]
    assert [(r.name, r.rank) for r in board.around] == [("甲", 1), ("乙", 1), ("丙", 3)]
    assert "month:2026-11" in frozen
    await send(
        lite,
        [
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
                "dec:1", "approval.decided", "b", "2026-11-04T10:00", sp_no="1", turnaround_hours=5
            ),
        ],
    )
    async with lite.db.session() as session:
        (figures,) = await dashboard_figures.figures_for_windows(
            session, None, [bounds(Period.month, "2026-11", SHANGHAI)]
        )
    assert figures.on_time_share == 100.0 and figures.turnaround_hours == 5.0
    assert figures.active == 2 and figures.members == 3
