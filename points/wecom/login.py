"""WeCom login (OAuth / web-login code exchange) and the admin's connection test."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Principal
from points.auth.service import principal_for_userid
from points.errors import Forbidden
from points.i18n import _
from points.settings import Settings
from points.wecom.client import WeComError
from points.wecom.config import api_ready, open_client

log = logging.getLogger(__name__)


async def login_with_code(
    session: AsyncSession, settings: Settings, code: str, *, ip: str = "", user_agent: str = ""
) -> Principal:
    """Exchange a WeCom OAuth / web-login code for an active employee; audited.

    Non-members (WeCom gives no userid) and people who are not active employees here
    are refused with a message that says which.
    """
    try:
        async with open_client(settings) as client:
            user = await client.get_user_by_oauth_code(code)
    except WeComError as exc:
        log.warning("WeCom login code exchange failed: errcode %s", exc.errcode)
        raise Forbidden(
            _("WeCom could not confirm who you are. Please open the app again."),
            code="wecom_login_failed",
        ) from None
    if not user.userid:
        raise Forbidden(
            _("Only members of this company can log in with WeCom."), code="not_a_member"
        )
    principal = await principal_for_userid(session, user.userid)
    if principal is None:
        raise Forbidden(
            _("Your WeCom account is not an active employee here. Please ask HR."),
            code="not_an_employee",
        )
    await record(
        session,
        actor=principal.userid,
        action="login",
        details={"method": "wecom"},
        ip=ip,
        user_agent=user_agent,
    )
    return principal


@dataclass(frozen=True)
class ConnectionTest:
    """The outcome of the admin page's "test connection" button."""

    ok: bool
    message: str
    hint: str = ""


async def test_connection(settings: Settings) -> ConnectionTest:
    """Fetch a fresh token and read the departments: proves secret, IP and visibility."""
    if not api_ready(settings):
        return ConnectionTest(
            False, _("WeCom is not configured: set POINTS_WECOM_ENABLED, CORP_ID and SECRET.")
        )
    try:
        async with open_client(settings) as client:
            await client.invalidate_token()
            await client.access_token()
            departments = await client.list_departments()
    except WeComError as exc:
        return ConnectionTest(False, f"{exc.errcode}: {exc.errmsg}", exc.hint)
    return ConnectionTest(
        True, _("Connected. The app sees %(count)s departments.") % {"count": len(departments)}
    )
