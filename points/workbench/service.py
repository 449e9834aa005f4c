"""What HR's rule pages need: figures per rule, version diffs, "try it" and activation.

Each function here is one thing a page (or the CLI) does, so routes stay thin.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.errors import Conflict, InvalidInput, NotFound
from points.events.models import ActivityEvent, EventStatus
from points.i18n import _, current_locale
from points.ledger.models import LedgerTransaction, TransactionKind
from points.org.models import Employee
from points.rulesets import service
from points.rulesets.models import RuleVersion
from points.scoring.service import _histories as ledger_histories
from points.settings import Settings
from points.workbench.backapply import BackApplyResult, back_apply
from points.workbench.simulation import Window, department_labels
from points.workdays.service import with_workdays
from rules import ActorHistory, CompiledRuleset, Event, Rule, RuleFile, compile_ruleset, score_event
from rules.loader import parse_ruleset

# ----------------------------------------------------------------- figures


@dataclass
class RuleFigure:
    points: int = 0
    awards: int = 0


async def rule_figures(session: AsyncSession, *, days: int = 30) -> dict[str, RuleFigure]:
    """Points each rule gave in the last ``days`` days (awards net of reversals)."""
    since = utcnow() - timedelta(days=days)
    rows = await session.exec(
        select(
            LedgerTransaction.rule_id,
            func.coalesce(func.sum(LedgerTransaction.points), 0),
            func.count(),
        )
        .where(
            col(LedgerTransaction.rule_id).is_not(None),
            col(LedgerTransaction.kind).in_(
                [TransactionKind.award.value, TransactionKind.reversal.value]
            ),
            col(LedgerTransaction.effective_at) >= since,
        )
        .group_by(col(LedgerTransaction.rule_id))
    )
    return {
        str(rule_id): RuleFigure(int(points), int(count)) for rule_id, points, count in rows.all()
    }


def rules_of(version: RuleVersion) -> list[Rule]:
    """The rules of a stored version (stored versions are always valid)."""
    rule_file, _errors = parse_ruleset(version.source)
    return list(rule_file.rules) if rule_file else []


def rule_title(rule: Rule) -> str:
    """The rule's title in the reader's language."""
    if current_locale.get() == "en" and rule.title_en:
        return rule.title_en
    return rule.title


# ----------------------------------------------------------------- diff


@dataclass
class VersionDiff:
    old: RuleVersion
    new: RuleVersion
    lines: list[str]
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def same(self) -> bool:
        return not (self.added or self.removed or self.changed)


def diff_versions(old: RuleVersion, new: RuleVersion) -> VersionDiff:
    """The YAML as a unified diff, and which rules were added, removed or changed (and how)."""
    lines = list(
        difflib.unified_diff(
            old.source.splitlines(),
            new.source.splitlines(),
            fromfile=f"v{old.id}",
            tofile=f"v{new.id}",
            lineterm="",
        )
    )
    before = {r.id: r for r in rules_of(old)}
    after = {r.id: r for r in rules_of(new)}
    result = VersionDiff(old, new, lines)
    result.added = [i for i in after if i not in before]
    result.removed = [i for i in before if i not in after]
    for rule_id in after:
        if rule_id not in before:
            continue
        a = before[rule_id].model_dump(by_alias=True, mode="json")
        b = after[rule_id].model_dump(by_alias=True, mode="json")
        fields = [name for name in b if a.get(name) != b.get(name)]
        if fields:
            result.changed.append((rule_id, fields))
    return result


# ----------------------------------------------------------------- try it


@dataclass
class Verdict:
    """What one rule makes of the event, and why."""

    rule: Rule
    status: str  # awarded | disabled | other_type | no_match | limited | no_base | challenge
    points: int = 0
    reason: str = ""
    limits: list[str] = field(default_factory=list)


@dataclass
class TryResult:
    event: Event
    known_person: bool
    verdicts: list[Verdict]

    @property
    def total(self) -> int:
        return sum(v.points for v in self.verdicts)


def event_from_json(text: str) -> dict[str, Any]:
    """Parse a pasted event; a clear message for each way it can be wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            _("The event is not valid JSON (line {line}): {message}").format(
                line=error.lineno, message=error.msg
            )
        ) from None
    if not isinstance(data, dict):
        raise InvalidInput(_("The event must be a JSON object."))
    missing = [k for k in ("type", "actor", "occurred_at") if not data.get(k)]
    if missing:
        raise InvalidInput(_("The event needs: {fields}").format(fields=", ".join(missing)))
    data.setdefault("external_id", "try-it")
    if not isinstance(data.get("attributes", {}), dict):
        raise InvalidInput(_("`attributes` must be a JSON object."))
    return data


