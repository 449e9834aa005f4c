"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Required, TypedDict, Unpack

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.models import AuditEntry


class Fields(TypedDict, total=False):
    """An audit row's values: who (``actor``) did what (``action``) to what, from where."""

    actor: Required[str]
    action: Required[str]
    target: str
    details: dict[str, Any] | None
    ip: str
    user_agent: str


def entry(**fields: Unpack[Fields]) -> AuditEntry:
    """An audit row, its strings cut to their columns; not yet in any session."""
    return AuditEntry(
        actor=fields["actor"][:96],
        action=fields["action"],
        target=fields.get("target", "")[:128],
        details=fields.get("details") or {},
        ip=fields.get("ip", "")[:64],
        user_agent=fields.get("user_agent", "")[:256],
    )


async def record(session: AsyncSession, **fields: Unpack[Fields]) -> AuditEntry:
    """Add an audit row in the caller's transaction, so it commits with the action."""
    row = entry(**fields)
    session.add(row)
    return row


async def search(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[Sequence[AuditEntry], int]:
    """Entries matching the filters, newest first, and how many match in all."""
    query = select(AuditEntry)
    if actor:
        query = query.where(col(AuditEntry.actor).contains(actor))
    if action:
        query = query.where(col(AuditEntry.action).startswith(action))
    if since:
        query = query.where(AuditEntry.at >= since)
    if until:
        query = query.where(AuditEntry.at < until)
    total = (await session.exec(select(func.count()).select_from(query.subquery()))).one()
    rows = (
        await session.exec(
            query.order_by(col(AuditEntry.at).desc(), col(AuditEntry.id).desc())
            .offset(offset)
            .limit(limit)
        )
    ).all()
    return rows, total


async def known_actions(session: AsyncSession) -> list[str]:
    rows = await session.exec(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
    return list(rows.all())
