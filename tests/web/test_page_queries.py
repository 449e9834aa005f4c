"""What the pages everyone opens each morning cost in SQL statements, pinned.

Home, the board and the catalogue are what the morning rush bench times; every
statement one of them gains is paid by every person every morning, so a change that
adds one has to change the number here too (and say why).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import event
from sqlmodel import col, select
from starlette.applications import Starlette

from points import shared_reads
from points.boards.frozen import freeze_closed
from points.devtools.demo.build import build_demo
from points.org.models import Employee, RoleAssignment
from tests.support.factories import login
from tests.support.services import Store

# Statements per page for a plain employee of the demo company, caches warm.
PINNED = {"/": 18, "/boards": 6, "/rewards": 3}


@contextmanager
def counted(app: Starlette) -> Iterator[list[str]]:
    statements: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    engine = app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.fixture
async def viewer(pg: Store) -> str:
    """The demo company with a few days of activity; a person with no role."""
    await build_demo(pg.settings, employees=300, days=14, seed=7)
    async with pg.db.session() as session:
        # Closed weeks and months published, so no page sets the freezing job going.
        await freeze_closed(session, pg.settings.zone)
        await session.commit()
    async with pg.db.session() as session:
        with_roles = select(RoleAssignment.employee_id)
        userid = (
            await session.exec(
                select(Employee.userid)
                .where(col(Employee.id).not_in(with_roles))
                .order_by(col(Employee.id))
            )
        ).first()
    assert userid is not None
    return userid


@pytest.mark.parametrize("path", list(PINNED))
async def test_the_morning_pages_make_the_pinned_number_of_statements(
    app: Starlette,
    client: httpx.AsyncClient,
    viewer: str,
    path: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What is the same for everyone is kept a moment (points.shared_reads): long enough
    # here that a slow machine counts the same statements.
    monkeypatch.setattr(shared_reads, "TTL", 3600.0)
    await login(client, viewer)
    for _visit in range(2):  # caches filled (rules, rank indexes)
        assert (await client.get(path)).status_code == 200
    with counted(app) as statements:
        response = await client.get(path)
    assert response.status_code == 200
    listing = "\n".join(" ".join(s.split())[:160] for s in statements)
    assert len(statements) == PINNED[path], f"{path} made:\n{listing}"
