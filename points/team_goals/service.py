"""Department challenges: each team's figure over its window, and paying it once.

A ``team_goal`` rule (see :mod:`rules.team_goals`) names departments; each one (with
its sub-departments) is a team. :func:`measure` works out, from the stored events and
the org history (``former_department``), who belonged to a team during the window,
which matching events count for it, its figure and who belonged for the whole window.
:func:`settle` (job ``settle_team_goals``) pays, after a window has closed with its
target met, ``points`` to each person who belonged for the whole window — one ledger
transaction each through :func:`points.ledger.writer.post`, keyed
``team_goal:{rule}:{from}:{employee}``, and one ``team_goal_result`` row per team, so
a rerun (or a second worker) pays nobody twice. Leavers and excluded people are not
paid; someone who joined or moved in during the window is counted as a member (their
events count from when they arrived) but is not paid.

Events count for the team the person was in when they happened. Events the source took
back (their awards were reversed) do not count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo

from sqlalchemy import select as select_columns
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import insert_for, utcnow
from points.events.models import ActivityEvent, EventStatus
from points.ledger.models import LedgerTransaction, TransactionKind
from points.ledger.service import earning, lock_people
from points.ledger.writer import post
from points.org.models import Department, Employee, EmployeeStatus, FormerDepartment
from points.org.service import department_labels, subtree_ids
from points.rulesets.service import compiled, ensure_active
from points.settings import Settings
from points.team_goals.models import TeamGoalResult
from rules import CompiledRule, CompiledRuleset, Event
from rules.team_goals import TeamGoal, figure, reached
from rules.team_match import matcher

_FAR_PAST = datetime(1970, 1, 1, tzinfo=utcnow().tzinfo)
_FAR_FUTURE = datetime(9999, 1, 1, tzinfo=utcnow().tzinfo)
MEASURE_ZH = {"participation": "参与率", "count": "次数", "per_head": "人均"}


@dataclass(frozen=True)
class Stint:
    """A person in one department from ``since`` until ``until`` (exclusive)."""

    department_id: int
    since: datetime
    until: datetime


@dataclass
class TeamFigure:
    """One team's standing in a goal's window (so far, or final once it closed)."""

    rule_id: str
    title: str
    title_en: str
    department: Department
    goal: TeamGoal
    points: int
    badge: str | None
    members: int = 0
    active: int = 0
    events: int = 0
    value: float = 0.0
    eligible: list[Employee] = field(default_factory=list)
    closed: bool = False
    days_left: int = 0

    @property
    def target(self) -> float:
        return self.goal.target_value

    @property
    def met(self) -> bool:
        return reached(self.goal.measure, self.value, self.target)

    @property
    def progress(self) -> int:
        """Percent of the target reached, 0…100 (for a progress bar)."""
        if self.target <= 0:
            return 100
        return max(0, min(100, round(100 * self.value / self.target)))

    def shown(self, value: float) -> str:
        """A figure as people read it: a share as a percentage, else up to one decimal."""
        if self.goal.measure == "participation":
            return f"{value * 100:.0f}%"
        return f"{value:.1f}".removesuffix(".0")


def window_of(goal: TeamGoal, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime.combine(goal.window.from_, time(), zone)
    return start, start + timedelta(days=goal.window.days)


async def _departments(session: AsyncSession, goal: TeamGoal) -> list[Department]:
    """The goal's departments, by id or by name (names that match nothing are skipped)."""
    everything = (await session.exec(select(Department))).all()
    by_id = {d.id: d for d in everything}
    by_name = {d.name: d for d in everything}
    found: list[Department] = []
    for wanted in goal.departments:
        text = str(wanted)
        department = by_id.get(int(text)) if text.isdigit() else by_name.get(text)
        if department is not None and department not in found:
            found.append(department)
    return found


async def stints(session: AsyncSession, people: Sequence[Employee]) -> dict[int, list[Stint]]:
    """Each person's departments over time, from their moves (``former_department``)."""
    ids = [p.id for p in people if p.id is not None]
    moves: dict[int, list[FormerDepartment]] = defaultdict(list)
    if ids:
        rows = await session.exec(
            select(FormerDepartment).where(col(FormerDepartment.employee_id).in_(ids))
        )
        for row in rows.all():
            moves[row.employee_id].append(row)
    found: dict[int, list[Stint]] = {}
    for person in people:
        assert person.id is not None
        past = sorted(moves.get(person.id, []), key=lambda m: m.until)
        here = [Stint(m.department_id, m.since or _FAR_PAST, m.until) for m in past]
        since = past[-1].until if past else _FAR_PAST
        here.append(Stint(person.department_id, since, _FAR_FUTURE))
        found[person.id] = here
    return found


def _arrived(person: Employee, zone: tzinfo) -> datetime:
    if person.joined_on is None:
        return _FAR_PAST
    return datetime.combine(person.joined_on, time(), zone)


def _left(person: Employee, zone: tzinfo) -> datetime:
    if person.left_on is None:
        return _FAR_FUTURE
    return datetime.combine(person.left_on + timedelta(days=1), time(), zone)


