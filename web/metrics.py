"""Prometheus metrics, one registry per application (tests build several apps)."""

from __future__ import annotations

import hmac
import ipaddress
import time
from collections.abc import Sequence
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from points.db import utcnow
from points.errors import Forbidden
from points.i18n import _
from points.settings import Settings
from points.wecom.connectors import ConnectorHealth, connector_health


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

        self.connector_lag = Gauge(
            "points_wecom_connector_lag_seconds",
            "How far behind now each WeCom pull connector's stored data stops",
            ["connector"],
            registry=self.registry,
        )
        self.connector_skipped = Gauge(
            "points_wecom_connector_skipped_records",
            "Records each WeCom pull connector quarantined (distinct records)",
            ["connector"],
            registry=self.registry,
        )
        self.connector_backoff = Gauge(
            "points_wecom_connector_backoff_seconds",
            "Seconds until a throttled WeCom pull connector resumes (0: not backing off)",
            ["connector"],
            registry=self.registry,
        )
        self.connector_last_success = Gauge(
            "points_wecom_connector_last_success_timestamp_seconds",
            "When each WeCom pull connector last got through (Unix time)",
            ["connector"],
            registry=self.registry,
        )

    def observe_connectors(self, health: Sequence[ConnectorHealth], now: datetime) -> None:
        """Set the connector gauges from their health, read at scrape time."""
        for item in health:
            if item.lag is not None:
                self.connector_lag.labels(item.name).set(item.lag.total_seconds())
            self.connector_skipped.labels(item.name).set(item.skipped)
            waiting = (item.backoff_until - now).total_seconds() if item.backoff_until else 0.0
            self.connector_backoff.labels(item.name).set(max(0.0, waiting))
            if item.last_success_at is not None:
                self.connector_last_success.labels(item.name).set(item.last_success_at.timestamp())

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


def may_read_metrics(request: Request, settings: Settings) -> bool:
    """Prometheus with ``POINTS_METRICS_TOKEN`` as bearer, or from ``POINTS_METRICS_ALLOW``."""
    if settings.METRICS_TOKEN:
        sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if sent and hmac.compare_digest(sent.encode(), settings.METRICS_TOKEN.encode()):
            return True
    client = request.client.host if request.client else ""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for entry in settings.METRICS_ALLOW.split(","):
        entry = entry.strip()
        if entry:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


async def metrics_endpoint(request: Request) -> Response:
    if not may_read_metrics(request, request.app.state.settings):
        raise Forbidden(_("Metrics are only for the monitoring system."), code="forbidden")
    metrics: Metrics = request.app.state.metrics
    if request.app.state.settings.WECOM_ENABLED:
        now = utcnow()
        async with request.app.state.db.session() as session:
            metrics.observe_connectors(await connector_health(session, now), now)
    return metrics.render()
