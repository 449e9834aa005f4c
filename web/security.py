"""Sessions, CSRF, and the one permission check every route goes through.

Routes are wrapped by :func:`page` (cookie session, HTML) or :func:`api`
(bearer token, JSON). The wrapper opens the database session, resolves the
principal, checks the permission and — for anything that changes state — the
CSRF token, before the handler runs. No handler checks roles by itself.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any
from urllib.parse import quote

from sqlalchemy import inspect
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from points.auth.permissions import Permission, Principal
from points.auth.service import person_with_roles, principal_for_token, principal_of
from points.errors import Forbidden, Unauthorized
from points.i18n import N_, _
from points.jobs import JobQueue
from points.org import service as org
from points.org.models import Employee, EmployeeStatus
from points.settings import Settings
from web.ratelimit import FailureLimiter

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass
class Ctx:
    """What a handler receives: the request, an open session and who is asking."""

    request: Request
    session: AsyncSession
    principal: Principal
    # The signed-in person as the session loaded them (pages only), see :meth:`employee`.
    signed_in: Employee | None = field(default=None, repr=False)

    async def employee(self) -> Employee:
        """The person asking, loaded once per request.

        Read again when a rollback expired what was loaded (an expired row would try to
        load itself lazily, which an async session cannot do while a page renders).
        """
        me = self.signed_in
        if me is None or _stale(me):
            me = self.signed_in = await org.get_employee(self.session, self.principal.userid)
        return me

    @property
    def settings(self) -> Settings:
        settings: Settings = self.request.app.state.settings
        return settings

    @property
    def queue(self) -> JobQueue:
        queue: JobQueue = self.request.app.state.queue
        return queue

    @property
    def client_ip(self) -> str:
        return client_ip(self.request)

    @property
    def user_agent(self) -> str:
        return self.request.headers.get("user-agent", "")


def _stale(row: Employee) -> bool:
    state = inspect(row)
    return state.detached or state.expired or bool(state.expired_attributes)


Handler = Callable[[Ctx], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use."""
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(24)
        request.session["csrf"] = token
    return str(token)


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing browser request without the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = request.session.get("csrf")
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not expected or not sent or not hmac.compare_digest(str(expected), sent):
        raise Forbidden(
            _("This form has expired or came from another site. Please try again."), code="csrf"
        )


# The last-seen time in the cookie moves at most this often (seconds), so a burst of
# requests does not re-sign the cookie every time for nothing.
_SEEN_EVERY = 60


def start_session(request: Request, employee: Employee) -> None:
    """Log this person in: a fresh cookie session bound to their current epoch."""
    now = int(time.time())
    request.session.clear()
    request.session.update(
        userid=employee.userid, epoch=employee.session_epoch, started=now, seen=now
    )


async def session_principal(request: Request, session: AsyncSession) -> Principal | None:
    """Who the cookie speaks for, if its session is still alive."""
    signed_in = await session_person(request, session)
    return signed_in[0] if signed_in else None


async def session_person(
    request: Request, session: AsyncSession
) -> tuple[Principal, Employee] | None:
    """Who the cookie speaks for and their row, if its session is still alive.

    A session ends when its person logs out anywhere, changes role or leaves (the
    epoch moved on), after ``SESSION_IDLE_MINUTES`` without a request, and
    ``SESSION_MAX_HOURS`` after logging in. An ended session is cleared.
    """
    data = request.session
    userid = data.get("userid")
    if not userid:
        return None
    settings: Settings = request.app.state.settings
    found = await person_with_roles(session, str(userid))
    employee, assignments = found if found else (None, [])
    now = int(time.time())
    started, seen = int(data.get("started") or 0), int(data.get("seen") or 0)
    if (
        employee is None
        or employee.status != EmployeeStatus.active
        or data.get("epoch") != employee.session_epoch
        or now - started > settings.SESSION_MAX_HOURS * 3600
        or now - seen > settings.SESSION_IDLE_MINUTES * 60
    ):
        data.clear()
        return None
    if now - seen >= _SEEN_EVERY:
        data["seen"] = now
    return principal_of(employee, assignments), employee


def page(permission: Permission | None = Permission.view_own) -> Callable[[Handler], Endpoint]:
    """An HTML route: logged-in person with ``permission`` (None: anyone, even anonymous)."""

    def decorate(handler: Handler) -> Endpoint:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            await check_csrf(request)
            async with request.app.state.db.session() as session:
                signed_in = await session_person(request, session)
                principal, employee = signed_in if signed_in else (None, None)
                request.state.principal = principal
                if permission is not None:
                    if principal is None:
                        target = quote(request.url.path)
                        return RedirectResponse(f"/login?next={target}", status_code=303)
                    principal.require(permission)
                return await handler(Ctx(request, session, principal or ANONYMOUS, employee))

        return endpoint

    return decorate


def api(permission: Permission) -> Callable[[Handler], Endpoint]:
    """A JSON route under /api/v1, authorised by ``Authorization: Bearer <token>``."""

    def decorate(handler: Handler) -> Endpoint:
        @wraps(handler)
        async def endpoint(request: Request) -> Response:
            scheme, _sep, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized(_("Send Authorization: Bearer <token>"), code="no_token")
            async with request.app.state.db.session() as session:
                try:
                    principal = await principal_for_token(session, token.strip())
                except Unauthorized:
                    # Only refusals are counted, so good tokens never wait on the limiter.
                    limiter: FailureLimiter = request.app.state.limiter
                    await limiter.check("token", client_ip(request))
                    await limiter.failed("token", client_ip(request))
                    raise
                await session.commit()  # last_used_at
                request.state.principal = principal
                principal.require(permission)
                if principal.read_only and request.method not in SAFE_METHODS:
                    raise Forbidden(_("This token may only read."), code="read_only")
                return await handler(Ctx(request, session, principal))

        return endpoint

    return decorate


