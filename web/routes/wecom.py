"""WeCom: the encrypted callback, WeCom login, and the admin pages of the connection."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Callable
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from points.auth.permissions import Permission
from points.db import utcnow
from points.errors import Forbidden, InvalidInput, NotFound
from points.i18n import _
from points.jobs import commit
from points.org import service as org_service
from points.wecom import callback as wecom_callback
from points.wecom import config, connectors, policy
from points.wecom import login as wecom_login
from points.wecom.crypto import BodyTooLarge, CallbackRejected
from points.wecom.jobs import CONNECTOR_JOBS
from points.wecom.mapping import map_callback
from web.metrics import Metrics
from web.ratelimit import FailureLimiter, RateLimited
from web.redirects import safe_next
from web.security import Ctx, client_ip, page, start_session
from web.templating import render

log = logging.getLogger(__name__)

OAUTH_AUTHORIZE = "https://open.weixin.qq.com/connect/oauth2/authorize"
WEB_LOGIN = "https://login.work.weixin.qq.com/wwlogin/sso/login"
STATE_KEY = "wecom_oauth_state"
NEXT_KEY = "wecom_oauth_next"


# -- the callback ----------------------------------------------------------------------


def _clock(app: Starlette) -> Callable[[], float]:
    # Tests set app.state.wecom_clock to check the 2024 vectors inside the replay window.
    def now() -> float:
        injected: Callable[[], float] | None = getattr(app.state, "wecom_clock", None)
        return injected() if injected is not None else time.time()

    return now


def _receiver(app: Starlette) -> wecom_callback.CallbackReceiver:
    receiver: wecom_callback.CallbackReceiver | None = getattr(app.state, "wecom_receiver", None)
    if receiver is None:
        receiver = wecom_callback.CallbackReceiver(app.state.settings, _clock(app))
        app.state.wecom_receiver = receiver
    return receiver


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused as soon as it passes ``limit`` (never buffered whole first)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


async def _refuse(request: Request, exc: CallbackRejected) -> Response:
    # A client that keeps sending forged or broken deliveries is slowed down (429).
    # The callback runs on its own lane, outside the app's error handlers: answer here.
    limiter: FailureLimiter = request.app.state.limiter
    try:
        await limiter.check("callback", client_ip(request))
    except RateLimited as limited:
        return JSONResponse(
            {"error": {"code": limited.code, "message": limited.message}},
            status_code=429,
            headers={"Retry-After": str(limited.retry_after)},
        )
    await limiter.failed("callback", client_ip(request))
    metrics: Metrics = request.app.state.metrics
    metrics.callbacks_rejected.labels(exc.reason).inc()
    # The reason code only: never the query, the body or anything decrypted.
    log.warning("WeCom callback refused: %s from %s", exc.reason, client_ip(request))
    return JSONResponse(
        {"error": {"code": exc.reason, "message": f"callback refused: {exc.reason}"}},
        status_code=exc.status_code,
    )


async def callback(request: Request) -> Response:
    """WeCom's "接收消息" URL: GET verifies the URL, POST delivers events.

    Everything is checked before anything is stored; a good delivery is stored and
    answered at once (empty 200), scoring and API look-ups happen in jobs.
    """
    settings = request.app.state.settings
    if not config.callback_ready(settings):
        return JSONResponse(
            {"error": {"code": "wecom_disabled", "message": "WeCom is not configured here"}},
            status_code=404,
        )
    receiver = _receiver(request.app)
    params = request.query_params
    signature, timestamp, nonce = (
        params.get("msg_signature", ""),
        params.get("timestamp", ""),
        params.get("nonce", ""),
    )
    if request.method == "GET":
        try:
            echostr = params.get("echostr", "")
            echo = receiver.crypto.verify_url(signature, timestamp, nonce, echostr)
        except CallbackRejected as exc:
            async with request.app.state.db.session() as session:
                await wecom_callback.record_verification(session, ok=False, reason=exc.reason)
                await session.commit()
            return await _refuse(request, exc)
        async with request.app.state.db.session() as session:
            await wecom_callback.record_verification(session, ok=True, reason=None)
            await session.commit()
        return PlainTextResponse(echo)
    try:
        body = await _read_body(request, receiver.crypto.max_body_bytes)
        message = receiver.crypto.open_callback(signature, timestamp, nonce, body)
    except CallbackRejected as exc:
        return await _refuse(request, exc)
    # The callback's own pool on PostgreSQL (config.intake_database), else app.state.db.
    async with request.app.state.intake_db.session() as session:
        outcome = map_callback(message, await receiver.policy(session))
        await wecom_callback.accept_callback(session, outcome, record_status=receiver.status_due())
        await commit(session, request.app.state.queue)
    return Response(status_code=200)


# -- WeCom login -----------------------------------------------------------------------


async def login(request: Request) -> Response:
    """Start WeCom login: OAuth inside the WeCom app, the web login page elsewhere."""
    settings = request.app.state.settings
    if not config.api_ready(settings):
        raise NotFound(_("WeCom login is not enabled."))
    state = secrets.token_urlsafe(24)
    request.session[STATE_KEY] = state
    request.session[NEXT_KEY] = safe_next(request.query_params.get("next"))
    inside_wecom = "wxwork" in request.headers.get("user-agent", "").lower()
    via = request.query_params.get("via") or ("app" if inside_wecom else "web")
    redirect_uri = config.oauth_redirect_url(settings)
    if via == "app":
        # WeCom documents this parameter order and the #wechat_redirect suffix.
        query = urlencode(
            {
                "appid": settings.WECOM_CORP_ID,
                "redirect_uri": redirect_uri,
                "response_type": "code",
                "scope": "snsapi_base",
                "state": state,
                "agentid": settings.WECOM_AGENT_ID,
            }
        )
        return RedirectResponse(f"{OAUTH_AUTHORIZE}?{query}#wechat_redirect", status_code=302)
    query = urlencode(
        {
            "login_type": "CorpApp",
            "appid": settings.WECOM_CORP_ID,
            "agentid": settings.WECOM_AGENT_ID,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return RedirectResponse(f"{WEB_LOGIN}?{query}", status_code=302)


@page(permission=None)
async def oauth_callback(ctx: Ctx) -> Response:
    """WeCom sends people back here with ``code`` and the ``state`` we stored."""
    request = ctx.request
    if not config.api_ready(ctx.settings):
        raise NotFound(_("WeCom login is not enabled."))
    expected = str(request.session.pop(STATE_KEY, "") or "")
    next_path = safe_next(str(request.session.pop(NEXT_KEY, "/") or "/"))
    state = request.query_params.get("state", "")
    if not expected or not hmac.compare_digest(expected.encode(), state.encode()):
        raise Forbidden(
            _("This login did not start here or has expired. Please log in again."),
            code="oauth_state",
        )
    code = request.query_params.get("code", "")
    if not code:
        raise InvalidInput(_("WeCom did not send a login code."), code="oauth_no_code")
    principal = await wecom_login.login_with_code(
        ctx.session, ctx.settings, code, ip=ctx.client_ip, user_agent=ctx.user_agent
    )
    start_session(request, await org_service.get_employee(ctx.session, principal.userid))
    await ctx.session.commit()
    return RedirectResponse(next_path, status_code=303)


# -- admin pages ---------------------------------------------------------------------------


@page(Permission.manage_settings)
async def connection(ctx: Ctx) -> Response:
    """ "WeCom 连接": what to paste into WeCom's console and how the connection is doing."""
    request = ctx.request
    test = None
    if request.method == "POST":
        form = await request.form()
        action = str(form.get("action", ""))
        if action == "run":
            name = str(form.get("connector", ""))
            if name not in CONNECTOR_JOBS:
                raise InvalidInput(_("No such connector."))
            await ctx.queue.enqueue(CONNECTOR_JOBS[name])
            return RedirectResponse(f"/admin/wecom?started={name}", status_code=303)
        test = await wecom_login.test_connection(ctx.settings)
    now = utcnow()
    return render(
        request,
        "wecom/connection.html",
        callback_url=config.callback_url(ctx.settings),
        enabled=ctx.settings.WECOM_ENABLED,
        callback_ready=config.callback_ready(ctx.settings),
        api_ready=config.api_ready(ctx.settings),
        status=await wecom_callback.callback_status(ctx.session),
        health=await connectors.connector_health(ctx.session, now),
        now=now,
        lag_warning_hours=ctx.settings.WECOM_LAG_WARNING_HOURS,
        quarantine=await connectors.quarantined(ctx.session),
        started=request.query_params.get("started"),
        test=test,
    )


