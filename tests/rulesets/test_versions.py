"""Versions: exactly one active, activations and rollbacks audited, races refused cleanly."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from points.audit.models import AuditEntry
from points.errors import Conflict
from points.rulesets import service
from points.rulesets.models import RuleVersion, VersionStatus
from points.workbench.service import activate, diff_versions
from tests.support.rulesets import DEFAULT_RULES, doubled_doc_shared
from tests.support.services import Store


async def _drafts(store: Store, *sources: str) -> list[int]:
    async with store.db.session() as session:
        await service.ensure_active(session)
        ids = []
        for source in sources:
            draft = await service.save_draft(session, source=source, author="zhaoliu")
            assert draft.id is not None
            ids.append(draft.id)
        await session.commit()
    return ids


async def _statuses(store: Store) -> list[tuple[int | None, VersionStatus]]:
    async with store.db.session() as session:
        rows = await session.exec(select(RuleVersion).order_by(col(RuleVersion.id)))
        return [(v.id, v.status) for v in rows.all()]


async def test_activate_and_roll_back_are_audited(pg: Store) -> None:
    (v2,) = await _drafts(pg, doubled_doc_shared())
    async with pg.db.session() as session:
        await activate(
            pg_session := session, pg.settings, version_id=v2, author="zhaoliu", ip="1.2.3.4"
        )
        await pg_session.commit()
    async with pg.db.session() as session:
        await activate(session, pg.settings, version_id=1, author="sunqi")
        await session.commit()
        entries = (
            await session.exec(
                select(AuditEntry)
                .where(AuditEntry.action == "rules.activate")
                .order_by(col(AuditEntry.id))
            )
        ).all()
    assert await _statuses(pg) == [(1, VersionStatus.active), (2, VersionStatus.retired)]
    # v1 by the system on first use, v2 by HR, then the rollback to v1.
    assert [(e.actor, e.target, e.details["rollback"]) for e in entries] == [
        ("system", "v1", False),
        ("zhaoliu", "v2", False),
        ("sunqi", "v1", True),
    ]
    assert entries[1].ip == "1.2.3.4"


async def test_the_database_refuses_a_second_active_version(pg: Store) -> None:
    (v2,) = await _drafts(pg, doubled_doc_shared())
    async with pg.db.session() as session:
        version = await session.get(RuleVersion, v2)
        assert version is not None
        version.status = VersionStatus.active
        session.add(version)
        with pytest.raises(IntegrityError):
            await session.flush()


async def test_concurrent_activations_leave_exactly_one_active(pg: Store) -> None:
    v2, v3 = await _drafts(pg, doubled_doc_shared(), DEFAULT_RULES)
    outcomes: list[str] = []

    async def first() -> None:
        async with pg.db.session() as session:
            await activate(session, pg.settings, version_id=v2, author="a")
            await asyncio.sleep(0.5)  # hold the transaction open while the other one starts
            await session.commit()
            outcomes.append("v2")

    async def second() -> None:
        await asyncio.sleep(0.1)
        async with pg.db.session() as session:
            try:
                await activate(session, pg.settings, version_id=v3, author="b")
                await session.commit()
                outcomes.append("v3")
            except Conflict:
                outcomes.append("conflict")

    await asyncio.gather(first(), second())
    statuses = await _statuses(pg)
    assert [s for _i, s in statuses].count(VersionStatus.active) == 1
    assert sorted(outcomes) == ["conflict", "v2"]
    assert (v2, VersionStatus.active) in statuses


async def test_diff_names_added_removed_and_changed_rules(pg: Store) -> None:
    changed = doubled_doc_shared().replace("- id: doc-created", "- id: doc-made", 1)
    (v2,) = await _drafts(pg, changed)
    async with pg.db.session() as session:
        diff = diff_versions(
            await service.get_version(session, 1), await service.get_version(session, v2)
        )
    assert diff.added == ["doc-made"] and diff.removed == ["doc-created"]
    assert diff.changed == [("doc-shared", ["points", "cap"])]
    assert any(line.startswith("+  points: 6") for line in diff.lines)
