"""Rule conditions: parsed and type-checked by ``rule-engine``, run as closures.

``rule-engine`` gives us a safe grammar, constant folding and compile-time type
checks (unknown names, ``template > 3``). Its tree-walking evaluator is slow for
a hot scoring loop, so after checking we translate its syntax tree, once, into
nested Python closures. No ``eval``/``exec`` anywhere: the closures only do the
operations listed in this module.

Only plain comparisons, boolean logic, membership, ``??`` and arithmetic are
allowed, plus the short allow-lists below. Regexes, ``$now``/``$random`` (they
would make scoring non-deterministic), comprehensions, indexing and ``**`` are
refused.
"""

from __future__ import annotations

import decimal
import difflib
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import rule_engine
from rule_engine import ast as re_ast
from rule_engine import errors as re_errors

from rules.catalog import AttributeType

MAX_CONDITION_LENGTH = 500

# A compiled condition reads its names with ``ctx[name]``: the context must hold
# every name the condition uses (None when the event lacks it). A KeyError from
# a partial context is one of the CONDITION_FAILURES and means "no match".
Condition = Callable[[Mapping[str, Any]], Any]

ALLOWED_ATTRIBUTES: dict[str, Callable[[Any], Any]] = {
    "length": len,
    "is_empty": lambda value: len(value) == 0,
    "as_lower": lambda value: value.lower(),
    "as_upper": lambda value: value.upper(),
}
ALLOWED_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "any": any,
    "all": all,
}

_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "tdiv": operator.truediv,
    "fdiv": operator.floordiv,
    "mod": operator.mod,
}

# Exceptions a well-typed condition can still raise on odd data (a missing
# attribute is None, a zero divisor, a string where a number was promised);
# the engine treats them as "does not match".
CONDITION_FAILURES = (TypeError, ValueError, ArithmeticError, AttributeError, KeyError)


