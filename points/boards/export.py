"""Boards as CSV for HR: real names (with an opted-out column), every row; audited."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.boards.departments import DepartmentBoard
from points.boards.frozen import frozen_board, frozen_ranked
from points.boards.leaderboard import campaign_scores, people_by_id, score_filter
from points.boards.ranking import rank_in_memory
from points.boards.windows import FROZEN_PERIODS, Scope, Window, off_board_ids
from points.i18n import _
from points.ledger.models import PeriodScore


async def export_board(
    session: AsyncSession,
    *,
    window: Window,
    scope: Scope,
    actor: str,
    ip: str = "",
    user_agent: str = "",
) -> list[list[str]]:
    """The whole board as CSV rows for HR (real names, with an opted-out column); audited."""
    frozen = None
    if window.period in FROZEN_PERIODS:
        frozen = await frozen_board(session, window.period, window.key)
    everyone = 10**9
    if frozen is not None:
        ranked, _around, _n = await frozen_ranked(session, frozen, scope, everyone, None)
    else:
        if window.is_campaign:
            scores = await campaign_scores(session, window, scope)
        else:
            ep, pp = col(PeriodScore.employee_id), col(PeriodScore.points)
            rows = await session.exec(
                select(ep, pp).where(
                    *score_filter(window, scope), pp > 0, ep.not_in(off_board_ids())
                )
            )
            scores = [(int(e), int(p)) for e, p in rows.all()]
        ranked, _around, _n = rank_in_memory(scores, everyone, None)
    people = await people_by_id(session, {e for e, _p, _r in ranked})
    lines = [[_("Rank"), "userid", _("Name"), _("Department"), _("Points"), _("Opted out")]]
    for employee_id, points, rank in ranked:
        employee, department = people[employee_id]
        lines.append(
            [
                str(rank),
                employee.userid,
                employee.name,
                department,
                str(points),
                "1" if employee.board_opt_out else "",
            ]
        )
    await record(
        session,
        actor=actor,
        action="export.board",
        target=scope.key,
        details={"window": window.key, "rows": len(lines) - 1, "frozen": frozen is not None},
        ip=ip,
        user_agent=user_agent,
    )
    return lines


async def export_department_board(
    session: AsyncSession,
    *,
    board: DepartmentBoard,
    actor: str,
    ip: str = "",
    user_agent: str = "",
) -> list[list[str]]:
    """Departments against each other as CSV rows; audited."""
    lines = [
        [
            _("Department"),
            _("Members"),
            _("Points"),
            _("Points per head"),
            _("Participation %"),
            _("Rank by points per head"),
            _("Rank by participation"),
            _("Includes"),
        ]
    ]
    for row in board.rows:
        lines.append(
            [
                row.name,
                str(row.members),
                str(row.points),
                f"{row.per_head:g}",
                f"{row.participation:g}",
                str(row.rank_per_head),
                str(row.rank_participation),
                "、".join(row.folded),
            ]
        )
    await record(
        session,
        actor=actor,
        action="export.department_board",
        target=board.scope.key,
        details={"window": board.window.key, "rows": len(lines) - 1},
        ip=ip,
        user_agent=user_agent,
    )
    return lines
