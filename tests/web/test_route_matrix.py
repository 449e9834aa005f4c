"""Every route x every role: who may reach it. A route nobody classified fails the test.

The matrix states the intent (the least role that may use a route); the test checks
the application against it: below that role a request is refused (anonymous pages go
to the login page, anonymous API calls get 401, others 403), from it on a GET is
answered (never refused, never a 5xx) and a POST is at least not refused for its role.
"""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Route

from points.org.models import Role
from tests.support.factories import csrf_from, login, make_token
from tests.support.org import Org
from tests.support.services import Store

PUBLIC = "public"
ROLES = ("anonymous", "employee", "head", "hr", "admin")
LEVEL = {"public": 0, "employee": 1, "head": 2, "hr": 3, "admin": 4}

# (method, path) -> the least role that may use it.
MATRIX: dict[tuple[str, str], str] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/more"): "employee",
    ("POST", "/rewards/{id:int}/goal"): "employee",
    ("GET", "/rules/levels"): "hr",
    ("POST", "/rules/levels"): "hr",
    ("GET", "/rules/calendar"): "hr",
    ("POST", "/rules/calendar"): "hr",
    ("GET", "/favicon.ico"): PUBLIC,
    ("GET", "/admin/people"): "admin",  # the person picker (roles and tokens pages)
    ("GET", "/metrics"): PUBLIC,  # by address or token, not by role (its own test)
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,
    ("GET", "/lang"): PUBLIC,
    ("GET", "/wecom/callback"): PUBLIC,  # signed by WeCom (its own tests)
    ("POST", "/wecom/callback"): PUBLIC,
    ("GET", "/login/wecom"): PUBLIC,
    ("GET", "/login/wecom/callback"): PUBLIC,
    ("GET", "/"): "employee",
    ("GET", "/history"): "employee",
    ("GET", "/boards"): "employee",
    ("POST", "/boards/opt-out"): "employee",
    ("GET", "/rewards"): "employee",
    ("GET", "/rewards/mine"): "employee",
    ("GET", "/rewards/mine/{id:int}"): "employee",
    ("POST", "/rewards/mine/{id:int}/cancel"): "employee",
    ("GET", "/rewards/{id:int}"): "employee",
    ("GET", "/rewards/{id:int}/picture"): "employee",
    ("GET", "/rewards/{id:int}/redeem"): "employee",
    ("POST", "/rewards/{id:int}/redeem"): "employee",
    ("GET", "/department"): "head",
    ("GET", "/dashboard"): "head",
    ("GET", "/dashboard/pilots"): "head",
    ("GET", "/onboarding"): "head",
    ("POST", "/onboarding/{userid}/nudge"): "head",
    ("GET", "/dashboard/pilots/{pilot_id:int}"): "head",
    ("GET", "/dashboard/pilots/{pilot_id:int}/export.csv"): "head",
    ("POST", "/pulse"): "employee",  # members of a running pilot (its own tests)
    ("GET", "/approvals"): "head",
    ("POST", "/approvals/{id:int}/{action:str}"): "head",
    ("GET", "/people"): "hr",
    ("GET", "/people/{userid}"): "head",  # heads see the people of their departments
    ("POST", "/people/{userid}"): "hr",
    ("GET", "/adjustments"): "hr",
    ("POST", "/adjustments/{id:int}/{action:str}"): "hr",
    ("GET", "/boards/export.csv"): "hr",
    ("GET", "/dashboard/export.csv"): "hr",
    ("POST", "/dashboard/pilots/new"): "hr",
    ("GET", "/fulfilment"): "hr",
    ("POST", "/fulfilment/fulfil"): "hr",
    ("GET", "/fulfilment/approvals"): "head",  # the approvals page, inside Fulfilment
    ("GET", "/fulfilment/catalogue"): "hr",
    ("GET", "/fulfilment/catalogue/new"): "hr",
    ("POST", "/fulfilment/catalogue/new"): "hr",
    ("GET", "/fulfilment/catalogue/{id:int}"): "hr",
    ("POST", "/fulfilment/catalogue/{id:int}"): "hr",
    ("POST", "/fulfilment/catalogue/{id:int}/codes"): "hr",
    ("POST", "/fulfilment/catalogue/{id:int}/picture"): "hr",
    ("GET", "/fulfilment/spend"): "hr",
    ("GET", "/fulfilment/spend.csv"): "hr",
    ("GET", "/rules"): "hr",
    ("GET", "/rules/edit"): "hr",
    ("POST", "/rules/validate"): "hr",
    ("POST", "/rules/drafts"): "hr",
    ("GET", "/rules/versions"): "hr",
    ("GET", "/rules/versions/{id:int}"): "hr",
    ("GET", "/rules/versions/{id:int}/activate"): "hr",
    ("POST", "/rules/versions/{id:int}/activate"): "hr",
    ("GET", "/rules/diff"): "hr",
    ("GET", "/rules/try"): "hr",
    ("POST", "/rules/try"): "hr",
    ("GET", "/rules/simulate"): "hr",
    ("GET", "/rules/sources"): "hr",
    ("GET", "/rules/approval-deadlines"): "hr",
    ("POST", "/rules/approval-deadlines"): "hr",
    ("GET", "/admin"): "admin",
    ("GET", "/admin/events"): "admin",
    ("POST", "/admin/events"): "admin",
    ("GET", "/admin/tokens"): "admin",
    ("POST", "/admin/tokens"): "admin",
    ("GET", "/admin/audit"): "admin",
    ("GET", "/admin/roles"): "admin",
    ("POST", "/admin/roles"): "admin",
    ("GET", "/admin/wecom"): "admin",
    ("POST", "/admin/wecom"): "admin",
    ("GET", "/privacy"): PUBLIC,  # the privacy notice, readable before logging in
    ("GET", "/privacy/my-data.csv"): "employee",
    ("GET", "/appeals"): "employee",
    ("GET", "/appeals/new"): "employee",
    ("POST", "/appeals/new"): "employee",
    ("GET", "/appeals/{id:int}"): "employee",
    ("POST", "/appeals/{id:int}/{action:str}"): "hr",
    ("GET", "/integrity"): "hr",
    ("GET", "/integrity/{id:int}"): "hr",
    ("POST", "/integrity/{id:int}/review"): "hr",
    ("GET", "/admin/privacy"): "admin",
    ("POST", "/admin/privacy"): "admin",
    ("GET", "/admin/jobs"): "admin",
    ("POST", "/admin/jobs"): "admin",
    # The REST API (bearer tokens).
    ("GET", "/api/v1/appeals"): "employee",
    ("POST", "/api/v1/appeals"): "employee",
    ("GET", "/api/v1/appeals/{id:int}"): "employee",
    ("POST", "/api/v1/appeals/{id:int}/resolve"): "hr",
    ("POST", "/api/v1/appeals/{id:int}/reject"): "hr",
    ("GET", "/api/v1/me/export"): "employee",
    ("GET", "/api/v1/reports/spend"): "hr",
    ("GET", "/api/v1/integrity/flags"): "hr",
    ("GET", "/api/v1/rewards"): "employee",
    ("POST", "/api/v1/rewards"): "hr",
    ("POST", "/api/v1/redemptions"): "employee",
    ("GET", "/api/v1/redemptions/{id:int}"): "employee",
    ("POST", "/api/v1/redemptions/{id:int}/{action:str}"): "employee",
    ("GET", "/api/v1/employees/{userid}"): "employee",
    ("GET", "/api/v1/employees/{userid}/entries"): "employee",
    ("GET", "/api/v1/leaderboards/{period}"): "employee",
    ("GET", "/api/v1/employees"): "head",
    ("GET", "/api/v1/dashboard"): "head",
    ("POST", "/api/v1/events"): "hr",
    ("POST", "/api/v1/employees/{userid}/adjustments"): "hr",
    ("POST", "/api/v1/adjustments/{id:int}/{action:str}"): "hr",
    # Review before award: heads decide `by: head` awards of their departments, HR all.
    ("GET", "/reviews"): "head",
    ("POST", "/reviews/{id:int}/{action:str}"): "head",
    ("GET", "/api/v1/reviews"): "head",
    ("POST", "/api/v1/reviews/{id:int}/{action:str}"): "head",
}

