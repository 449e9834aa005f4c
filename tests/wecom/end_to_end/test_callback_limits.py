"""Bad callback signatures are limited per client: 429 with Retry-After, audited in aggregate."""

from __future__ import annotations

import httpx
from sqlmodel import select

from points.audit.models import AuditEntry
from points.settings import Settings
from tests.support.services import Store


async def test_forged_callbacks_from_one_client_are_slowed_down(
    web: httpx.AsyncClient, pg: Store, settings: Settings
) -> None:
    params = {"msg_signature": "0" * 40, "timestamp": "1", "nonce": "n", "echostr": "x"}
    limit = settings.CALLBACK_FAILURE_LIMIT
    codes = [(await web.get("/wecom/callback", params=params)).status_code for _ in range(limit)]
    assert 429 not in codes and all(400 <= code < 500 for code in codes)
    limited = await web.post("/wecom/callback", params=params, content=b"<xml/>")
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert int(limited.headers["retry-after"]) > 0
    async with pg.db.session() as session:
        rows = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "refused.callback"))
        ).all()
    assert [row.details["count"] for row in rows] == [1, limit]
