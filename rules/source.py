"""Rule text as YAML with a line number for every key, and the problem type every check
reports (:class:`RuleError`: one line naming the line, the rule, the field and a hint).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

#: Where a value sits in the document: keys and list indexes from the top.
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule file; ``str()`` gives the one-line message."""

    message: str
    line: int | None = None
    rule_id: str | None = None
    field: str | None = None
    suggestion: str | None = None

    def __str__(self) -> str:
        where = []
        if self.rule_id is not None:
            where.append(f"rule `{self.rule_id}`")
        if self.field is not None:
            where.append(f"field `{self.field}`")
        text = ", ".join(where)
        text = f"{text}: {self.message}" if text else self.message
        if self.line is not None:
            text = f"line {self.line}: {text}"
        if self.suggestion:
            text = f"{text} — {self.suggestion}"
        return text


class RuleSetError(ValueError):
    """Raised by the loaders when a rule file has problems; ``errors`` lists them."""

    def __init__(self, errors: list[RuleError]) -> None:
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


class _LineLoader(yaml.SafeLoader):
    """Safe YAML loading; dates stay text so pydantic reports bad ones with a line."""


_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], errors: list[RuleError]) -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                errors.append(
                    RuleError(
                        f"`{key}` appears twice in the same mapping",
                        line=key_node.start_mark.line + 1,
                        field=key,
                    )
                )
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, errors)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            _walk(item, child, lines, errors)


def parse_yaml(text: str) -> tuple[Any, dict[Path_, int], list[RuleError]]:
    """The document, the line of every key and item (by path), and the problems found."""
    lines: dict[Path_, int] = {}
    errors: list[RuleError] = []
    loader = _LineLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, lines, errors
        _walk(node, (), lines, errors)
        data = loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        problem = getattr(error, "problem", None) or str(error)
        return (
            None,
            lines,
            [RuleError(f"YAML syntax error: {problem}", line=mark.line + 1 if mark else None)],
        )
    finally:
        loader.dispose()
    return data, lines, errors


def line_of(lines: Mapping[Path_, int], path: Path_) -> int | None:
    """The most specific line we know for ``path``: the field itself, else its parents."""
    for end in range(len(path), -1, -1):
        found = lines.get(path[:end])
        if found is not None:
            return found
    return None