ANONYMOUS = Principal(userid="", name="", roles=frozenset())


@dataclass(frozen=True)
class NavItem:
    label: str  # a message id, translated in the template
    path: str
    permission: Permission
    icon: str
    # Hidden from people who also hold this permission (they reach the page another way).
    unless: Permission | None = None


# The navigation a person sees follows from their permissions, never from role names.
NAV: tuple[NavItem, ...] = (
    NavItem(N_("My points"), "/", Permission.view_own, "★"),
    NavItem(N_("Leaderboard"), "/boards", Permission.view_own, "♛"),
    # The dashboard supersedes the member list; /department still works (linked from it).
    NavItem(N_("Dashboard"), "/dashboard", Permission.view_department, "▦"),
    NavItem(N_("People"), "/people", Permission.view_company, "☰"),
    NavItem(N_("Rewards"), "/rewards", Permission.redeem, "◆"),
    NavItem(N_("Rules"), "/rules", Permission.manage_rules, "§"),
    NavItem(N_("Appeals"), "/appeals", Permission.view_appeals, "?"),
    # Finance reads the spend report; HR and admins reach it inside Fulfilment.
    NavItem(
        N_("Spend"),
        "/fulfilment/spend",
        Permission.view_spend,
        "¥",
        unless=Permission.fulfil_redemptions,
    ),
    # HR approve inside Fulfilment; admins reach Fulfilment from the Admin hub.
    NavItem(
        N_("Approvals"),
        "/approvals",
        Permission.approve_redemptions,
        "✓",
        unless=Permission.fulfil_redemptions,
    ),
    NavItem(
        N_("Fulfilment"),
        "/fulfilment",
        Permission.fulfil_redemptions,
        "⇄",
        unless=Permission.view_audit,
    ),
    NavItem(N_("Admin"), "/admin", Permission.view_audit, "⚙"),
)


@dataclass(frozen=True)
class AdminLink:
    label: str
    path: str
    permission: Permission
    hint: str


# Admin pages are reached from one hub, so a phone's navigation stays short.
ADMIN_LINKS: tuple[AdminLink, ...] = (
    AdminLink(
        N_("Roles"), "/admin/roles", Permission.manage_roles, N_("Who is a head, HR or admin")
    ),
    AdminLink(
        N_("Audit log"),
        "/admin/audit",
        Permission.view_audit,
        N_("Every sensitive action: who, what, when, from where"),
    ),
    AdminLink(
        N_("Fulfilment"),
        "/fulfilment",
        Permission.fulfil_redemptions,
        N_("Reward catalogue, redemptions to fulfil, voucher codes, spend"),
    ),
    AdminLink(
        N_("Adjustments"),
        "/adjustments",
        Permission.adjust_points,
        N_("Large adjustments waiting for a second HR or admin person"),
    ),
    AdminLink(
        N_("Integrity review"),
        "/integrity",
        Permission.review_integrity,
        N_("Patterns worth a look: caps day after day, bursts, odd hours, mutual approvals"),
    ),
    AdminLink(
        N_("Awards to review"),
        "/reviews",
        Permission.review_awards,
        N_("Awards of rules with review: accept or reject them before they are paid"),
    ),
    AdminLink(
        N_("Event intake"),
        "/admin/events",
        Permission.view_audit,
        N_("Events by status, parked events, conflicting replays"),
    ),
    AdminLink(
        N_("API tokens"),
        "/admin/tokens",
        Permission.manage_tokens,
        N_("Bearer tokens for the REST API, e.g. an office screen"),
    ),
    AdminLink(
        N_("WeCom connection"),
        "/admin/wecom",
        Permission.manage_settings,
        N_("Callback URL, last callback, pull connectors, test the connection"),
    ),
    AdminLink(
        N_("Periodic jobs"),
        "/admin/jobs",
        Permission.run_jobs,
        N_("Expiry, reminders, digests, board freezing: last run, next run, run now"),
    ),
    AdminLink(
        N_("Privacy notice"),
        "/admin/privacy",
        Permission.manage_settings,
        N_("The text at /privacy: what is collected, why, how long, who sees it"),
    ),
    AdminLink(
        N_("Approval deadlines"),
        "/rules/approval-deadlines",
        Permission.manage_rules,
        N_("When an approval counts as submitted on time, per template"),
    ),
)


def admin_links(principal: Principal | None) -> list[AdminLink]:
    if principal is None:
        return []
    return [link for link in ADMIN_LINKS if principal.can(link.permission)]


def navigation(request: Request, principal: Principal | None) -> list[dict[str, Any]]:
    if principal is None or not principal.roles:
        return []
    path = request.url.path
    items = []
    for item in NAV:
        if principal.can(item.permission) and not (item.unless and principal.can(item.unless)):
            # The history page belongs to "My points" (it is reached from there).
            home = path in ("/", "/history")
            active = home if item.path == "/" else path.startswith(item.path)
            items.append(
                {"label": item.label, "path": item.path, "icon": item.icon, "active": active}
            )
    return items
