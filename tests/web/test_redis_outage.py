"""A Redis outage is not an intake outage: committed events are answered as stored."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlmodel import select

from points.events.models import ActivityEvent, EventStatus
from points.jobs import InlineQueue, JobContext
from points.org.models import Role
from points.rulesets.service import ensure_active
from points.scoring.jobs import score_pending
from tests.support.factories import make_token
from tests.support.org import Org
from tests.support.services import Store, make_settings
from web.app import create_app

# Nothing listens here: every connection is refused, for longer than the queue's retry
# budget (about half a minute of backoff, points.jobs.arq_queue.redis_settings).
REDIS_DOWN = "redis://127.0.0.1:9/0"


async def test_events_are_stored_and_answered_while_redis_is_down(pg: Store, org: Org) -> None:
    async with pg.db.session() as session:
        await ensure_active(session)
        token = await make_token(session, Role.hr, None)
        await session.commit()
    event = {
        "external_id": "doc:redis-down",
        "type": "doc.shared",
        "actor": org.employee.userid,
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    app = create_app(make_settings(pg.settings.DATABASE_URL, REDIS_URL=REDIS_DOWN))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            answer = await c.post(
                "/api/v1/events", json=event, headers={"Authorization": f"Bearer {token}"}
            )
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["status"] == "created"
    async with pg.db.session() as session:
        stored = (await session.exec(select(ActivityEvent))).one()
    assert stored.status == EventStatus.pending
    # The queue is back: the safety-net sweep scores what was left pending.
    ctx = JobContext(pg.settings, pg.db, InlineQueue(pg.settings, pg.db))
    assert await score_pending(ctx, older_than_seconds=0) == 1
    async with pg.db.session() as session:
        scored = (await session.exec(select(ActivityEvent))).one()
    assert scored.status == EventStatus.scored
