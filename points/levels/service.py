"""Levels from all-time points: one ladder for the whole company, set by HR.

A person's level depends only on the points they earned in all time (spending does not
lower it), so it only ever goes up while rules stay the same. Until HR saves a ladder,
the default one below applies.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlmodel import col, delete, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.errors import InvalidInput
from points.i18n import _
from points.levels.models import Level

# (from all-time points, name, English name): a few weeks to the second level, a
# season of steady use to the top for most people.
DEFAULT_LADDER: tuple[tuple[int, str, str], ...] = (
    (0, "新手", "Newcomer"),
    (50, "熟手", "Regular"),
    (150, "达人", "Adept"),
    (400, "专家", "Expert"),
    (1000, "大师", "Master"),
)
MAX_LEVELS = 12


@dataclass(frozen=True)
class Rung:
    min_points: int
    name: str
    name_en: str

    def label(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name


@dataclass(frozen=True)
class LevelStanding:
    """Where ``points`` stand on the ladder."""

    level: Rung
    number: int  # 1 for the first level
    next: Rung | None
    points: int

    @property
    def to_next(self) -> int | None:
        return None if self.next is None else self.next.min_points - self.points

    @property
    def progress(self) -> int:
        """0…100 from this level's threshold to the next (100 at the top)."""
        if self.next is None:
            return 100
        span = self.next.min_points - self.level.min_points
        return max(0, min(100, 100 * (self.points - self.level.min_points) // span))


async def ladder(session: AsyncSession) -> list[Rung]:
    """The ladder, lowest first (the default one until HR saves theirs)."""
    rows = (await session.exec(select(Level).order_by(col(Level.min_points)))).all()
    if not rows:
        return [Rung(*rung) for rung in DEFAULT_LADDER]
    return [Rung(r.min_points, r.name, r.name_en) for r in rows]


def standing(rungs: Sequence[Rung], points: int) -> LevelStanding:
    """The level for ``points`` all-time points on ``rungs`` (lowest first)."""
    index = 0
    for i, rung in enumerate(rungs):
        if points >= rung.min_points:
            index = i
    following = rungs[index + 1] if index + 1 < len(rungs) else None
    return LevelStanding(rungs[index], index + 1, following, points)


def check_ladder(rungs: Sequence[Rung]) -> dict[int, str]:
    """Problems per row (index) in a ladder HR typed; empty when it can be saved."""
    problems: dict[int, str] = {}
    if not rungs:
        return {0: _("Give at least one level.")}
    if len(rungs) > MAX_LEVELS:
        problems[MAX_LEVELS] = _("At most {n} levels.").format(n=MAX_LEVELS)
    if rungs[0].min_points != 0:
        problems[0] = _("The first level starts at 0 points.")
    for i, rung in enumerate(rungs):
        if not rung.name.strip() or len(rung.name) > 32 or len(rung.name_en) > 32:
            problems.setdefault(i, _("Each level needs a name (at most 32 characters)."))
        if i and rung.min_points <= rungs[i - 1].min_points:
            problems.setdefault(i, _("Each level needs more points than the one before."))
    return problems


async def save_ladder(
    session: AsyncSession, rungs: Sequence[Rung], *, actor: str, ip: str = ""
) -> None:
    """Replace the ladder (HR); audited. Raises InvalidInput if it is not a ladder."""
    if check_ladder(rungs):
        raise InvalidInput(_("The levels need fixing before they can be saved."))
    await session.exec(delete(Level))
    for rung in rungs:
        session.add(Level(min_points=rung.min_points, name=rung.name, name_en=rung.name_en))
    await record(
        session,
        actor=actor,
        action="levels.save",
        details={"levels": [f"{r.min_points}:{r.name}" for r in rungs]},
        ip=ip,
    )
