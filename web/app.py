"""The Starlette application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from points.db import Database
from points.errors import DomainError
from points.i18n import DEFAULT_LOCALE, negotiate, normalize_locale, use_locale
from points.jobs import make_queue
from points.ops import scheduler
from points.settings import Settings, get_settings
from points.wecom.config import intake_database
from points.wiring import load_jobs
from web.errors import domain_error, http_error, server_error
from web.guards import RequestGuard, SecurityHeaders
from web.metrics import Metrics, MetricsMiddleware
from web.ratelimit import FailureLimiter
from web.routes import routes
from web.routes.wecom import callback_route
from web.templating import make_templates

STATIC_DIR = Path(__file__).parent / "static"
LOCALE_COOKIE = "points_lang"


class LocaleMiddleware:
    """Sets the request's locale: the language cookie, then Accept-Language, then zh_CN."""

    def __init__(self, app: ASGIApp, default: str = DEFAULT_LOCALE) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        locale = (
            normalize_locale(connection.cookies.get(LOCALE_COOKIE))
            or negotiate(connection.headers.get("accept-language"))
            or self.default
        )
        with use_locale(locale):
            await self.app(scope, receive, send)


class WeComCallbackLane:
    """Sends WeCom's callback deliveries straight to their endpoint.

    WeCom's servers carry no cookies and read no language, so the session and locale
    middleware (and the router's walk over every route) are pure cost for them, paid
    on every delivery of a burst. Everything else goes down ``app``.
    """

    def __init__(self, app: ASGIApp, route: Route) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == self.route.path
            and scope["method"] in ("GET", "POST")
            and not scope.get("root_path")
        ):
            scope["route"] = self.route  # as the router would, for the metrics
            await self.route.app(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(settings: Settings | None = None, *, run_schedule: bool = False) -> Starlette:
    """Build the application. The database and queue are made in the lifespan.

    ``run_schedule``: without Redis, run the periodic jobs in this process too
    (``points serve`` asks for it; tests and embedding callers do not).
    """
    settings = settings or get_settings()
    settings.check_safe_for_production()
    load_jobs()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = Database(settings)
        app.state.db = db
        intake_db = intake_database(settings)
        app.state.intake_db = intake_db or db
        app.state.queue = make_queue(settings, db, background=True)
        app.state.limiter = FailureLimiter(settings, db)
        stop = asyncio.Event()
        schedule = None
        if run_schedule and settings.SCHEDULER and not settings.REDIS_URL:
            schedule = asyncio.create_task(
                scheduler.run_forever(settings, db, app.state.queue, stop)
            )
        try:
            yield
        finally:
            stop.set()
            if schedule is not None:
                await schedule
            await app.state.limiter.close()
            await app.state.queue.close()
            if intake_db is not None:
                await intake_db.dispose()
            await db.dispose()

    app = Starlette(
        debug=False,
        routes=[*routes, Mount("/static", StaticFiles(directory=STATIC_DIR), name="static")],
        middleware=[
            Middleware(MetricsMiddleware),
            Middleware(SecurityHeaders, hsts=settings.ENV == "prod"),
            Middleware(WeComCallbackLane, route=callback_route),
            Middleware(
                SessionMiddleware,
                secret_key=settings.SECRET_KEY,
                session_cookie="points_session",
                # The cookie may outlive its session: the session's own lifetimes
                # (idle, absolute, epoch) are checked server-side on every request.
                max_age=settings.SESSION_MAX_HOURS * 3600,
                same_site="lax",
                https_only=settings.ENV == "prod",
            ),
            Middleware(LocaleMiddleware, default=settings.DEFAULT_LOCALE),
            Middleware(RequestGuard, max_body_bytes=settings.MAX_BODY_BYTES),
        ],
        exception_handlers={
            DomainError: domain_error,
            HTTPException: http_error,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.templates = make_templates()
    app.state.metrics = Metrics()
    return app


def create_served_app() -> Starlette:
    """What ``points serve`` runs: the application and, without Redis, its schedule."""
    return create_app(run_schedule=True)
