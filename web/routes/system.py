"""Health, metrics and the OpenAPI document: no login needed."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from web.metrics import metrics_endpoint
from web.openapi import openapi_document


async def healthz(request: Request) -> Response:
    """Alive and able to reach the database."""
    async with request.app.state.db.session() as session:
        await session.exec(text("SELECT 1"))
    return JSONResponse({"status": "ok"})


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


async def favicon(request: Request) -> Response:
    """Browsers ask for /favicon.ico whatever the page says; answer with the SVG icon."""
    return RedirectResponse("/static/favicon.svg", status_code=301)


routes = [
    Route("/favicon.ico", favicon),
    Route("/healthz", healthz),
    Route("/metrics", metrics_endpoint),
    Route("/openapi.json", openapi),
]