async def stored_event_json(session: AsyncSession, event_id: int) -> str:
    """A stored event in the normalized JSON shape, for the "try it" box."""
    event = await session.get(ActivityEvent, event_id)
    if event is None:
        raise NotFound(_("No such event."))
    return json.dumps(
        {
            "external_id": event.external_id,
            "type": event.type,
            "actor": event.actor,
            "occurred_at": event.occurred_at.isoformat(),
            "attributes": event.attributes,
        },
        ensure_ascii=False,
        indent=2,
    )


async def recent_events(session: AsyncSession, limit: int = 30) -> list[ActivityEvent]:
    """The latest scored events, to pick one for "try it"."""
    rows = await session.exec(
        select(ActivityEvent)
        .where(ActivityEvent.status == EventStatus.scored)
        .order_by(col(ActivityEvent.occurred_at).desc())
        .limit(limit)
    )
    return list(rows.all())


def _without_limits(rule: Rule) -> Rule:
    return rule.model_copy(
        update={
            "cap": None,
            "cooldown": None,
            "once_per": None,
            "first_time": False,
            "streak": None,
            "milestone": None,
            "enabled": True,
        }
    )


def _limits(rule: Rule) -> list[str]:
    names = []
    if rule.cap is not None:
        names.append("cap")
    if rule.cooldown:
        names.append("cooldown")
    if rule.once_per:
        names.append("once_per")
    if rule.first_time:
        names.append("first_time")
    if rule.streak is not None:
        names.append("streak")
    if rule.milestone is not None:
        names.append("milestone")
    return names


async def try_event(
    session: AsyncSession, settings: Settings, ruleset: CompiledRuleset, data: Mapping[str, Any]
) -> TryResult:
    """What each rule would award for this event, given the person's real history (read-only)."""
    employee = (
        await session.exec(select(Employee).where(Employee.userid == str(data["actor"])))
    ).first()
    departments: tuple[str, ...] = ()
    try:
        event = Event.from_mapping(data)
    except (ValueError, TypeError, KeyError) as error:
        raise InvalidInput(_("The event cannot be read: {error}").format(error=error)) from None
    history = ActorHistory()
    ruleset = await with_workdays(session, ruleset)
    if employee is not None and employee.id is not None:
        departments = (await department_labels(session)).get(employee.department_id, ())
        event = replace(Event.from_mapping(data, departments), joined=employee.joined_on)
        history = (await ledger_histories(session, [employee.id], [event], ruleset, settings.zone))[
            employee.id
        ]
    zone = settings.zone
    awards = {a.rule_id: a for a in score_event(ruleset, event, history, zone).awards}
    english = current_locale.get() == "en"
    verdicts = []
    for rule in ruleset.rule_file.rules:
        award = awards.get(rule.id)
        if award is not None:
            reason = award.reason_en if english else award.reason_zh
            verdicts.append(Verdict(rule, "awarded", award.points, reason))
        elif not rule.enabled:
            verdicts.append(Verdict(rule, "disabled"))
        elif rule.multiplier is not None:
            verdicts.append(Verdict(rule, "no_base"))
        elif rule.challenge is not None:
            verdicts.append(Verdict(rule, "challenge"))  # counts towards goals; see the person
        elif rule.when and event.type not in rule.when:
            verdicts.append(Verdict(rule, "other_type"))
        else:
            # Would it match with no history and no limits? Then a limit stopped it.
            alone = compile_ruleset(
                RuleFile(event_types=ruleset.rule_file.event_types, rules=[_without_limits(rule)])
            ).with_calendar(ruleset.calendar)
            matched = score_event(alone, event, ActorHistory(), zone).awards
            status = "limited" if matched else "no_match"
            verdicts.append(Verdict(rule, status, limits=_limits(rule) if matched else []))
    return TryResult(event, employee is not None, verdicts)


def compile_text(source: str) -> CompiledRuleset:
    """Compile rule text for a what-if (InvalidInput listing every problem)."""
    service.check_source(source)
    return compile_ruleset(source, version=0)


# ----------------------------------------------------------------- activation


async def activate(
    session: AsyncSession,
    settings: Settings,
    *,
    version_id: int,
    author: str,
    ip: str = "",
    backapply: Window | None = None,
) -> tuple[RuleVersion, BackApplyResult | None]:
    """Activate a version (a rollback when it is an older one), then optionally back-apply.

    Both happen in the caller's transaction and are audited; a concurrent
    activation makes this one fail cleanly (Conflict) rather than leave two active.
    """
    details: dict[str, Any] = {}
    if backapply is not None:
        details["backapply"] = {
            "since": backapply.since.isoformat(),
            "until": backapply.until.isoformat(),
        }
    try:
        version = await service.activate(
            session, version_id=version_id, author=author, ip=ip, details=details
        )
    except IntegrityError:
        raise Conflict(
            _("Another version was activated at the same moment. Reload and try again."),
            code="activation_race",
        ) from None
    result = None
    if backapply is not None:
        result = await back_apply(
            session, settings, version=version, window=backapply, author=author, ip=ip
        )
    return version, result
