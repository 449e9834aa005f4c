"""Events sent through intake and scoring, the way the embedded default runs them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from points.events.schemas import EventIn
from points.events.service import ingest
from points.jobs import InlineQueue, commit
from tests.support.services import Store

SHANGHAI = ZoneInfo("Asia/Shanghai")


def event(
    external_id: str, type_: str, actor: str, when: datetime | str, **attributes: Any
) -> EventIn:
    occurred = datetime.fromisoformat(when) if isinstance(when, str) else when
    if occurred.tzinfo is None:
        occurred = occurred.replace(tzinfo=SHANGHAI)
    return EventIn(
        external_id=external_id,
        type=type_,
        actor=actor,
        occurred_at=occurred,
        attributes=attributes,
    )


async def send(store: Store, events: Sequence[EventIn], source: str = "api") -> list[str]:
    """Intake then scoring, the way the embedded default runs it."""
    queue = InlineQueue(store.settings, store.db)
    async with store.db.session() as session:
        results = await ingest(session, source, events)
        await commit(session, queue)
    return [r.status for r in results]