def _inside(
    person: Employee, own: list[Stint], team: set[int], start: datetime, end: datetime, zone: tzinfo
) -> list[tuple[datetime, datetime]]:
    """The parts of [start, end) the person spent in the team (and in the company)."""
    first, last = max(start, _arrived(person, zone)), min(end, _left(person, zone))
    spans = []
    for stint in own:
        if stint.department_id in team:
            since, until = max(first, stint.since), min(last, stint.until)
            if since < until:
                spans.append((since, until))
    return spans


def _whole(spans: list[tuple[datetime, datetime]], start: datetime, end: datetime) -> bool:
    """Whether the spans cover [start, end) without a gap."""
    reached_to = start
    for since, until in sorted(spans):
        if since > reached_to:
            return False
        reached_to = max(reached_to, until)
    return reached_to >= end


async def _taken_back(session: AsyncSession, event_ids: Sequence[int]) -> set[int]:
    """Events whose awards the source took back (a reversal points at them)."""
    if not event_ids:
        return set()
    reversed_ids = select_columns(col(LedgerTransaction.reverses_id)).where(
        col(LedgerTransaction.kind) == TransactionKind.reversal.value
    )
    rows = await session.exec(
        select(LedgerTransaction.event_id).where(
            col(LedgerTransaction.event_id).in_(list(event_ids)),
            col(LedgerTransaction.id).in_(reversed_ids),
        )
    )
    return {e for e in rows.all() if e is not None}


async def measure(
    session: AsyncSession,
    ruleset: CompiledRuleset,
    rule: CompiledRule,
    zone: tzinfo,
    now: datetime,
    departments: Sequence[int] | None = None,
) -> list[TeamFigure]:
    """Each team's figure over the window up to ``now`` (the whole window once closed).

    ``departments`` limits the teams to those ids (a head's dashboard).
    """
    goal = rule.source.team_goal
    assert goal is not None
    start, end = window_of(goal, zone)
    until = min(now, end)
    teams = [
        d for d in await _departments(session, goal) if departments is None or d.id in departments
    ]
    if not teams:
        return []
    people = list(
        (await session.exec(select(Employee).where(col(Employee.excluded).is_(False)))).all()
    )
    history = await stints(session, people)
    counts = matcher(goal, ruleset.rule_file.event_types, zone)
    labels = await department_labels(session)
    figures: list[TeamFigure] = []
    for team in teams:
        subtree = set(await subtree_ids(session, team.id))
        spans = {
            p.id: _inside(p, history[p.id], subtree, start, end, zone)
            for p in people
            if p.id is not None
        }
        members = {i: s for i, s in spans.items() if s}
        outcome = TeamFigure(
            rule.id, rule.title, rule.title_en, team, goal, rule.points, rule.badge
        )
        outcome.closed = now >= end
        outcome.days_left = max(0, (end.date() - now.astimezone(zone).date()).days)
        outcome.members = len(members)
        rows = (
            await session.exec(
                select(ActivityEvent).where(
                    col(ActivityEvent.employee_id).in_(list(members) or [0]),
                    col(ActivityEvent.type).in_(list(goal.when)),
                    col(ActivityEvent.occurred_at) >= start,
                    col(ActivityEvent.occurred_at) < until,
                    col(ActivityEvent.status).in_(
                        [EventStatus.scored.value, EventStatus.pending.value]
                    ),
                )
            )
        ).all()
        gone = await _taken_back(session, [r.id for r in rows if r.id is not None])
        by_person: dict[int, int] = defaultdict(int)
        for row in rows:
            person = row.employee_id
            if row.id in gone or person is None:
                continue
            if not any(s <= row.occurred_at < u for s, u in members[person]):
                continue  # done while in another department
            department = next(
                (
                    st.department_id
                    for st in history[person]
                    if st.since <= row.occurred_at < st.until
                ),
                team.id,
            )
            event = Event(
                row.external_id,
                row.type,
                row.actor,
                row.occurred_at,
                row.attributes,
                labels.get(department, ()),
            )
            if counts(event):
                by_person[person] += 1
        outcome.events = sum(by_person.values())
        outcome.active = len(by_person)
        outcome.value = figure(goal.measure, outcome.members, outcome.active, outcome.events)
        outcome.eligible = [
            p
            for p in people
            if p.id in members
            and p.status == EmployeeStatus.active
            and _whole(members[p.id], start, end)
        ]
        figures.append(outcome)
    return figures


def team_goal_rules(ruleset: CompiledRuleset) -> list[CompiledRule]:
    return [r for r in ruleset.rules if r.kind == "team_goal"]


@dataclass
class Settlement:
    settled: int = 0  # teams whose window was settled now
    met: int = 0
    paid: int = 0  # people paid
    points: int = 0


