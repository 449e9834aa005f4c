"""A small known data set for rule-version tests: a company, some scored events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from points.cli import main
from points.org.models import Employee, Role
from points.settings import get_settings
from rules import DEFAULT_RULES_PATH
from tests.support.events import SHANGHAI, event, send
from tests.support.factories import make_department, make_employee
from tests.support.services import Store

DEFAULT_RULES = DEFAULT_RULES_PATH.read_text(encoding="utf-8")


def doubled_doc_shared() -> str:
    """The default rules with 分享文档 worth 6 instead of 3 (and its cap doubled)."""
    text = DEFAULT_RULES.replace(
        "  when: doc.shared\n  points: 3\n", "  when: doc.shared\n  points: 6\n"
    ).replace("cap: {per: week, max: 30}", "cap: {per: week, max: 60}", 1)
    assert text != DEFAULT_RULES
    return text


@dataclass
class Company:
    zhang: Employee
    li: Employee
    hr: Employee
    start: datetime  # when the first event happened


@pytest.fixture
async def company(pg: Store) -> Company:
    """张三 shares 3 documents and submits an approval; 李四 shares one; all scored."""
    async with pg.db.session() as session:
        sales = await make_department(session, "销售部")
        finance = await make_department(session, "财务部")
        zhang = await make_employee(session, sales, userid="zhangsan", name="张三")
        li = await make_employee(session, finance, userid="lisi", name="李四")
        hr = await make_employee(session, finance, userid="zhaoliu", name="赵六", role=Role.hr)
        await session.commit()
    start = (datetime.now(SHANGHAI) - timedelta(days=5)).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    events = [
        event(f"doc:{i}", "doc.shared", "zhangsan", start + timedelta(hours=i), doc_id=f"d{i}")
        for i in range(3)
    ]
    events.append(event("doc:9", "doc.shared", "lisi", start, doc_id="d9"))
    events.append(
        event(
            "approval:1",
            "approval.submitted",
            "zhangsan",
            start + timedelta(hours=5),
            template="报销",
            sp_no="1",
            on_time=True,
        )
    )
    assert await send(pg, events) == ["created"] * 5
    return Company(zhang, li, hr, start)


@pytest.fixture
def cli_env(pg: Store, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("POINTS_DATABASE_URL", pg.settings.DATABASE_URL)
    monkeypatch.setenv("POINTS_SECRET_KEY", pg.settings.SECRET_KEY)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def invoke(*args: str) -> Result:
    """Run the CLI off this test's event loop (it runs its own)."""
    return await asyncio.to_thread(CliRunner().invoke, main, list(args))


def write(tmp_path: Path, text: str, name: str = "rules.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


async def use_rules(store: Store, source: str, author: str = "system") -> int:
    """Save ``source`` as a version and make it the active one; its id."""
    from points.rulesets import service

    async with store.db.session() as session:
        draft = await service.save_draft(session, source=source, author=author)
        assert draft.id is not None
        await service.activate(session, version_id=draft.id, author=author)
        await session.commit()
        return draft.id