class ConditionError(Exception):
    """A condition that cannot be accepted; ``suggestion`` is a name to try instead."""

    def __init__(self, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.suggestion = suggestion


@dataclass(frozen=True)
class CompiledCondition:
    """A checked condition: its source, the names it reads, and the callable.

    ``required`` maps a name to the only text values that can make the condition
    true (from top-level ``name == "x"`` / ``name in ["x", "y"]`` conjuncts); the
    engine uses it to skip rules without calling them.
    """

    source: str
    names: frozenset[str]
    test: Condition
    required: Mapping[str, frozenset[str]] = field(default_factory=dict)


def _datatype(kind: AttributeType) -> Any:
    dt = rule_engine.DataType
    return {
        "str": dt.STRING,
        "int": dt.FLOAT,
        "float": dt.FLOAT,
        "bool": dt.BOOLEAN,
        "list[str]": dt.ARRAY(dt.STRING),
        "list[int]": dt.ARRAY(dt.FLOAT),
    }[kind]


@lru_cache(maxsize=512)
def _context(symbols: tuple[tuple[str, AttributeType], ...]) -> Any:
    resolver = rule_engine.type_resolver_from_dict({n: _datatype(k) for n, k in symbols})
    return rule_engine.Context(type_resolver=resolver)


def suggest(name: str, candidates: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The closest known name to ``name``, if one is close enough to be a typo."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=cutoff)
    return matches[0] if matches else None


def check_condition(source: str, symbols: Mapping[str, AttributeType]) -> Any:
    """Parse and type-check ``source`` against ``symbols``; return the rule-engine tree.

    Raises :class:`ConditionError` with a one-line message (and a suggestion for
    misspelt names).
    """
    if len(source) > MAX_CONDITION_LENGTH:
        raise ConditionError(
            f"condition is {len(source)} characters long; the limit is {MAX_CONDITION_LENGTH}"
        )
    if not source.strip():
        raise ConditionError("condition is empty; remove `if` or write an expression")
    context = _context(tuple(sorted(symbols.items())))
    try:
        rule = rule_engine.Rule(source, context=context)
    except re_errors.SymbolResolutionError as error:
        name = error.symbol_name
        if error.symbol_scope is not None:
            raise ConditionError(f"`${name}` is not allowed in conditions") from None
        raise ConditionError(f"unknown field `{name}`", suggest(name, symbols)) from None
    except re_errors.AttributeResolutionError as error:
        raise ConditionError(
            f"`.{error.attribute_name}` is not allowed in conditions",
            suggest(str(error.attribute_name), ALLOWED_ATTRIBUTES),
        ) from None
    except re_errors.RuleSyntaxError as error:
        raise ConditionError(f"syntax error in condition: {error.message}") from None
    except re_errors.EngineError as error:
        raise ConditionError(f"condition does not type-check: {error.message}") from None
    _refuse_disallowed(rule.statement.expression)
    return rule.statement.expression


def compile_condition(source: str, symbols: Mapping[str, AttributeType]) -> CompiledCondition:
    """Check ``source`` and translate it into a fast callable over a context mapping."""
    tree = check_condition(source, symbols)
    names: set[str] = set()
    test = _compile(tree, names)
    return CompiledCondition(
        source=source, names=frozenset(names), test=test, required=_required_values(tree)
    )


def _required_values(tree: Any) -> dict[str, frozenset[str]]:
    """Text values a name must have for the condition to hold, from top-level conjuncts.

    Only ``and`` chains count: in ``a == "x" or b``, ``a`` may be anything.
    """
    required: dict[str, frozenset[str]] = {}
    for part in _flatten(tree, "and"):
        name: str | None = None
        values: Any = None
        if type(part) is re_ast.ComparisonExpression and part.type == "eq":
            name = _symbol_name(part.left)
            if name is not None and _is_literal(part.right):
                values = (_literal(part.right),)
        elif type(part) is re_ast.ContainsExpression:
            name = _symbol_name(part.member)
            if name is not None and _is_literal(part.container):
                values = _literal(part.container)
        if name is None or not isinstance(values, tuple):
            continue
        if not values or not all(isinstance(v, str) for v in values):
            continue
        allowed = frozenset(values)
        # Two conjuncts on one name: both must hold.
        required[name] = required[name] & allowed if name in required else allowed
    return required


def condition_names(source: str, symbols: Mapping[str, AttributeType]) -> frozenset[str]:
    """The symbol names a valid condition reads."""
    return compile_condition(source, symbols).names


def _refuse_disallowed(node: Any) -> None:
    """Walk the tree and raise on anything outside the safe subset."""
    kind = type(node)
    if isinstance(node, re_ast.FuzzyComparisonExpression):
        raise ConditionError("regular expressions (=~, !~) are not allowed in conditions")
    if isinstance(node, re_ast.LiteralExpressionBase):
        if isinstance(node, re_ast.DatetimeExpression | re_ast.TimedeltaExpression):
            raise ConditionError('date literals are not allowed; compare `date` with "YYYY-MM-DD"')
        if isinstance(node, re_ast.BytesExpression | re_ast.MappingExpression):
            raise ConditionError("bytes and mapping literals are not allowed in conditions")
        if isinstance(node, re_ast.ArrayExpression | re_ast.SetExpression):
            for member in node.value:
                _refuse_disallowed(member)
        return
    if kind is re_ast.SymbolExpression:
        if node.scope is not None and node.name not in ALLOWED_FUNCTIONS:
            raise ConditionError(f"`${node.name}` is not allowed in conditions")
        return
    if kind is re_ast.FunctionCallExpression:
        function = node.function
        if not (
            type(function) is re_ast.SymbolExpression
            and function.scope is not None
            and function.name in ALLOWED_FUNCTIONS
        ):
            allowed = ", ".join(f"${name}" for name in ALLOWED_FUNCTIONS)
            raise ConditionError(f"only these functions may be called: {allowed}")
        for argument in node.arguments:
            _refuse_disallowed(argument)
        return
    if kind is re_ast.GetAttributeExpression:
        if node.name not in ALLOWED_ATTRIBUTES:
            raise ConditionError(
                f"`.{node.name}` is not allowed in conditions",
                suggest(node.name, ALLOWED_ATTRIBUTES),
            )
        _refuse_disallowed(node.object)
        return
    if kind in (
        re_ast.LogicExpression,
        re_ast.ComparisonExpression,
        re_ast.ArithmeticComparisonExpression,
    ):
        _refuse_disallowed(node.left)
        _refuse_disallowed(node.right)
        return
    if kind in (re_ast.AddExpression, re_ast.SubtractExpression, re_ast.ArithmeticExpression):
        if node.type == "pow":
            raise ConditionError("`**` is not allowed in conditions")
        _refuse_disallowed(node.left)
        _refuse_disallowed(node.right)
        return
    if kind is re_ast.CoalesceExpression:
        _refuse_disallowed(node.left)
        _refuse_disallowed(node.right)
        return
    if kind is re_ast.ContainsExpression:
        _refuse_disallowed(node.container)
        _refuse_disallowed(node.member)
        return
    if kind is re_ast.UnaryExpression:
        _refuse_disallowed(node.right)
        return
    if kind is re_ast.TernaryExpression:
        _refuse_disallowed(node.condition)
        _refuse_disallowed(node.case_true)
        _refuse_disallowed(node.case_false)
        return
    raise ConditionError(f"{_describe(node)} is not allowed in conditions")


def _describe(node: Any) -> str:
    names = {
        "GetItemExpression": "indexing (x[0])",
        "GetSliceExpression": "slicing (x[1:2])",
        "ComprehensionExpression": "comprehensions",
        "BitwiseExpression": "bitwise operators",
        "BitwiseShiftExpression": "bitwise shifts",
    }
    return names.get(type(node).__name__, type(node).__name__)


def _plain(value: Any) -> Any:
    """rule-engine folds literals to Decimal and tuples; use plain Python values."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, tuple | list):
        return tuple(_plain(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(_plain(v) for v in value)
    return value


def _literal(node: Any) -> Any:
    return _plain(node.evaluate(None))


def _is_literal(node: Any) -> bool:
    return isinstance(node, re_ast.LiteralExpressionBase) and bool(node.is_reduced)


def _symbol_name(node: Any) -> str | None:
    if type(node) is re_ast.SymbolExpression and node.scope is None:
        return str(node.name)
    return None


def _flatten(node: Any, kind: str) -> list[Any]:
    if type(node) is re_ast.LogicExpression and node.type == kind:
        return _flatten(node.left, kind) + _flatten(node.right, kind)
    return [node]


def _compile(node: Any, names: set[str]) -> Condition:
    """Translate a checked rule-engine tree into a closure over the context mapping."""
    if _is_literal(node):
        value = _literal(node)
        return lambda ctx: value

    kind = type(node)
    symbol = _symbol_name(node)
    if symbol is not None:
        names.add(symbol)
        return lambda ctx: ctx[symbol]

    if kind is re_ast.LogicExpression:
        parts = [_compile(part, names) for part in _flatten(node, node.type)]
        return _and(parts) if node.type == "and" else _or(parts)

    if kind in (re_ast.ComparisonExpression, re_ast.ArithmeticComparisonExpression):
        op = _COMPARE[node.type]
        left_name = _symbol_name(node.left)
        if left_name is not None and _is_literal(node.right):
            names.add(left_name)
            return _SYMBOL_VERSUS_CONSTANT[node.type](left_name, _literal(node.right))
        left, right = _compile(node.left, names), _compile(node.right, names)
        return lambda ctx: op(left(ctx), right(ctx))

    if kind is re_ast.ContainsExpression:
        member_name = _symbol_name(node.member)
        if member_name is not None and _is_literal(node.container):
            names.add(member_name)
            container = _literal(node.container)
            if isinstance(container, tuple) and all(
                isinstance(v, str | int | float | bool) for v in container
            ):
                container = frozenset(container)
            return lambda ctx: ctx[member_name] in container
        member, holder = _compile(node.member, names), _compile(node.container, names)
        return lambda ctx: member(ctx) in holder(ctx)

    if kind is re_ast.UnaryExpression:
        inner = _compile(node.right, names)
        if node.type == "not":
            return lambda ctx: not inner(ctx)
        return lambda ctx: -inner(ctx)

    if kind in (re_ast.AddExpression, re_ast.SubtractExpression, re_ast.ArithmeticExpression):
        arith = _ARITHMETIC[node.type]
        left, right = _compile(node.left, names), _compile(node.right, names)
        return lambda ctx: arith(left(ctx), right(ctx))

    if kind is re_ast.CoalesceExpression:
        left, right = _compile(node.left, names), _compile(node.right, names)

        def coalesce(ctx: Mapping[str, Any]) -> Any:
            value = left(ctx)
            return right(ctx) if value is None else value

        return coalesce

    if kind is re_ast.TernaryExpression:
        test = _compile(node.condition, names)
        if_true, if_false = _compile(node.case_true, names), _compile(node.case_false, names)
        return lambda ctx: if_true(ctx) if test(ctx) else if_false(ctx)

    if kind is re_ast.GetAttributeExpression:
        attribute = ALLOWED_ATTRIBUTES[node.name]
        target = _compile(node.object, names)
        return lambda ctx: attribute(target(ctx))

    if kind is re_ast.FunctionCallExpression:
        function = ALLOWED_FUNCTIONS[node.function.name]
        arguments = [_compile(argument, names) for argument in node.arguments]
        return lambda ctx: function(*(argument(ctx) for argument in arguments))

    if isinstance(node, re_ast.ArrayExpression | re_ast.SetExpression):
        members = [_compile(member, names) for member in node.value]
        if isinstance(node, re_ast.SetExpression):
            return lambda ctx: frozenset(member(ctx) for member in members)
        return lambda ctx: tuple(member(ctx) for member in members)

    raise ConditionError(f"{_describe(node)} is not allowed in conditions")


# `name <op> constant` is most of what HR writes; one closure each, no operator call.
_SYMBOL_VERSUS_CONSTANT: dict[str, Callable[[str, Any], Condition]] = {
    "eq": lambda n, c: lambda ctx: ctx[n] == c,
    "ne": lambda n, c: lambda ctx: ctx[n] != c,
    "gt": lambda n, c: lambda ctx: ctx[n] > c,
    "ge": lambda n, c: lambda ctx: ctx[n] >= c,
    "lt": lambda n, c: lambda ctx: ctx[n] < c,
    "le": lambda n, c: lambda ctx: ctx[n] <= c,
}


def _and(parts: list[Condition]) -> Condition:
    # Unrolled for the common short chains: a generator over closures costs more
    # than the comparisons themselves.
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) and b(ctx)
    if len(parts) == 3:
        a, b, c = parts
        return lambda ctx: a(ctx) and b(ctx) and c(ctx)
    return lambda ctx: all(part(ctx) for part in parts)


def _or(parts: list[Condition]) -> Condition:
    if len(parts) == 2:
        a, b = parts
        return lambda ctx: a(ctx) or b(ctx)
    if len(parts) == 3:
        a, b, c = parts
        return lambda ctx: a(ctx) or b(ctx) or c(ctx)
    return lambda ctx: any(part(ctx) for part in parts)
