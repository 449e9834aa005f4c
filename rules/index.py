"""Which rules an event can possibly meet, found by the text attributes rules require.

Rules keyed on a text attribute (``template == "报销"``, ``decision in [...]``) match
only events with one of their values (:attr:`rules.conditions.Compiled.required`). A
:class:`RuleIndex` node picks the attribute most of its rules constrain and sends each
value to a child holding the rules that accept it (in file order); values no rule
names go to ``other``, the rules that do not constrain the attribute. A leaf
(``key_name`` None) is where the engine checks conditions one by one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

# How deep the index goes: three text attributes (e.g. template, decision, approver)
# already leave only the rules an event can possibly meet.
MAX_DEPTH = 3

Entry = TypeVar("Entry")
Required = Callable[[Entry], Mapping[str, Collection[str]]]


@dataclass(slots=True)
class RuleIndex(Generic[Entry]):
    """The entries an event can possibly match, narrowed by required text values."""

    entries: tuple[Entry, ...]
    key_name: str | None = None
    by_value: dict[Any, RuleIndex[Entry]] = field(default_factory=dict)
    other: RuleIndex[Entry] | None = None

    @classmethod
    def build(
        cls,
        entries: tuple[Entry, ...],
        required: Required[Entry],
        used: frozenset[str] = frozenset(),
    ) -> RuleIndex[Entry]:
        """Index ``entries``; ``required`` gives an entry's required values per name."""
        counts = Counter(name for e in entries for name in required(e) if name not in used)
        if len(used) >= MAX_DEPTH or not counts:
            return cls(entries)
        key_name, keyed = counts.most_common(1)[0]
        if keyed < 2:
            return cls(entries)  # not worth a lookup per event
        below = used | {key_name}
        values = {v for e in entries for v in required(e).get(key_name, ())}
        by_value = {
            value: cls.build(
                tuple(e for e in entries if value in required(e).get(key_name, (value,))),
                required,
                below,
            )
            for value in values
        }
        unkeyed = tuple(e for e in entries if key_name not in required(e))
        return cls(entries, key_name, by_value, cls.build(unkeyed, required, below))

    def select(self, context: Mapping[str, Any]) -> tuple[Entry, ...]:
        """The entries that can match an event with these names and attributes."""
        node = self
        try:
            while node.key_name is not None:
                node = node.by_value.get(context[node.key_name], node.other)  # type: ignore[assignment]
        except TypeError:
            pass  # an unhashable value (bad data): check every rule under this node
        return node.entries
