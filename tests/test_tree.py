"""The shape of the code: the tests mirror the source and import no conftest or test."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"
SOURCES = ("points", "web", "rules")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return found


def test_no_test_imports_a_conftest_or_another_test_module() -> None:
    wrong = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in TESTS.rglob("*.py")
        for name in _imports(path)
        if name.startswith("tests.")
        and (name.endswith(".conftest") or name.rsplit(".", 1)[-1].startswith("test_"))
    }
    assert not wrong, "share helpers through tests/support instead:\n" + "\n".join(sorted(wrong))


def test_every_test_folder_mirrors_a_source_package() -> None:
    packages = {p.name for root in SOURCES for p in (ROOT / root).iterdir() if p.is_dir()}
    packages |= set(SOURCES)
    folders = {
        p.relative_to(TESTS).parts[0]
        for p in TESTS.rglob("test_*.py")
        if len(p.relative_to(TESTS).parts) > 1
    }
    assert folders <= packages | {"support"}, folders - packages


MAX_MODULE_LINES = 600


def test_no_module_is_over_600_lines() -> None:
    """A module that grows past this is split along its seams, not allowed to sprawl."""
    long = {
        f"{path.relative_to(ROOT)}: {lines}"
        for source in SOURCES
        for path in (ROOT / source).rglob("*.py")
        if (lines := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, f"split these modules (over {MAX_MODULE_LINES} lines): {sorted(long)}"
