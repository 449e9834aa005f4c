"""Small factories so each test reads as the scenario it checks."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from rules import CompiledRuleset, Event, InMemoryHistory, compile_ruleset, score_and_record
from rules.event import Award

BEIJING = timezone(timedelta(hours=8))
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)  # a Monday


def at(text: str) -> datetime:
    """A Beijing-time moment from ``YYYY-MM-DD HH:MM``."""
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING)


_serial = 0


def make_event(
    type: str = "approval.submitted",
    actor: str = "zhangsan",
    occurred_at: datetime = T0,
    departments: tuple[str, ...] = ("销售部", "3", "总公司", "1"),
    external_id: str | None = None,
    **attributes: Any,
) -> Event:
    global _serial
    _serial += 1
    return Event(
        external_id=external_id or f"test:{_serial}",
        type=type,
        actor=actor,
        occurred_at=occurred_at,
        attributes=attributes,
        departments=departments,
    )


def approval(sp_no: str = "202411240001", when: datetime = T0, **extra: Any) -> Event:
    fields: dict[str, Any] = {"template": "报销", "sp_no": sp_no, "on_time": True}
    fields.update(extra)
    return make_event("approval.submitted", occurred_at=when, **fields)


def ruleset(text: str, version: int = 1) -> CompiledRuleset:
    return compile_ruleset(text, version=version)


def run(rules: CompiledRuleset, events: list[Event], tz: str | None = None) -> list[Award]:
    """Score events in order with one fresh history; all awards, in order."""
    history = InMemoryHistory()
    awards: list[Award] = []
    for event in events:
        awards.extend(score_and_record(rules, event, history, tz))
    return awards


def points(awards: list[Award]) -> int:
    return sum(a.points for a in awards)