FILL = {
    "{id:int}": "1",
    "{pilot_id:int}": "1",
    "{period}": "week",
}
# The action a role-level check is made with: the redemption API's least action is the
# requester's own cancel; approving (head) and fulfilling (HR) are checked elsewhere.
ACTION = {
    "/api/v1/redemptions/{id:int}/{action:str}": "cancel",
}


def served(app: Starlette) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }


async def test_every_route_is_classified(app: Starlette) -> None:
    unclassified = sorted(served(app) - set(MATRIX))
    assert unclassified == [], "add these routes to MATRIX with the least role that may use them"
    assert sorted(set(MATRIX) - served(app)) == [], "MATRIX names routes that do not exist"


def concrete(path: str, userid: str) -> str:
    path = path.replace("{action:str}", ACTION.get(path, "approve"))
    for placeholder, value in FILL.items():
        path = path.replace(placeholder, value)
    return path.replace("{userid}", userid)


def refused(response: httpx.Response, api: bool) -> bool:
    if api:
        return response.status_code in (401, 403)
    if response.status_code == 303:
        return response.headers["location"].startswith("/login")
    return response.status_code == 403


@pytest.mark.parametrize("role", ROLES)
async def test_the_matrix_holds_for(
    role: str, pg: Store, org: Org, app: Starlette, client: httpx.AsyncClient
) -> None:
    person = {
        "employee": org.employee,
        "head": org.head,
        "hr": org.hr,
        "admin": org.admin,
    }.get(role)
    headers: dict[str, str] = {}
    if person is not None:
        async with pg.db.session() as session:
            token = await make_token(session, Role(role), person.userid)
            await session.commit()
        await login(client, person.userid)
        csrf = csrf_from((await client.get("/boards")).text)
    else:
        csrf = csrf_from((await client.get("/login")).text)
    level = LEVEL[role] if role != "anonymous" else 0
    problems = []
    for (method, template), least in sorted(MATRIX.items()):
        if least == PUBLIC or template in ("/logout",):
            continue
        api = template.startswith("/api/")
        path = concrete(template, org.employee.userid)
        if api:
            headers = {"Authorization": f"Bearer {token}"} if person else {}
            response = await client.request(method, path, headers=headers, json={})
        elif method == "GET":
            response = await client.get(path)
        else:
            response = await client.post(path, headers={"X-CSRF-Token": csrf}, data={})
        allowed = level >= LEVEL[least]
        if response.status_code >= 500:
            problems.append(f"{method} {path} as {role}: {response.status_code}")
        elif not allowed and not refused(response, api):
            problems.append(f"{method} {path} as {role}: {response.status_code}, expected refusal")
        elif allowed and method == "GET" and refused(response, api):
            problems.append(f"{method} {path} as {role}: refused ({response.status_code})")
        elif allowed and response.status_code == 403 and '"forbidden"' in response.text:
            # A POST may still be refused for what it asks (approving nothing, one's own
            # redemption), but never with the role's "forbidden".
            problems.append(f"{method} {path} as {role}: refused for the role")
    assert problems == []