async def settle(
    session: AsyncSession, settings: Settings, now: datetime | None = None
) -> Settlement:
    """Settle every closed, unsettled window of the active version's team goals."""
    now = now or utcnow()
    version = await ensure_active(session)
    ruleset = compiled(version)
    summary = Settlement()
    for rule in team_goal_rules(ruleset):
        goal = rule.source.team_goal
        assert goal is not None
        _start, end = window_of(goal, settings.zone)
        if now < end:
            continue
        done = set(
            (
                await session.exec(
                    select(TeamGoalResult.department_id).where(
                        TeamGoalResult.rule_id == rule.id,
                        TeamGoalResult.window_from == goal.window.from_,
                    )
                )
            ).all()
        )
        for team in await measure(session, ruleset, rule, settings.zone, now):
            if team.department.id in done:
                continue
            await _settle_team(session, settings, rule, team, now, summary)
    return summary


async def _settle_team(
    session: AsyncSession,
    settings: Settings,
    rule: CompiledRule,
    team: TeamFigure,
    now: datetime,
    summary: Settlement,
) -> None:
    goal = team.goal
    claim = insert_for(session, TeamGoalResult).values(
        rule_id=rule.id,
        rule_version=rule.version,
        window_from=goal.window.from_,
        window_days=goal.window.days,
        department_id=team.department.id,
        measure=goal.measure,
        target=team.target,
        value=team.value,
        met=team.met,
        members=team.members,
        events=team.events,
        eligible=len(team.eligible),
        awarded=len(team.eligible) if team.met else 0,
        points=rule.points,
        settled_at=now,
    )
    claimed = await session.exec(
        claim.on_conflict_do_nothing(index_elements=["rule_id", "window_from", "department_id"])
    )
    if not getattr(claimed, "rowcount", 0):
        return  # another run settled this team first
    summary.settled += 1
    if not team.met:
        return
    summary.met += 1
    paid = [p for p in team.eligible if p.id is not None]
    await lock_people(session, [p.id for p in paid if p.id is not None])
    what = MEASURE_ZH[goal.measure]
    reason = (
        f"{rule.title} · {team.department.name}{what} {team.shown(team.value)}"
        f"（目标 {team.shown(team.target)}，{goal.window.from_:%m-%d} 起 {goal.window.days} 天）"
    )
    reason_en = (
        f"{rule.title_en} · {team.department.name_en or team.department.name} "
        f"{goal.measure.replace('_', ' ')} {team.shown(team.value)} "
        f"(target {team.shown(team.target)}, {goal.window.days} days from {goal.window.from_})"
    )
    postings = [
        earning(
            f"team_goal:{rule.id}:{goal.window.from_.isoformat()}:{person.id}",
            TransactionKind.award,
            person.id or 0,
            person.department_id,
            rule.points,
            now,
            rule_id=rule.id,
            rule_version=rule.version,
            badge=rule.badge,
            reason=reason,
            reason_en=reason_en,
        )
        for person in paid
    ]
    await post(session, postings, settings.zone)
    summary.paid += len(postings)
    summary.points += rule.points * len(postings)


async def results(session: AsyncSession, rule_id: str, window_from: date) -> list[TeamGoalResult]:
    rows = await session.exec(
        select(TeamGoalResult).where(
            TeamGoalResult.rule_id == rule_id, TeamGoalResult.window_from == window_from
        )
    )
    return list(rows.all())


async def progress(
    session: AsyncSession,
    settings: Settings,
    visible: set[int] | None,
    now: datetime | None = None,
    recent_days: int = 14,
) -> list[TeamFigure]:
    """Team goals a viewer may follow: started, and open or closed in the last two weeks;
    ``visible`` are the departments they may see (None: all)."""
    now = now or utcnow()
    ruleset = compiled(await ensure_active(session))
    shown: list[TeamFigure] = []
    for rule in team_goal_rules(ruleset):
        goal = rule.source.team_goal
        assert goal is not None
        start, end = window_of(goal, settings.zone)
        if now < start or now >= end + timedelta(days=recent_days):
            continue
        limit = sorted(visible) if visible is not None else None
        shown.extend(await measure(session, ruleset, rule, settings.zone, now, limit))
    return shown


async def at_stake(
    session: AsyncSession, settings: Settings, rule_id: str
) -> tuple[CompiledRule, list[TeamFigure]] | None:
    """A team goal of the active version by id, with each team's standing (for a pilot)."""
    ruleset = compiled(await ensure_active(session))
    rule = ruleset.get(rule_id)
    if rule is None or rule.kind != "team_goal":
        return None
    return rule, await measure(session, ruleset, rule, settings.zone, utcnow())


async def projected(
    session: AsyncSession, settings: Settings, ruleset: CompiledRuleset, now: datetime | None = None
) -> list[TeamFigure]:
    """What a (candidate) rule set's team goals stand at over stored events: the final
    result of closed windows, the figure so far of open ones (simulation shows these;
    team goals are never scored per event, so they add nothing to its totals)."""
    now = now or utcnow()
    shown: list[TeamFigure] = []
    for rule in team_goal_rules(ruleset):
        shown.extend(await measure(session, ruleset, rule, settings.zone, now))
    return shown
