"""The two values that cross the engine's boundary: an event in, awards out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

AwardKind = Literal["points", "streak", "campaign", "milestone", "team_goal", "challenge"]


@dataclass(frozen=True, slots=True)
class Event:
    """A normalized activity event as the engine sees it.

    ``departments`` lists the names *and* ids (as strings) of the actor's
    department and all its ancestors, most specific first, e.g.
    ``("华东销售组", "17", "销售部", "3", "总公司", "1")``; rule scopes match
    against any of them. ``joined`` is the actor's join date (challenges that
    start when the person joined count from it).
    """

    external_id: str
    type: str
    actor: str
    occurred_at: datetime
    attributes: Mapping[str, Any] = field(default_factory=dict)
    departments: tuple[str, ...] = ()
    joined: date | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError(f"event {self.external_id}: occurred_at needs a timezone")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], departments: tuple[str, ...] = ()) -> Event:
        """Build an event from the normalized JSON shape of DESIGN.md."""
        occurred = data["occurred_at"]
        if isinstance(occurred, str):
            occurred = datetime.fromisoformat(occurred)
        return cls(
            external_id=str(data["external_id"]),
            type=str(data["type"]),
            actor=str(data["actor"]),
            occurred_at=occurred,
            attributes=dict(data.get("attributes") or {}),
            departments=tuple(str(d) for d in data.get("departments", departments)),
            joined=date.fromisoformat(str(data["joined"])) if data.get("joined") else None,
        )


@dataclass(slots=True)
class Award:
    """Points one rule gives for one event: one ledger line per (event, rule, version).

    Treat it as immutable. (It is not ``frozen`` only because frozen dataclasses
    cost three times as much to create, and simulation creates millions.)

    ``period_key`` (set when the rule has a cap) and ``once_value`` (set when the
    rule has ``once_per``) are what the history needs to remember; the database
    stores them on the ledger entry so history can be rebuilt from entries.
    """

    event_id: str
    actor: str
    rule_id: str
    rule_version: int
    points: int
    occurred_at: datetime
    kind: AwardKind
    badge: str | None = None
    period_key: str | None = None
    once_value: str | None = None
    # The sentences are written only when someone reads them: simulation scores
    # millions of events and reads none, the ledger reads each once. ``why`` is
    # (writer, *facts); the writer is called as ``writer(award, *facts)``.
    why: tuple[Any, ...] = field(default=(), compare=False, repr=False)
    # Set when the rule has a cooldown (the history remembers when it last gave) or is
    # first_time (the history remembers that it gave): like ``period_key`` and
    # ``once_value``, only what a rule will read again is remembered.
    cooldown: bool = field(default=False, compare=False, repr=False)
    first_time: bool = field(default=False, compare=False, repr=False)

    def _sentences(self) -> tuple[str, str]:
        if not self.why:
            return self.rule_id, self.rule_id
        writer, *facts = self.why
        zh, en = writer(self, *facts)
        return str(zh), str(en)

    @property
    def reason_zh(self) -> str:
        """Why, in Chinese: ``按时提交审批 · 报销 202411240001``."""
        return self._sentences()[0]

    @property
    def reason_en(self) -> str:
        """Why, in English: ``Approval submitted on time · 报销 202411240001``."""
        return self._sentences()[1]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready form."""
        return {
            "event_id": self.event_id,
            "actor": self.actor,
            "rule_id": self.rule_id,
            "rule_version": self.rule_version,
            "points": self.points,
            "occurred_at": self.occurred_at.isoformat(),
            "kind": self.kind,
            "reason_zh": self.reason_zh,
            "reason_en": self.reason_en,
            "badge": self.badge,
            "period_key": self.period_key,
            "once_value": self.once_value,
        }
