"""Per-person progress of rules that count towards something (milestones, challenges).

A rule kind that needs more memory than caps and streaks keeps a JSON-able state
per person in ``ActorHistory.progress[rule id]`` and reports every state it changes
in ``Outcome.progress``. The engine never edits a state in place: a changed state
is a new dict.

The scorer stores the states (table ``rule_progress``) and, per event, what the
event added: :func:`contribution` of the state before and after. When a source
revokes the event, :func:`withdraw` takes exactly that out again. The convention
that makes this work for every kind: **numbers in a state are additive** (counts,
sums; also inside nested dicts and lists); anything an event *sets* rather than
adds — a start date, a window id, a flag — is a string or a boolean and is left
alone by both functions.

Whether an award a rule made is still deserved after a withdrawal is the rule's
own question: :attr:`rules.engine.CompiledRule.keeps` (``None`` for kinds that do
not use progress; their awards are simply taken back with the revoked event).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Progress = dict[str, Any]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _diff(old: Any, new: Any) -> Any:
    """``new − old`` for numbers, dicts and lists of them; ``None`` where nothing was added."""
    if _number(new):
        before = old if _number(old) else 0
        change = new - before
        return change or None
    if isinstance(new, Mapping):
        previous = old if isinstance(old, Mapping) else {}
        found = {}
        for key, value in new.items():
            change = _diff(previous.get(key), value)
            if change is not None:
                found[key] = change
        return found or None
    if isinstance(new, list):
        previous_list = old if isinstance(old, list) else []
        changes = [
            _diff(previous_list[i] if i < len(previous_list) else None, value)
            for i, value in enumerate(new)
        ]
        return changes if any(c is not None for c in changes) else None
    return None


def contribution(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> Progress:
    """What an event added to a state: the numeric differences, nothing else.

    >>> contribution({"count": 9, "since": "2026-11-02"}, {"count": 10, "since": "2026-11-02"})
    {'count': 1}
    """
    found = _diff(old or {}, new)
    return dict(found) if found else {}


def _subtract(value: Any, delta: Any) -> Any:
    if delta is None:
        return value
    if _number(delta):
        return (value if _number(value) else 0) - delta
    if isinstance(delta, Mapping):
        base = dict(value) if isinstance(value, Mapping) else {}
        for key, change in delta.items():
            base[key] = _subtract(base.get(key), change)
        return base
    if isinstance(delta, list):
        items = list(value) if isinstance(value, list) else []
        for i, change in enumerate(delta):
            if i < len(items):
                items[i] = _subtract(items[i], change)
            elif change is not None:
                items.append(_subtract(None, change))
        return items
    return value


def withdraw(state: Mapping[str, Any] | None, delta: Mapping[str, Any]) -> Progress:
    """``state`` without what one event added (``delta`` from :func:`contribution`).

    >>> withdraw({"count": 10, "since": "2026-11-02"}, {"count": 1})
    {'count': 9, 'since': '2026-11-02'}
    """
    result = _subtract(dict(state or {}), dict(delta))
    assert isinstance(result, dict)
    return result
