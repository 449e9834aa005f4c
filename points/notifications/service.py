"""Adding messages to the outbox (:mod:`points.wecom.messages` sends them)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

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
