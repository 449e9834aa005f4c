"""Prometheus metrics, one registry per application (tests build several apps)."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "points_http_requests_total",
            "HTTP requests by route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "points_http_request_seconds",
            "HTTP request latency by route template",
            ["route"],
            registry=self.registry,
        )
        self.callbacks_rejected = Counter(
            "points_wecom_callbacks_rejected_total",
            "WeCom callbacks refused, by reason",
            ["reason"],
            registry=self.registry,
        )

    def render(self) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Counts requests by route *template*, so ids in paths do not explode labels."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = _route_template(scope)
            metrics: Metrics = scope["app"].state.metrics
            metrics.requests.labels(scope["method"], route, str(status)).inc()
            metrics.latency.labels(route).observe(time.perf_counter() - started)


def _route_template(scope: Scope) -> str:
    # The router (or a shortcut in front of it) names the route it ran: check that one
    # before walking every route of the app.
    chosen = scope.get("route")
    if chosen is not None and chosen.matches(scope)[0] == Match.FULL:
        return str(getattr(chosen, "path", "other"))
    for route in scope["app"].routes:
        match, _child = route.matches(scope)
        if match == Match.FULL:
            return str(getattr(route, "path", "other"))
    return "unmatched"


async def metrics_endpoint(request: Request) -> Response:
    metrics: Metrics = request.app.state.metrics
    return metrics.render()
