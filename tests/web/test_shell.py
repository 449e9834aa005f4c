from __future__ import annotations

import httpx

from tests.support.factories import login
from tests.support.org import Org


async def test_healthz_metrics_and_openapi(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    await client.get("/nowhere")
    metrics = await client.get("/metrics")
    assert metrics.status_code == 200
    assert 'points_http_requests_total{method="GET",route="/healthz",status="200"} 1.0' in (
        metrics.text
    )
    assert 'route="unmatched",status="404"' in metrics.text
    spec = (await client.get("/openapi.json")).json()
    assert spec["openapi"].startswith("3.") and "/api/v1/employees" in spec["paths"]


async def test_chinese_by_default_english_on_request(client: httpx.AsyncClient, org: Org) -> None:
    await login(client, org.employee.userid)
    assert "我的积分" in (await client.get("/")).text
    switched = await client.get("/lang", params={"to": "en", "next": "/"})
    assert switched.status_code == 303
    english = await client.get("/")
    assert "My points" in english.text and "我的积分" not in english.text
    assert '<html lang="en">' in english.text


async def test_friendly_error_pages(client: httpx.AsyncClient) -> None:
    page = await client.get("/no/such/page")
    assert page.status_code == 404
    assert "页面不存在" in page.text and "<html" in page.text
    api = await client.get("/api/v1/nothing")
    assert api.status_code == 404
    assert api.json() == {"error": {"code": "not_found", "message": "页面不存在"}}


async def test_static_htmx_is_vendored(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/htmx-2.0.11.min.js")
    assert response.status_code == 200 and "htmx" in response.text[:2000]
