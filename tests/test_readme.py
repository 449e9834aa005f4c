"""The README cannot drift: its settings table, command table and Layout are checked
against the settings object, the command line and the tree."""

from __future__ import annotations

import re
from pathlib import Path

import click
from pydantic_core import PydanticUndefined

from points.cli import main
from points.settings import DEFAULT_SECRET_KEY, Settings

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    """The README's text under ``## title``, up to the next heading of that level."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", README, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def _rows_of(title: str) -> list[list[str]]:
    lines = [line for line in _section(title).splitlines() if line.startswith("|")]
    return [[c.strip() for c in line.strip().strip("|").split(" | ")] for line in lines[2:]]


# ----------------------------------------------------------------------- settings


def _as_documented(value: object) -> str:
    """A default as the README writes it: `value`, unset, empty or a dev key."""
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if value == DEFAULT_SECRET_KEY:
        return "a dev key"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def test_the_settings_table_is_the_settings_object() -> None:
    rows = _rows_of("Settings")
    documented = {}
    for name, default, meaning in rows:
        assert re.fullmatch(r"`POINTS_[A-Z_]+`", name), name
        assert meaning, f"{name} has no meaning"
        documented[name.strip("`").removeprefix("POINTS_")] = default
    fields = Settings.model_fields
    assert list(documented) == list(fields), "the table lists the settings in their order"
    for name, field in fields.items():
        assert field.default is not PydanticUndefined, name
        assert documented[name] == _as_documented(field.default), f"POINTS_{name}: README"


# ----------------------------------------------------------------------- commands


def _cli_commands() -> dict[str, click.Command]:
    found: dict[str, click.Command] = {}

    def walk(command: click.Command, path: str) -> None:
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, f"{path} {name}")
        else:
            found[path] = command

    walk(main, "points")
    return found


def _documented_commands() -> dict[str, tuple[set[str], list[str]]]:
    """``points …`` → (options, ARGUMENTS) as the command table writes them."""
    documented: dict[str, tuple[set[str], list[str]]] = {}
    for cells in _rows_of("Commands"):
        assert cells[1], f"{cells[0]} says nothing about what it does"
        for usage in re.findall(r"`(points [^`]+)`", cells[0]):
            words = re.split(r"\s+", usage)
            path = []
            for word in words:
                if not re.fullmatch(r"[a-z][a-z-]*", word):
                    break
                path.append(word)
            rest = " ".join(words[len(path) :])
            options = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest))
            arguments = re.findall(r"(?<![\w-])(?<!\[--)([A-Z][A-Z_]*)(?=$|\s)", rest)
            # Upper-case words right after an option are its value, not an argument.
            values = set(re.findall(r"--[a-z-]+ ([A-Z][A-Z_]*)", rest))
            documented[" ".join(path)] = (options, [a for a in arguments if a not in values])
    return documented


def test_the_command_table_is_the_command_line() -> None:
    commands = _cli_commands()
    documented = _documented_commands()
    assert sorted(documented) == sorted(commands), "README command table vs `points --help`"
    for path, command in commands.items():
        options = {
            opt
            for param in command.params
            if isinstance(param, click.Option)
            for opt in param.opts
            if opt.startswith("--") and opt != "--help"
        }
        arguments = [
            p.name.upper() for p in command.params if isinstance(p, click.Argument) and p.name
        ]
        assert documented[path] == (options, arguments), path


# ------------------------------------------------------------------------- layout


def _tracked_entries(folder: Path) -> set[str]:
    return {
        p.name
        for p in folder.iterdir()
        if not p.name.startswith((".", "_"))
        and (p.suffix == ".py" or (p.is_dir() and (p / "__init__.py").exists()))
    }


def test_the_layout_names_every_part_of_the_tree() -> None:
    layout = _section("Layout")
    bullets = re.findall(r"^- `([a-z_]+)/`", layout, re.M)
    ignored = {
        line.strip().strip("/")
        for line in (ROOT / ".gitignore").read_text(encoding="utf-8").splitlines()
        if line.strip().endswith("/")
    }
    top = sorted(
        p.name
        for p in ROOT.iterdir()
        if p.is_dir()
        and not p.name.startswith(".")
        and not p.name.endswith(".egg-info")
        and p.name not in ignored
    )
    assert sorted(bullets) == top, "one Layout bullet per top-level folder"

    points = re.search(r"^- `points/`(.*?)(?=^- )", layout, re.M | re.S)
    assert points
    named = set(re.findall(r"`([a-z_][a-z0-9_]*(?:\.py)?)`", points.group(1)))
    for entry in _tracked_entries(ROOT / "points"):
        assert {entry, entry.removesuffix(".py")} & named, f"Layout does not name points/{entry}"
    for name in named:
        exists = (
            any((ROOT / "points").rglob(name if name.endswith(".py") else f"{name}.py"))
            or any(p.is_dir() for p in (ROOT / "points").rglob(name))
            or (ROOT / name).is_dir()
        )
        assert exists, f"Layout names `{name}`, which is not in the tree"


# ------------------------------------------------------------------ activity sources


def test_the_activity_source_table_is_the_catalogue() -> None:
    from rules.catalog import BUILTIN_EVENT_TYPES, SOURCE_KINDS

    expected = [
        [
            f"{t.title_en} ({t.title_zh})",
            f"`{t.name}`",
            ", ".join(SOURCE_KINDS[s][1] for s in t.origin.sources),
            t.origin.permission_en,
            t.origin.frequency_en,
        ]
        for t in BUILTIN_EVENT_TYPES.values()
    ]
    assert _rows_of("Activity sources") == expected, "README activity sources vs rules/catalog.py"
