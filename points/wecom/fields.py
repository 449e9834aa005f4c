"""Small, pure helpers shared by the WeCom mappings: WeCom's loose numbers and
strings, nested look-ups, Unix times in Asia/Shanghai, and the event shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from points.events.schemas import EventIn
from rules.catalog import conform

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Skip(Exception):
    """The message cannot be mapped; the text says why (no secrets)."""


def to_datetime(unix_seconds: int | str, tz: ZoneInfo = SHANGHAI) -> datetime:
    """Unix seconds (int or numeric string) → tz-aware datetime (Asia/Shanghai by default)."""
    return datetime.fromtimestamp(int(unix_seconds), tz=tz)


def as_int(value: Any, default: int = 0) -> int:
    """An int from WeCom's numbers-or-numeric-strings; ``default`` for anything else."""
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return default


def as_text(value: Any) -> str:
    """A stripped string, or empty for anything that is not a string."""
    return value.strip() if isinstance(value, str) else ""


def required(message: Mapping[str, Any], key: str) -> str:
    """The non-empty text at ``key``; :class:`Skip` when it is missing."""
    value = as_text(message.get(key))
    if not value:
        raise Skip(f"missing {key}")
    return value


def create_time(message: Mapping[str, Any]) -> datetime:
    """The callback's ``CreateTime``; :class:`Skip` when it is missing."""
    seconds = as_int(message.get("CreateTime"))
    if seconds <= 0:
        raise Skip("missing CreateTime")
    return to_datetime(seconds)


def make_event(
    external_id: str,
    type_: str,
    actor: str,
    occurred_at: datetime,
    attributes: dict[str, Any],
) -> EventIn:
    """A normalized event (the one shape every WeCom mapping produces).

    The attributes must be the catalogue's (:mod:`rules.catalog`): a mapping that sends
    an attribute no rule could use, or a value of the wrong type, raises ValueError.
    """
    return EventIn(
        external_id=external_id,
        type=type_,
        actor=actor,
        occurred_at=occurred_at,
        attributes=conform(type_, attributes, strict=True),
    )


def dig(value: Any, *path: str) -> Any:
    """``value[path[0]][path[1]]...``, or None where a level is not a mapping."""
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


@dataclass(frozen=True)
class Rejected:
    """A record WeCom sent that cannot be used, as it came, and why."""

    raw: Any
    reason: str


@dataclass
class Sorted:
    """Records sorted into events and rejects; one bad record never stops the rest."""

    events: list[EventIn] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
