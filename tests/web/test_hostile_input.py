"""Hostile input: every refusal a 4xx in the error shape and the caller's language."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from starlette.applications import Starlette

from points.audit.models import AuditEntry
from points.cli import main
from points.org.models import Role
from tests.support.factories import csrf_from, login, make_token
from tests.support.org import Org
from tests.support.services import Store, make_settings
from web.app import create_app
from web.redirects import safe_next

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(response: httpx.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code


@pytest.fixture
async def hr_token(pg: Store, org: Org) -> str:
    async with pg.db.session() as session:
        token = await make_token(session, Role.hr, org.hr.userid)
        await session.commit()
    return token


async def test_integers_beyond_the_column_range_are_4xx(
    client: httpx.AsyncClient, hr_token: str
) -> None:
    huge = await client.get("/api/v1/redemptions/99999999999999", headers=bearer(hr_token))
    assert huge.status_code == 404
    for query in ("department=99999999999", "offset=99999999999", "limit=-99999999999"):
        answer = await client.get(f"/api/v1/employees?{query}", headers=bearer(hr_token))
        assert_error_shape(answer, 422, "invalid")


async def test_nul_and_control_characters_are_refused(
    client: httpx.AsyncClient, org: Org, hr_token: str
) -> None:
    answer = await client.get("/api/v1/employees/%00/entries", headers=bearer(hr_token))
    assert_error_shape(answer, 400, "control_character")
    body = {"name": "咖啡\u0000券", "price": 30}
    answer = await client.post("/api/v1/rewards", json=body, headers=bearer(hr_token))
    assert_error_shape(answer, 400, "control_character")
    # In Chinese by default, in English when asked.
    assert "控制字符" in answer.json()["error"]["message"]
    english = await client.post(
        "/api/v1/rewards",
        json=body,
        headers={**bearer(hr_token), "Accept-Language": "en"},
    )
    assert "control characters" in english.json()["error"]["message"]
    await login(client, org.hr.userid)
    page = await client.get("/people?q=%00")
    assert page.status_code == 400 and "text/html" in page.headers["content-type"]
    form = await client.get("/login")
    refused = await client.post(
        "/login", data={"userid": "zhang\x00san", "csrf_token": csrf_from(form.text)}
    )
    assert refused.status_code == 400


async def test_dates_outside_a_sane_window_are_refused_or_ignored(
    client: httpx.AsyncClient, org: Org, hr_token: str
) -> None:
    answer = await client.get("/api/v1/dashboard?key=9999-12", headers=bearer(hr_token))
    # Not a month the dashboard knows: it shows the current month instead (its design for
    # a key left over from another period), never a 5xx.
    assert answer.status_code == 200 and answer.json()["key"] != "9999-12"
    board = await client.get("/api/v1/leaderboards/month?key=9999-12", headers=bearer(hr_token))
    assert board.status_code == 200 and board.json()["key"] != "9999-12"
    await login(client, org.employee.userid)
    assert (await client.get("/history?until=9999-12-31")).status_code == 422
    assert (await client.get("/history?since=1900-01-01")).status_code == 422


async def test_json_nested_too_deep_is_refused_not_a_recursion_error(
    client: httpx.AsyncClient, hr_token: str
) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    answer = await client.post(
        "/api/v1/events",
        content=deep,
        headers={**bearer(hr_token), "Content-Type": "application/json"},
    )
    assert_error_shape(answer, 400, "too_deep")
    nested: object = {"x": 1}
    for _ in range(40):
        nested = {"x": nested}
    answer = await client.post("/api/v1/rewards", json=nested, headers=bearer(hr_token))
    assert_error_shape(answer, 400, "too_deep")


@pytest.fixture
async def small_app(pg: Store) -> AsyncIterator[Starlette]:
    application = create_app(make_settings(pg.settings.DATABASE_URL, MAX_BODY_BYTES=4096))
    async with application.router.lifespan_context(application):
        yield application


async def test_bodies_over_the_limit_are_413_declared_or_streamed(
    org: Org, hr_token: str, small_app: Starlette
) -> None:
    transport = httpx.ASGITransport(app=small_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        big = json.dumps([{"external_id": "x" * 100}] * 100).encode()
        assert len(big) > 4096
        declared = await client.post(
            "/api/v1/events",
            content=big,
            headers={**bearer(hr_token), "Content-Type": "application/json"},
        )
        assert_error_shape(declared, 413, "too_large")

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]

        streamed = await client.post(
            "/api/v1/redemptions",
            content=chunks(),
            headers={**bearer(hr_token), "Content-Type": "application/json"},
        )
        assert_error_shape(streamed, 413, "too_large")


async def test_the_default_body_limit_is_one_megabyte(
    client: httpx.AsyncClient, hr_token: str
) -> None:
    body = b'{"name": "' + b"x" * (1024 * 1024) + b'", "price": 1}'
    answer = await client.post(
        "/api/v1/rewards",
        content=body,
        headers={**bearer(hr_token), "Content-Type": "application/json"},
    )
    assert_error_shape(answer, 413)


def test_the_redirect_guard_keeps_people_on_this_site() -> None:
    for hostile in (
        "//evil.example.com/x",
        "/\\evil.example.com",
        "https://evil.example.com/",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: x=1",
        "",
        None,
    ):
        assert safe_next(hostile) == "/", hostile
    assert safe_next("/rewards/mine?x=1") == "/rewards/mine?x=1"
    assert safe_next("//evil", default="/approvals") == "/approvals"


async def test_the_approval_forms_back_field_cannot_leave_the_site(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    from tests.support.rewards import give, make_reward

    async with pg.db.session() as session:
        reward = await make_reward(session, price=10, approver="head")
        assert org.employee.id is not None
        await give(session, pg.settings, org.employee.id, 50)
        await session.commit()
    token_client = client
    async with pg.db.session() as session:
        employee_token = await make_token(session, Role.employee, org.employee.userid)
        await session.commit()
    asked = await token_client.post(
        "/api/v1/redemptions", json={"reward_id": reward.id}, headers=bearer(employee_token)
    )
    assert asked.status_code == 201, asked.text
    await login(client, org.head.userid)
    page = await client.get("/approvals")
    answer = await client.post(
        f"/approvals/{asked.json()['id']}/approve",
        data={"csrf_token": csrf_from(page.text), "back": "//evil.example.com/x"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/approvals?")


async def test_security_headers_and_no_inline_script(client: httpx.AsyncClient) -> None:
    answer = await client.get("/login")
    csp = answer.headers["content-security-policy"]
    assert (
        "script-src 'self'" in csp
        and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    )
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["referrer-policy"] == "same-origin"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in answer.headers  # dev: plain http
    # The policy holds only if no template carries inline script or an event handler.
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=", re.IGNORECASE)
    offenders = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if inline.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


async def test_hsts_in_production(pg: Store) -> None:
    settings = make_settings(
        pg.settings.DATABASE_URL, ENV="prod", DEV_LOGIN=False, SECRET_KEY="k" * 40
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
            answer = await c.get("/healthz")
    assert answer.headers["strict-transport-security"].startswith("max-age=")


async def test_failed_logins_are_limited_and_audited_in_aggregate(
    client: httpx.AsyncClient, org: Org, pg: Store
) -> None:
    form = await client.get("/login")
    token = csrf_from(form.text)
    codes = []
    for _ in range(12):
        answer = await client.post("/login", data={"userid": "nobody", "csrf_token": token})
        codes.append(answer.status_code)
    assert codes[:10] == [422] * 10 and codes[10:] == [429, 429]
    limited = await client.post("/login", data={"userid": "zhangsan", "csrf_token": token})
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
    async with pg.db.session() as session:
        from sqlmodel import select

        rows = (
            await session.exec(select(AuditEntry).where(AuditEntry.action == "refused.login"))
        ).all()
    # Two rows for twelve failures: the first of the window, and the one at the limit.
    assert [row.details["count"] for row in rows] == [1, 10]


async def _guess_tokens(settings_url: str, **overrides: object) -> tuple[list[int], httpx.Response]:
    application = create_app(make_settings(settings_url, TOKEN_FAILURE_LIMIT=3, **overrides))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            codes = [
                (await c.get("/api/v1/rewards", headers=bearer(f"wcp_guess{i:020d}"))).status_code
                for i in range(5)
            ]
            last = await c.get("/api/v1/rewards", headers=bearer("wcp_" + "x" * 30))
    return codes, last


async def test_bad_tokens_are_limited_per_client_in_process(pg: Store, org: Org) -> None:
    codes, last = await _guess_tokens(pg.settings.DATABASE_URL)
    assert codes == [401, 401, 401, 429, 429]
    assert_error_shape(last, 429, "rate_limited")
    assert int(last.headers["retry-after"]) > 0


async def test_bad_tokens_are_limited_per_client_in_redis(
    pg: Store, org: Org, redis_url: str
) -> None:
    codes, _last = await _guess_tokens(pg.settings.DATABASE_URL, REDIS_URL=redis_url)
    assert codes == [401, 401, 401, 429, 429]
    # The count lives in Redis: a second web process sees it at once.
    codes, _last = await _guess_tokens(pg.settings.DATABASE_URL, REDIS_URL=redis_url)
    assert codes == [429] * 5


async def test_metrics_only_for_the_monitoring_system(pg: Store) -> None:
    for overrides, headers, status in (
        ({}, {}, 200),  # the test client is 127.0.0.1, in the default allow-list
        ({"METRICS_ALLOW": "10.0.0.0/8"}, {}, 403),
        ({"METRICS_ALLOW": "", "METRICS_TOKEN": "s3cret-metrics"}, bearer("nope"), 403),
        ({"METRICS_ALLOW": "", "METRICS_TOKEN": "s3cret-metrics"}, bearer("s3cret-metrics"), 200),
    ):
        application = create_app(make_settings(pg.settings.DATABASE_URL, **overrides))
        async with application.router.lifespan_context(application):
            transport = httpx.ASGITransport(app=application)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                answer = await c.get("/metrics", headers=headers)
        assert answer.status_code == status, (overrides, answer.text)


async def test_reward_pictures_only_for_those_who_may_see_the_reward(
    pg: Store, org: Org, client: httpx.AsyncClient
) -> None:
    from tests.support.rewards import make_reward

    png = b"\x89PNG\r\n\x1a\n" + b"0" * 32
    async with pg.db.session() as session:
        finance_only = await make_reward(session, audience=[org.finance.id])
        retired = await make_reward(session, name="旧奖品", active=False)
        for reward in (finance_only, retired):
            reward.picture, reward.picture_type = png, "image/png"
            session.add(reward)
        await session.commit()
    anonymous = await client.get(f"/rewards/{finance_only.id}/picture")
    assert anonymous.status_code == 303
    await login(client, org.employee.userid)  # 华东区: not in the audience
    for reward in (finance_only, retired):
        assert (await client.get(f"/rewards/{reward.id}/picture")).status_code == 404
    await login(client, org.outsider.userid)  # 财务部: in the audience
    assert (await client.get(f"/rewards/{finance_only.id}/picture")).content == png
    await login(client, org.hr.userid)
    assert (await client.get(f"/rewards/{retired.id}/picture")).status_code == 200


def test_demo_refuses_to_run_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    from points.settings import get_settings

    monkeypatch.setenv("POINTS_ENV", "prod")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["demo", "--no-serve", "--employees", "10"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code != 0
    assert "POINTS_ENV=prod" in result.output


async def test_a_role_grant_for_an_unknown_department_is_404(
    client: httpx.AsyncClient, org: Org
) -> None:
    await login(client, org.admin.userid)
    page = await client.get("/admin/roles")
    answer = await client.post(
        "/admin/roles",
        data={
            "csrf_token": csrf_from(page.text),
            "action": "grant",
            "userid": org.employee.userid,
            "role": "head",
            "department_id": "424242",
        },
    )
    assert answer.status_code == 404


async def test_the_pilots_page_renders_in_english(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.hr.userid)
    client.cookies.set("points_lang", "en")
    answer = await client.get("/dashboard/pilots")
    assert answer.status_code == 200, answer.text[:500]
