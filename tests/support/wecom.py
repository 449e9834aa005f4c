"""WeCom test data: the vendored callback vectors, our own test secrets, a sleep that
only records, and delivering sealed callbacks to the app."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from sqlmodel import func, select
from starlette.applications import Starlette

from points.events.models import ActivityEvent
from points.wecom.crypto import CallbackCrypto
from tests.support.services import Store

# Known-good callback vectors (a copy of the WeCom protocol notes' vectors), kept in the
# repository so a plain clone runs every test.
VECTORS_PATH = Path(__file__).parents[1] / "wecom" / "vectors.json"

#: A fixed "now" (2024-11-24, when the vectors were made) for tests with their own data.
NOW = 1_732_430_000
CORP_ID = "wwtestcorp0001"
TOKEN = "TestToken123"


def new_aes_key() -> str:
    """A fresh 43-character EncodingAESKey."""
    return base64.b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


@dataclass
class RecordedSleeps:
    """An injectable ``sleep`` that records delays instead of waiting."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@dataclass
class Clock:
    """An injectable "now" for jobs: tests move it instead of waiting minutes."""

    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def deliver(
    web: httpx.AsyncClient, app: Starlette, crypto: CallbackCrypto, message: str
) -> httpx.Response:
    """POST a sealed callback and wait for the jobs it started (scoring, details)."""
    sealed = crypto.post_body(message)
    response = await web.post(
        "/wecom/callback",
        params=sealed.params,
        content=sealed.body,
        headers={"Content-Type": "text/xml"},
    )
    await app.state.queue.drain()
    return response


async def event_count(store: Store) -> int:
    async with store.db.session() as session:
        return int((await session.exec(select(func.count()).select_from(ActivityEvent))).one())


async def rejected_count(web: httpx.AsyncClient, reason: str) -> float:
    text = (await web.get("/metrics")).text
    match = re.search(
        r'points_wecom_callbacks_rejected_total\{reason="' + re.escape(reason) + r'"\} (\S+)', text
    )
    return float(match.group(1)) if match else 0.0
