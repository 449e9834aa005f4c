"""Departments against each other: points per head and participation in a window."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.boards.earned import department_points, members_and_participants, span_of
from points.boards.ranking import competition_ranks
from points.boards.windows import Scope, Window
from points.errors import InvalidInput
from points.i18n import _
from points.org.models import Department

# Departments smaller than this are folded into their parent on department boards.
MIN_DEPARTMENT_SIZE = 5
# The page shows this many departments (a company of 100,000 has hundreds, unreadable
# on a phone); the viewer's own are always shown, the rest are a tap or an export away.
SHOWN_DEPARTMENTS = 30


@dataclass
class DepartmentRow:
    department_id: int
    name: str
    folded: list[str]  # small departments counted here, for privacy
    members: int
    points: int
    participants: int
    rank_per_head: int = 0
    rank_participation: int = 0

    @property
    def per_head(self) -> float:
        return round(self.points / self.members, 1) if self.members else 0.0

    @property
    def participation(self) -> float:
        return round(100 * self.participants / self.members, 1) if self.members else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "department_id": self.department_id,
            "name": self.name,
            "folded": self.folded,
            "members": self.members,
            "points": self.points,
            "per_head": self.per_head,
            "participation_pct": self.participation,
            "rank_per_head": self.rank_per_head,
            "rank_participation": self.rank_participation,
        }


@dataclass
class DepartmentBoard:
    window: Window
    scope: Scope
    rows: list[DepartmentRow]
    hidden_small: int  # people in departments too small to show even after folding
    order: str

    def shown(self, limit: int | None, own: Collection[int]) -> list[DepartmentRow]:
        """The first ``limit`` rows in board order, plus the viewer's ``own`` departments
        (or the rows they are counted in) further down; every row when ``limit`` is None."""
        if limit is None or len(self.rows) <= limit:
            return self.rows
        mine = set(own)
        return [r for n, r in enumerate(self.rows) if n < limit or r.department_id in mine]

    def to_dict(self) -> dict[str, Any]:
        return {
            "period": self.window.period.value if self.window.period else "campaign",
            "key": self.window.key,
            "scope": self.scope.key,
            "order": self.order,
            "hidden_small": self.hidden_small,
            "departments": [r.to_dict() for r in self.rows],
        }


async def department_board(
    session: AsyncSession,
    *,
    window: Window,
    scope: Scope,
    zone: tzinfo,
    order: str = "per_head",
) -> DepartmentBoard:
    """Departments against each other, by points per head and by participation rate.

    Points stay with the department where they were earned (``department_score``);
    each department counts the people who were its members during the window (see
    :mod:`points.boards.earned`). Departments with fewer than five are folded into
    their parent (bottom up), so no small team's figures are exposed.
    """
    if order not in ("per_head", "participation"):
        raise InvalidInput(_("order must be per_head or participation"))
    departments = (await session.exec(select(Department))).all()
    if scope.department is not None:
        root_path = scope.department.path
        departments = [d for d in departments if d.path.startswith(root_path)]
    ids = [d.id for d in departments]
    span = span_of(window, zone)
    members = await members_and_participants(session, span, zone, ids)
    points = await department_points(session, span, ids)
    units: dict[int, DepartmentRow] = {}
    for d in departments:
        count, participants = members.get(d.id, (0, 0))
        units[d.id] = DepartmentRow(d.id, d.name, [], count, points.get(d.id, 0), participants)

    # Fold small departments into their parent, deepest first.
    hidden_small = 0
    for department in sorted(departments, key=lambda d: -d.path.count("/")):
        unit = units[department.id]
        if unit.members >= MIN_DEPARTMENT_SIZE:
            continue
        parent = units.get(department.parent_id) if department.parent_id is not None else None
        if parent is not None:
            parent.members += unit.members
            parent.points += unit.points
            parent.participants += unit.participants
            if unit.members:
                parent.folded.append(unit.name)
            parent.folded.extend(unit.folded)
        else:
            hidden_small += unit.members
        del units[department.id]

    rows = list(units.values())
    by_head = sorted(rows, key=lambda r: -r.per_head)
    for r, rank in zip(by_head, competition_ranks([r.per_head for r in by_head]), strict=True):
        r.rank_per_head = rank
    by_part = sorted(rows, key=lambda r: -r.participation)
    for r, rank in zip(by_part, competition_ranks([r.participation for r in by_part]), strict=True):
        r.rank_participation = rank
    rows.sort(
        key=lambda r: (
            (r.rank_per_head, r.name) if order == "per_head" else (r.rank_participation, r.name)
        )
    )
    return DepartmentBoard(window, scope, rows, hidden_small, order)
