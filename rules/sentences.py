"""The sentences an award explains itself with, in Chinese and English.

Written only when someone reads them (see ``Award.why``): simulation scores
millions of events and reads none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from rules.catalog import EventType
from rules.event import Award
from rules.periods import Period


class CompiledRule(Protocol):
    """What the sentences read of a compiled rule (``rules.engine.CompiledRule``)."""

    @property
    def kind(self) -> str: ...
    @property
    def title(self) -> str: ...
    @property
    def title_en(self) -> str: ...
    @property
    def multiplier(self) -> float: ...
    @property
    def streak_days(self) -> int: ...
    @property
    def streak_workdays(self) -> int: ...
    @property
    def cap_per(self) -> Period | None: ...
    @property
    def cap_max(self) -> int: ...


_PERIOD_ZH = {"day": "今日", "week": "本周", "month": "本月", "quarter": "本季度"}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def label(template: str, attributes: Mapping[str, Any]) -> str:
    """An event type's label filled from the event, e.g. ``报销 202411240001``."""
    if not template:
        return ""
    try:
        return " ".join(template.format_map(_Blank(attributes)).split())
    except (ValueError, IndexError, AttributeError):
        return ""


def sentences(
    award: Award,
    rule: CompiledRule,
    event_type: EventType | None,
    attributes: Mapping[str, Any],
    capped: bool,
    detail: int,
) -> tuple[str, str]:
    """The human sentences of an award, e.g. ``按时提交审批 · 报销 202411240001``.

    ``detail`` is the base points for a campaign and the streak length for a streak.
    """
    zh, en = rule.title, rule.title_en
    if rule.kind == "campaign":
        zh += f" · ×{rule.multiplier:g}（基础 {detail} 分）"
        en += f" · ×{rule.multiplier:g} (on {detail} base points)"
    elif rule.kind == "streak" and rule.streak_workdays:
        # A run of working days is about many events: no single event's label.
        zh = f"连续 {detail} 个工作日{rule.title}"
        en = f"{rule.title_en} · {detail} working days in a row"
    else:
        if event_type is not None:
            label_zh = label(event_type.label_zh, attributes)
            label_en = label(event_type.label_en, attributes)
            if label_zh:
                zh += f" · {label_zh}"
            if label_en:
                en += f" · {label_en}"
        if rule.kind == "streak":
            if rule.streak_days:
                zh += f" · 连续 {detail} 天"
                en += f" · {detail}-day streak"
            else:
                zh += f" · 连续 {detail} 周"
                en += f" · {detail}-week streak"
    points = award.points
    if capped and rule.cap_per is not None:
        zh += f"（{_PERIOD_ZH[rule.cap_per]}上限 {rule.cap_max} 分，本次 {points:+d}）"
        en += f" (limit of {rule.cap_max} per {rule.cap_per} reached, {points:+d} this time)"
    return zh, en
