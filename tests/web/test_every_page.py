"""Every page renders, in Chinese and in English, for the roles that may open it."""

from __future__ import annotations

from datetime import date

import httpx
from starlette.applications import Starlette
from starlette.routing import Route

from points.dashboards.pilots import create_pilot
from points.integrity.models import IntegrityFlag, Pattern
from points.org.models import Role
from points.rulesets.service import ensure_active
from tests.support.factories import login, make_token
from tests.support.org import Org
from tests.support.rewards import give, make_reward
from tests.support.services import Store

# Not pages: machine answers, downloads and the login flows tested on their own.
NOT_PAGES = {
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/lang",
    "/wecom/callback",
    "/login/wecom",
    "/login/wecom/callback",
    "/boards/export.csv",
    "/dashboard/export.csv",
    "/dashboard/pilots/{pilot_id:int}/export.csv",
    "/fulfilment/spend.csv",
    "/privacy/my-data.csv",
    "/favicon.ico",
    "/admin/people",  # the person picker's htmx fragment, not a page
}


def page_paths(app: Starlette) -> list[str]:
    return sorted(
        route.path
        for route in app.routes
        if isinstance(route, Route)
        and "GET" in (route.methods or ())
        and not route.path.startswith("/api/")
        and route.path not in NOT_PAGES
    )


async def test_every_page_renders_in_both_languages(
    pg: Store, org: Org, app: Starlette, client: httpx.AsyncClient
) -> None:
    async with pg.db.session() as session:
        version = await ensure_active(session)
        reward = await make_reward(session, name="咖啡券", price=10)
        assert org.employee.id is not None
        await give(session, pg.settings, org.employee.id, 100)
        pilot = await create_pilot(
            session,
            actor="zhaoliu",
            name="销售部试点",
            department_ids=[org.sales.id],
            start_on=date.today(),
        )
        token = await make_token(session, Role.employee, org.employee.userid)
        flag = IntegrityFlag(
            employee_id=org.employee.id,
            pattern=Pattern.burst,
            subject="app.entered",
            evidence={
                "type": "app.entered",
                "peak": 60,
                "median": 2,
                "mad": 0,
                "threshold": 30,
                "days": [{"day": date.today().isoformat(), "count": 60}],
            },
            severity=60,
            since=date.today(),
            last_seen=date.today(),
        )
        session.add(flag)
        await session.commit()
    asked = await client.post(
        "/api/v1/redemptions",
        json={"reward_id": reward.id},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert asked.status_code == 201
    appeal = await client.post(
        "/api/v1/appeals",
        json={"message": "昨天的审批没有加分", "entry_id": None, "occurred_on": None},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert appeal.status_code == 201, appeal.text
    ids = {
        "/appeals/{id:int}": appeal.json()["id"],
        "/rewards/mine/{id:int}": asked.json()["id"],
        "/rewards/{id:int}": reward.id,
        "/rewards/{id:int}/redeem": reward.id,
        "/fulfilment/catalogue/{id:int}": reward.id,
        "/rules/versions/{id:int}": version.id,
        "/rules/versions/{id:int}/activate": version.id,
        "/dashboard/pilots/{pilot_id:int}": pilot.id,
        "/integrity/{id:int}": flag.id,
    }
    problems = []
    rendered = 0
    # The admin may open every page; the employee's own pages are theirs alone.
    for userid in (org.admin.userid, org.employee.userid):
        await login(client, userid)
        for template in page_paths(app):
            path = template.replace("{userid}", org.employee.userid)
            for placeholder in ("{id:int}", "{pilot_id:int}"):
                path = path.replace(placeholder, str(ids.get(template, 1)))
            if template == "/rewards/{id:int}/picture":
                continue  # an image (its own test)
            for locale, marker in (("zh_CN", 'lang="zh-CN"'), ("en", 'lang="en"')):
                client.cookies.set("points_lang", locale)
                response = await client.get(path)
                if response.status_code == 403 and userid != org.admin.userid:
                    continue  # not this role's page
                if response.status_code != 200 or marker not in response.text:
                    problems.append(f"{userid} {locale} {path}: {response.status_code}")
                else:
                    rendered += 1
        client.cookies.delete("points_lang")
    assert problems == [], "\n".join(problems)
    assert rendered > 2 * len(page_paths(app))
