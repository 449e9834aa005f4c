"""The hostile run: the API fuzzed from /openapi.json as every role, on PostgreSQL.

schemathesis (pinned in pyproject) generates requests from the document: valid ones
and, in negative mode, ones that break it (wrong types, out-of-range numbers,
missing fields, odd strings in paths). Each answer must be no 5xx, a status the
document lists, and a body that matches its schema. Bounded: a fixed number of
examples per operation and role, derandomised so a run is reproducible.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from requests import Session
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from points.org.models import Role
from tests.support.factories import make_token
from tests.support.org import Org
from tests.support.rewards import give, make_reward
from tests.support.services import Store
from web.app import create_app
from web.openapi import openapi_document

EXAMPLES = 3  # per operation, role and mode: 16 operations x 5 roles x 2 modes x 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@dataclass
class LiveServer:
    url: str
    headers: dict[str, dict[str, str]]  # by role


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def live(pg: Store, org: Org) -> AsyncIterator[LiveServer]:
    """The app served by uvicorn in a thread (its own event loop), with a token per role."""
    async with pg.db.session() as session:
        headers: dict[str, dict[str, str]] = {"anonymous": {}}
        for role, person in (
            (Role.employee, org.employee),
            (Role.head, org.head),
            (Role.hr, org.hr),
            (Role.admin, org.admin),
        ):
            token = await make_token(session, role, person.userid)
            headers[role.value] = {"Authorization": f"Bearer {token}"}
        for person in (org.employee, org.colleague, org.head, org.hr):
            assert person.id is not None
            await give(session, pg.settings, person.id, 1_000)
        await make_reward(session, name="咖啡券", price=30)
        await make_reward(session, name="午餐券", price=20, approver="hr")
        await session.commit()
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(pg.settings), host="127.0.0.1", port=port, log_level="error")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        await asyncio.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", headers)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def _runner(
    live: LiveServer, role: str, operation: APIOperation, mode: GenerationMode, http: Session
) -> Callable[[], None]:
    """A hypothesis test of one operation, as one role, in one generation mode."""
    checks = [*CHECKS, negative_data_rejection] if mode == GenerationMode.NEGATIVE else CHECKS

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        response = case.call(base_url=live.url, session=http, headers=live.headers[role])
        case.validate_response(response, checks=checks)

    return run


def _fuzz(live: LiveServer, role: str, mode: GenerationMode) -> Iterator[str]:
    """Run every operation for one role and mode; yields a description of each failure."""
    schema = schemathesis.openapi.from_dict(openapi_document())
    http = requests.Session()
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _runner(live, role, operation, mode, http)()
        except Exception as failure:  # every operation is tried; all failures reported
            yield f"{role} {mode.value} {operation.label}: {failure}"


@pytest.mark.slow
async def test_the_api_survives_fuzzing_as_every_role(live: LiveServer) -> None:
    failures = [
        failure
        for role in ("anonymous", "employee", "head", "hr", "admin")
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for failure in _fuzz(live, role, mode)
    ]
    assert failures == [], "\n\n".join(failures)
