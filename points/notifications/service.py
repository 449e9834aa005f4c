"""Adding messages to the outbox and reading what is still to be sent."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.db import utcnow
from points.notifications.models import Notification


def message(*, userid: str, kind: str, title: str, body: str = "", url: str = "") -> Notification:
    """A message for the outbox, its strings cut to their columns; not yet in any session."""
    return Notification(
        userid=userid[:64], kind=kind[:48], title=title[:200], body=body[:2000], url=url[:500]
    )


def notify(
    session: AsyncSession, *, userid: str, kind: str, title: str, body: str = "", url: str = ""
) -> Notification:
    """Queue a message in the caller's transaction, so it exists only if the change commits."""
    row = message(userid=userid, kind=kind, title=title, body=body, url=url)
    session.add(row)
    return row


async def unsent(session: AsyncSession, limit: int = 100) -> Sequence[Notification]:
    """The oldest messages not sent yet."""
    rows = await session.exec(
        select(Notification)
        .where(col(Notification.sent_at).is_(None))
        .order_by(col(Notification.id))
        .limit(limit)
    )
    return rows.all()


async def mark_sent(session: AsyncSession, notification: Notification) -> None:
    notification.sent_at = utcnow()
    session.add(notification)