def _hours(value: object) -> float | None:
    text = str(value or "").strip()
    if not text:
        return None
    try:
        hours = float(text)
    except ValueError:
        raise InvalidInput(_("Hours must be a number, e.g. 24.")) from None
    if not -10_000 <= hours <= 10_000:
        raise InvalidInput(_("Hours must be a number, e.g. 24."))
    return hours


def _list(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").replace("，", ",").split(",")]


@page(Permission.manage_rules)
async def approval_policy(ctx: Ctx) -> Response:
    """HR's "on time" rules per approval template."""
    request = ctx.request
    if request.method == "POST":
        form = await request.form()
        template = str(form.get("template", ""))
        if form.get("action") == "reset":
            await policy.reset_policy_rule(
                ctx.session, template=template, author=ctx.principal.audit_name
            )
        else:
            await policy.save_policy_rule(
                ctx.session,
                template=template,
                enabled=form.get("enabled") == "on",
                controls=_list(form.get("controls")),
                titles=_list(form.get("titles")),
                min_hours_before=_hours(form.get("min_hours_before")),
                max_hours_after=_hours(form.get("max_hours_after")),
                author=ctx.principal.audit_name,
            )
        await ctx.session.commit()
        receiver: wecom_callback.CallbackReceiver | None = getattr(
            request.app.state, "wecom_receiver", None
        )
        if receiver is not None:
            receiver.forget_policy()
        return RedirectResponse("/rules/approval-deadlines?saved=1", status_code=303)
    return render(
        request,
        "wecom/policy.html",
        lines=await policy.policy_lines(ctx.session),
        saved=bool(request.query_params.get("saved")),
        enabled=ctx.settings.WECOM_ENABLED,
    )


#: Also served ahead of the session and locale middleware (web.app.WeComCallbackLane).
callback_route = Route(config.CALLBACK_PATH, callback, methods=["GET", "POST"])

routes = [
    callback_route,
    Route(config.LOGIN_PATH, login),
    Route(config.OAUTH_CALLBACK_PATH, oauth_callback),
    Route("/admin/wecom", connection, methods=["GET", "POST"]),
    Route("/rules/approval-deadlines", approval_policy, methods=["GET", "POST"]),
]
