"""Jinja2 templates: autoescaped, translated, renderable whole or one block (htmx)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from jinja2_fragments.starlette import Jinja2Blocks
from starlette.requests import Request
from starlette.responses import Response

from points.dashboards.pilots import goal_in_words, goal_progress_sentence, goal_sentence
from points.i18n import LOCALE_NAMES, N_, current_locale, gettext_, ngettext_
from rules.milestones import tier_names
from web.audit_view import action_label, details_text
from web.flash import flash_message
from web.icons import icon
from web.rule_messages import rule_message
from web.schedule_text import schedule_text

TEMPLATES_DIR = Path(__file__).parent / "templates"


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    from points.settings import get_settings

    return value.astimezone(get_settings().zone).strftime(fmt)


ROLE_LABELS = {
    "employee": N_("Employee"),
    "head": N_("Department head"),
    "hr": N_("HR"),
    "finance": N_("Finance"),
    "admin": N_("Super admin"),
}


KIND_LABELS = {
    "award": N_("Earned"),
    "reversal": N_("Taken back"),
    "adjustment": N_("Adjustment"),
    "backapply": N_("Rule change"),
    "hold": N_("Held for a redemption"),
    "release": N_("Hold released"),
    "spend": N_("Redeemed"),
    "expiry": N_("Expired"),
}


def kind_label(kind: str) -> str:
    return gettext_(KIND_LABELS.get(kind, kind))


STATUS_LABELS = {
    "pending": N_("Waiting to be scored"),
    "scored": N_("Scored"),
    "unmatched": N_("Unknown person"),
    "parked": N_("Parked"),
}


def status_label(status: str) -> str:
    return gettext_(STATUS_LABELS.get(status, status))


# The same messages as points.rewards.service.STATUS_LABELS (one catalogue entry each).
REDEMPTION_LABELS = {
    "awaiting_approval": N_("Awaiting approval"),
    "awaiting_fulfilment": N_("Awaiting fulfilment"),
    "fulfilled": N_("Fulfilled"),
    "declined": N_("Declined"),
    "cancelled": N_("Cancelled"),
    "expired": N_("Expired"),
}


def redemption_label(status: str) -> str:
    return gettext_(REDEMPTION_LABELS.get(status, status))


# Navigation icons by destination (the navigation table itself lives with security).
NAV_ICONS = {
    "/": "home",
    "/boards": "trophy",
    "/dashboard": "chart",
    "/people": "people",
    "/rewards": "gift",
    "/rules": "rules",
    "/approvals": "check",
    "/fulfilment": "box",
    "/admin": "gear",
}


def nav_icon(path: str) -> str:
    return NAV_ICONS.get(path, "star")


def role_label(role: str) -> str:
    return gettext_(ROLE_LABELS.get(role, role))


def make_templates() -> Jinja2Blocks:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html", "xml", "svg"], default_for_string=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # Callables read the request's locale from a context variable.
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.filters["localtime"] = _local_time
    env.globals["LOCALE_NAMES"] = LOCALE_NAMES
    env.globals["current_locale"] = current_locale.get
    env.globals["role_label"] = role_label
    env.globals["kind_label"] = kind_label
    env.globals["status_label"] = status_label
    env.globals["redemption_label"] = redemption_label
    env.globals["icon"] = icon
    env.globals["nav_icon"] = nav_icon
    env.globals["flash_message"] = flash_message
    env.globals["audit_action"] = action_label
    env.globals["rule_message"] = rule_message
    env.globals["schedule_text"] = schedule_text
    env.globals["goal_sentence"] = goal_sentence
    env.globals["goal_in_words"] = goal_in_words
    env.globals["goal_progress_sentence"] = goal_progress_sentence
    env.globals["audit_details"] = details_text
    env.globals["tier_names"] = tier_names
    from web.security import admin_links

    env.globals["admin_links"] = admin_links
    return Jinja2Blocks(env=env)


def context(request: Request, **values: Any) -> dict[str, Any]:
    """The context every page gets: who is asking, their navigation, the CSRF token."""
    from web.security import csrf_token, navigation

    principal = getattr(request.state, "principal", None)
    base: dict[str, Any] = {
        "principal": principal,
        "nav": navigation(request, principal),
        "csrf_token": csrf_token(request),
        "locale": current_locale.get(),
        "dev_login": request.app.state.settings.DEV_LOGIN,
    }
    base.update(values)
    return base


def render(
    request: Request,
    name: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    **values: Any,
) -> Response:
    """Render a page; with ``block``, only that block when htmx asked for it.

    The fragment and the page come from the same template, so they cannot drift apart.
    """
    templates: Jinja2Blocks = request.app.state.templates
    fragment = block if block and request.headers.get("hx-request") else None
    response: Response = templates.TemplateResponse(
        request, name, context(request, **values), status_code=status_code, block_name=fragment
    )
    return response
