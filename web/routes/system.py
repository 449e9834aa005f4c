"""Health, metrics and the OpenAPI document: no login needed."""

from __future__ import annotations

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


routes = [
    Route("/healthz", healthz),
    Route("/metrics", metrics_endpoint),
    Route("/openapi.json", openapi),
]
