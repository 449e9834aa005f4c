"""All routes, as lists (Starlette 1.x has no route decorators)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.routes import admin, api, org, pages, points_pages, system

routes: list[BaseRoute] = [
    *system.routes,
    *pages.routes,
    *points_pages.routes,
    *org.routes,
    *admin.routes,
    *api.routes,
]
