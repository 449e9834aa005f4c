"""The OpenAPI document lists every /api/v1 route, with schemas and status codes."""

from __future__ import annotations

import httpx
import schemathesis
from starlette.applications import Starlette
from starlette.routing import Route

from web.openapi import openapi_document

# Routes that take the action as a path segment, and the actions they know.
ACTIONS = {
    "/api/v1/redemptions/{id}": ("approve", "decline", "fulfil", "cancel"),
    "/api/v1/adjustments/{id}": ("approve", "reject"),
    "/api/v1/reviews/{id}": ("accept", "reject"),
}


def api_routes(app: Starlette) -> set[tuple[str, str]]:
    """Every (path, method) the application serves under /api/v1."""
    found = set()
    for route in app.routes:
        if not (isinstance(route, Route) and route.path.startswith("/api/v1")):
            continue
        path = route.path.replace("{id:int}", "{id}")
        methods = {m.lower() for m in route.methods or () if m != "HEAD"}
        if path.endswith("/{action:str}"):
            base = path.removesuffix("/{action:str}")
            found |= {(f"{base}/{action}", m) for action in ACTIONS[base] for m in methods}
        else:
            found |= {(path, m) for m in methods}
    return found


async def test_every_api_route_is_in_the_document(app: Starlette) -> None:
    document = openapi_document()
    documented = {(path, method) for path, ops in document["paths"].items() for method in ops}
    routes = api_routes(app)
    assert routes - documented == set(), "document these routes in web/openapi.py"
    assert documented - routes == set(), "the document names routes that do not exist"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            answers = {int(code) for code in operation["responses"]}
            assert {400, 401, 403, 404, 413, 422, 429} <= answers, (path, method)
            assert any(200 <= code < 300 for code in answers), (path, method)
            if method == "post" and "requestBody" in operation:
                schema = operation["requestBody"]["content"]["application/json"]["schema"]
                assert schema, (path, method)


async def test_the_document_is_served_and_valid(client: httpx.AsyncClient) -> None:
    served = (await client.get("/openapi.json")).json()
    assert served == openapi_document()
    schema = schemathesis.openapi.from_dict(served)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == sum(len(ops) for ops in served["paths"].values())
