"""Where the viewer stands on a board: rank, the gap to the next rank, change since last period.

A pure reading of two boards (this period's and the previous one's), so the board page can
show a "me" card without another ranking query of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from points.boards.leaderboard import Board, BoardRow


@dataclass(frozen=True)
class Standing:
    rank: int
    points: int
    ranked: int
    # The nearest better rank and how many points it takes to pass it (None at #1).
    next_rank: int | None
    points_to_next: int | None
    # Last period's points (None for boards without a previous period, e.g. all time).
    previous_points: int | None

    @property
    def change(self) -> int | None:
        if self.previous_points is None:
            return None
        return self.points - self.previous_points


def standing(board: Board, previous: Board | None = None) -> Standing | None:
    """The viewer's standing on ``board``, or None when they are not on it."""
    me = board.me
    if me is None or not me.is_viewer:
        return None
    above = _nearest_above(board.top + board.around, me)
    previous_points: int | None = None
    if previous is not None:
        previous_points = previous.me.points if previous.me is not None else 0
    return Standing(
        rank=me.rank,
        points=me.points,
        ranked=board.ranked,
        next_rank=above.rank if above else None,
        points_to_next=above.points - me.points + 1 if above else None,
        previous_points=previous_points,
    )


def _nearest_above(rows: list[BoardRow], me: BoardRow) -> BoardRow | None:
    better = [r for r in rows if r.rank < me.rank]
    return max(better, key=lambda r: r.rank) if better else None
