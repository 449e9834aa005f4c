"""All routes, as lists (Starlette 1.x has no route decorators)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.routes import (
    adjustments,
    admin,
    api,
    appeals,
    boards,
    boards_api,
    calendar,
    dashboards,
    integrity,
    levels,
    onboarding,
    operations,
    org,
    pages,
    points_pages,
    privacy,
    reviews,
    rewards,
    rewards_api,
    rules_pages,
    system,
    wecom,
)

routes: list[BaseRoute] = [
    *system.routes,
    *pages.routes,
    *points_pages.routes,
    *org.routes,
    *admin.routes,
    *adjustments.routes,
    *api.routes,
    *rewards.routes,
    *rewards_api.routes,
    *wecom.routes,
    *boards.routes,
    *dashboards.routes,
    *boards_api.routes,
    *rules_pages.routes,
    *levels.routes,
    *calendar.routes,
    *onboarding.routes,
    *appeals.routes,
    *integrity.routes,
    *operations.routes,
    *privacy.routes,
    *reviews.routes,
]
