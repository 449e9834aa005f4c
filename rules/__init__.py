"""The rule language of WeCom Points: schema, loading, compiling, evaluating, simulating.

Pure and fast: no database, no HTTP. The database-backed scorer builds an
:class:`ActorHistory` from ledger rows and calls :func:`score_event`.
"""

from rules.catalog import BUILTIN_EVENT_TYPES, Catalogue, EventType
from rules.engine import (
    CompiledRule,
    CompiledRuleset,
    compile_ruleset,
    evaluate,
    score_and_record,
    score_event,
)
from rules.event import Award, Event
from rules.history import (
    ActorHistory,
    InMemoryHistory,
    LedgerFact,
    Outcome,
    StreakState,
    history_from_ledger,
)
from rules.loader import (
    DEFAULT_RULES_PATH,
    load_default_rules,
    load_ruleset_file,
    load_ruleset_text,
    parse_ruleset,
    validate_text,
)
from rules.periods import DEFAULT_TIMEZONE, period_key, period_key_at
from rules.review import Review
from rules.schema import Rule, RuleFile
from rules.simulate import SimulationReport, simulate
from rules.source import RuleError, RuleSetError

__all__ = [
    "BUILTIN_EVENT_TYPES",
    "DEFAULT_RULES_PATH",
    "DEFAULT_TIMEZONE",
    "ActorHistory",
    "Award",
    "Catalogue",
    "CompiledRule",
    "CompiledRuleset",
    "Event",
    "EventType",
    "InMemoryHistory",
    "LedgerFact",
    "Outcome",
    "Review",
    "Rule",
    "RuleError",
    "RuleFile",
    "RuleSetError",
    "SimulationReport",
    "StreakState",
    "compile_ruleset",
    "evaluate",
    "history_from_ledger",
    "load_default_rules",
    "load_ruleset_file",
    "load_ruleset_text",
    "parse_ruleset",
    "period_key",
    "period_key_at",
    "score_and_record",
    "score_event",
    "simulate",
    "validate_text",
]
