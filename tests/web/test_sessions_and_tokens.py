"""Tokens act with exactly their role; sessions end server-side when they should."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from points.cli import main
from points.org import service as org
from points.org.models import Role
from tests.support.factories import login, make_token
from tests.support.org import Org
from tests.support.services import Store


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_an_employee_token_of_an_admin_is_only_an_employee(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        token = await make_token(session, Role.employee, org.admin.userid)
        await session.commit()
    # The admin's own figures: yes. Anyone else's, the people list, adding rewards: no.
    own = await client.get(f"/api/v1/employees/{org.admin.userid}", headers=bearer(token))
    assert own.status_code == 200
    for method, path in (
        ("GET", "/api/v1/employees"),
        ("GET", f"/api/v1/employees/{org.employee.userid}"),
        ("POST", "/api/v1/rewards"),
        ("POST", "/api/v1/events"),
    ):
        answer = await client.request(method, path, headers=bearer(token), json={})
        assert answer.status_code == 403, (method, path, answer.text)
        assert answer.json()["error"]["code"] == "forbidden"


async def test_a_head_token_sees_only_the_departments_its_person_runs(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        head = await make_token(session, Role.head, org.head.userid)
        # The admin heads nothing: a head token bound to them sees no department.
        admin_as_head = await make_token(session, Role.head, org.admin.userid)
        await session.commit()
    mine = await client.get(f"/api/v1/employees/{org.employee.userid}", headers=bearer(head))
    assert mine.status_code == 200
    other = await client.get(f"/api/v1/employees/{org.outsider.userid}", headers=bearer(head))
    assert other.status_code == 403
    listing = await client.get("/api/v1/employees", headers=bearer(admin_as_head))
    assert listing.status_code == 200 and listing.json()["total"] == 0


async def test_a_read_only_token_reads_and_never_writes(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        from points.auth.service import create_token

        token = await create_token(
            session, name="office-screen", role=Role.hr, userid=None, read_only=True
        )
        await session.commit()
    assert (await client.get("/api/v1/employees", headers=bearer(token))).status_code == 200
    body = {"name": "图书卡", "price": 120}
    refused = await client.post("/api/v1/rewards", json=body, headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "read_only"
    events = await client.post("/api/v1/events", json=[], headers=bearer(token))
    assert events.status_code == 403


def test_cli_creates_a_read_only_token(
    pg: Store, org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POINTS_DATABASE_URL", pg.settings.DATABASE_URL)
    from points.settings import get_settings

    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            main, ["token", "create", "--name", "screen", "--role", "hr", "--read-only"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "read-only" in result.output


async def test_a_replayed_cookie_after_logout_lands_on_the_login_page(
    org: Org, client: httpx.AsyncClient
) -> None:
    await login(client, org.employee.userid)
    stolen = dict(client.cookies)
    assert (await client.get("/")).status_code == 200
    home = await client.get("/")
    from tests.support.factories import csrf_from

    await client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    client.cookies.clear()
    for name, value in stolen.items():
        client.cookies.set(name, value)
    replay = await client.get("/")
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")


async def test_a_role_change_ends_every_session_of_that_person(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    await login(client, org.employee.userid)
    assert (await client.get("/")).status_code == 200
    async with pg.db.session() as session:
        await org_grant(session, org.employee.userid)
        await session.commit()
    answer = await client.get("/")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    # Logging in again works, now with the new role.
    await login(client, org.employee.userid)
    assert (await client.get("/rules")).status_code == 200


async def org_grant(session: object, userid: str) -> None:
    await org.grant_role(session, userid=userid, role=Role.hr, granted_by="sunqi")  # type: ignore[arg-type]


async def test_leaving_ends_the_session(pg: Store, org: Org, client: httpx.AsyncClient) -> None:
    from points.ledger.participation import roll_changed
    from points.org.leavers import mark_left
    from points.rewards.workflow import release_holds_of

    await login(client, org.employee.userid)
    async with pg.db.session() as session:
        await mark_left(
            session,
            pg.settings,
            org.employee.userid,
            "left",
            release_holds=release_holds_of,
            roll_changed=roll_changed,
            actor="wecom",
        )
        await session.commit()
    answer = await client.get("/")
    assert answer.status_code == 303


async def test_idle_and_absolute_session_lifetimes(
    org: Org, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.security

    clock = [1_800_000_000.0]
    monkeypatch.setattr(web.security.time, "time", lambda: clock[0])
    await login(client, org.employee.userid)
    # 479 minutes later: still in (the default idle limit is 480 minutes).
    clock[0] += 479 * 60
    assert (await client.get("/")).status_code == 200
    # Used every 7 hours it stays alive, until a week after logging in.
    for _ in range(22):
        clock[0] += 7 * 3600
        assert (await client.get("/")).status_code == 200
    clock[0] += 7 * 3600  # 169 hours since login: past the 168-hour limit
    assert (await client.get("/")).status_code == 303
    await login(client, org.employee.userid)
    clock[0] += 481 * 60  # idle too long
    assert (await client.get("/")).status_code == 303
