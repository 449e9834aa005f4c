"""Writing and reading the audit log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.models import AuditEntry


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    target: str = "",
    details: dict[str, Any] | None = None,
    ip: str = "",
    user_agent: str = "",
) -> AuditEntry:
    """Add an audit row in the caller's transaction, so it commits with the action."""
    entry = AuditEntry(
        actor=actor[:96],
        action=action,
        target=target[:128],
        details=details or {},
        ip=ip[:64],
        user_agent=user_agent[:256],
    )
    session.add(entry)
    return entry


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
