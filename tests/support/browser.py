"""A real browser's needs: Debian's Chromium and the demo company served on a loopback port."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from points.db import Database
from points.devtools.demo.company import build_company
from points.migrate import upgrade
from tests.support.services import IN_CI, make_settings
from web.app import create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def served_demo(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """The demo company served by uvicorn on a loopback port; yields (url, head userid)."""
    if not os.path.exists(CHROMIUM):
        message = f"{CHROMIUM} is missing (apt-get install chromium fonts-wqy-microhei)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    settings = make_settings(url)

    async def seed() -> str:
        db = Database(settings)
        async with db.session() as session:
            company = await build_company(session, employees=40)
            await session.commit()
        await db.dispose()
        return company.heads[3]

    head = asyncio.run(seed())
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", head
    finally:
        server.should_exit = True
        thread.join(timeout=10)
