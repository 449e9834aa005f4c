"""Wiring the WeCom protocol layer to the product: settings → crypto, client, policy.

The callback route and the jobs call these; nothing here knows about HTTP. Events
from callbacks and pull connectors are stored under one source, ``"wecom"``, so a
callback, its retries and the pull that finds the same object are one row.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from points.audit.service import record
from points.auth.permissions import Principal
from points.auth.service import principal_for_userid
from points.db import Database, utcnow
from points.errors import Forbidden, InvalidInput, NotFound
from points.events.service import IntakeResult, ingest, ingest_one
from points.i18n import _
from points.jobs import enqueue_after_commit
from points.ledger.service import insert_for
from points.settings import Settings
from points.wecom.client import (
    InMemoryTokenStore,
    RedisTokenStore,
    TokenStore,
    WeComClient,
    WeComError,
)
from points.wecom.crypto import CallbackCrypto
from points.wecom.mapping import (
    DEFAULT_APPROVAL_POLICY,
    ApprovalPolicy,
    CallbackOutcome,
    ContactChange,
    DetailRequest,
    OnTimeRule,
)
from points.wecom.models import ApprovalPolicyRule, CallbackStatus, ConnectorState

log = logging.getLogger(__name__)

SOURCE = "wecom"
CALLBACK_PATH = "/wecom/callback"
# Login lives under /login (HTML errors), not /wecom (JSON errors for WeCom's servers).
LOGIN_PATH = "/login/wecom"
OAUTH_CALLBACK_PATH = "/login/wecom/callback"
#: Pull connectors, in the order the admin page lists them.
CONNECTORS = ("approvals", "checkins", "contacts", "behavior")
FETCH_DETAILS_JOB = "wecom_fetch_details"
CONTACT_CHANGES_JOB = "wecom_apply_contact_changes"
#: The callback row is written at most this often per process: under a burst of
#: callbacks a per-request UPDATE of one row would serialise every transaction.
STATUS_EVERY_SECONDS = 1.0
#: How long a process trusts its cached on-time policy (saving it clears the cache).
POLICY_TTL_SECONDS = 30.0


# -- configuration ----------------------------------------------------------------


def callback_ready(settings: Settings) -> bool:
    """WeCom is on and the callback secrets (Token, EncodingAESKey, CorpID) are set."""
    return bool(
        settings.WECOM_ENABLED
        and settings.WECOM_CORP_ID
        and settings.WECOM_TOKEN
        and settings.WECOM_AES_KEY
    )


def api_ready(settings: Settings) -> bool:
    """WeCom is on and the API credentials (CorpID, Secret) are set."""
    return bool(settings.WECOM_ENABLED and settings.WECOM_CORP_ID and settings.WECOM_SECRET)


def callback_url(settings: Settings) -> str:
    """The URL to paste into the app's "接收消息" settings in WeCom's console."""
    return settings.BASE_URL.rstrip("/") + CALLBACK_PATH


def oauth_redirect_url(settings: Settings) -> str:
    """Where WeCom sends people back after OAuth or the web login."""
    return settings.BASE_URL.rstrip("/") + OAUTH_CALLBACK_PATH


def make_crypto(settings: Settings, clock: Callable[[], float] = time.time) -> CallbackCrypto:
    """Callback crypto from the settings; ``clock`` is injectable for test vectors."""
    return CallbackCrypto(
        settings.WECOM_TOKEN, settings.WECOM_AES_KEY, settings.WECOM_CORP_ID, clock=clock
    )


def intake_database(settings: Settings) -> Database | None:
    """A connection pool of the callback's own on PostgreSQL; None where none is needed.

    The shared pool pings every connection it hands out -- BEGIN, a statement,
    ROLLBACK: three round trips, more than storing a callback takes. This pool skips
    that ping and instead refuses, without a round trip, a connection the driver
    already knows the server closed (a restart, an idle timeout, a terminated
    backend), which is what the ping is there to catch. On SQLite (no network) and
    with callbacks off, the shared database serves.
    """
    if settings.is_sqlite or not callback_ready(settings):
        return None
    db = Database(settings, pool_pre_ping=False)
    event.listen(db.engine.sync_engine, "checkout", _refuse_closed_connection)
    return db


def _refuse_closed_connection(_dbapi: Any, _record: Any, proxy: Any) -> None:
    # DisconnectionError makes the pool drop this connection and check out another.
    is_closed = getattr(proxy.driver_connection, "is_closed", None)
    if is_closed is not None and is_closed():
        raise DisconnectionError("the server closed this pooled connection")


# One per process when there is no Redis: the embedded default runs web and jobs in
# one process, and WeCom hands out the same token while it is valid anyway.
_memory_tokens = InMemoryTokenStore()


@asynccontextmanager
async def open_client(
    settings: Settings, *, http: httpx.AsyncClient | None = None
) -> AsyncIterator[WeComClient]:
    """A WeCom API client for this unit of work; the token is shared via Redis or memory."""
    if not api_ready(settings):
        raise InvalidInput(
            _("WeCom is not configured: set POINTS_WECOM_ENABLED, CORP_ID and SECRET."),
            code="wecom_not_configured",
        )
    redis = None
    store: TokenStore = _memory_tokens
    if settings.REDIS_URL:
        from redis.asyncio import Redis

        redis = Redis.from_url(settings.REDIS_URL)
        store = RedisTokenStore(redis)
    client = WeComClient(
        settings.WECOM_API_BASE, settings.WECOM_CORP_ID, settings.WECOM_SECRET, store, http
    )
    try:
        yield client
    finally:
        await client.aclose()
        if redis is not None:
            await redis.aclose()


# -- approval on-time policy -------------------------------------------------------


def _rule_config(rule: OnTimeRule) -> dict[str, Any]:
    return {
        "controls": list(rule.controls),
        "titles": list(rule.titles),
        "min_hours_before": rule.min_hours_before,
        "max_hours_after": rule.max_hours_after,
    }


async def load_policy(session: AsyncSession) -> ApprovalPolicy:
    """The effective policy: the shipped defaults, overridden per template by HR's rows."""
    rules: dict[str, OnTimeRule] = dict(DEFAULT_APPROVAL_POLICY.rules)
    for row in (await session.exec(select(ApprovalPolicyRule))).all():
        if not row.enabled:
            rules.pop(row.template, None)
            continue
        config = {
            "controls": row.controls,
            "titles": row.titles,
            "min_hours_before": row.min_hours_before,
            "max_hours_after": row.max_hours_after,
        }
        rules.update(ApprovalPolicy.from_config({row.template: config}).rules)
    return ApprovalPolicy(rules)


@dataclass(frozen=True)
class PolicyLine:
    """One template's rule as the policy page shows it."""

    template: str
    enabled: bool
    controls: tuple[str, ...]
    titles: tuple[str, ...]
    min_hours_before: float | None
    max_hours_after: float | None
    customised: bool
    updated_by: str | None = None
    updated_at: datetime | None = None


async def policy_lines(session: AsyncSession) -> list[PolicyLine]:
    """Every template with a rule (default or HR's), HR's changes marked."""
    stored = {r.template: r for r in (await session.exec(select(ApprovalPolicyRule))).all()}
    lines: list[PolicyLine] = []
    for template, rule in DEFAULT_APPROVAL_POLICY.rules.items():
        if template not in stored:
            lines.append(
                PolicyLine(
                    template,
                    True,
                    rule.controls,
                    rule.titles,
                    rule.min_hours_before,
                    rule.max_hours_after,
                    customised=False,
                )
            )
    for row in stored.values():
        lines.append(
            PolicyLine(
                row.template,
                row.enabled,
                tuple(row.controls),
                tuple(row.titles),
                row.min_hours_before,
                row.max_hours_after,
                customised=True,
                updated_by=row.updated_by,
                updated_at=row.updated_at,
            )
        )
    return sorted(lines, key=lambda line: line.template)


async def save_policy_rule(
    session: AsyncSession,
    *,
    template: str,
    enabled: bool,
    controls: Sequence[str],
    titles: Sequence[str],
    min_hours_before: float | None,
    max_hours_after: float | None,
    author: str,
) -> ApprovalPolicyRule:
    """Store HR's on-time rule for a template (validated like the defaults); audited.

    Changing a rule changes ``on_time`` for approvals seen from now on; events already
    stored keep the value they were stored with.
    """
    template = template.strip()
    if not template or len(template) > 64:
        raise InvalidInput(_("Name the approval template (at most 64 characters)."))
    controls = [c.strip() for c in controls if c.strip()]
    titles = [t.strip() for t in titles if t.strip()]
    if enabled:
        try:
            ApprovalPolicy.from_config(
                {
                    template: {
                        "controls": controls,
                        "titles": titles,
                        "min_hours_before": min_hours_before,
                        "max_hours_after": max_hours_after,
                    }
                }
            )
        except ValueError:
            raise InvalidInput(
                _("Give at least one of: hours before the start, hours after the date.")
            ) from None
        if not controls and not titles:
            raise InvalidInput(_("Name the form controls or field titles that hold the date."))
    row = await session.get(ApprovalPolicyRule, template)
    before = None if row is None else row.model_dump(mode="json", exclude={"updated_at"})
    if row is None:
        row = ApprovalPolicyRule(template=template)
    row.enabled = enabled
    row.controls = controls
    row.titles = titles
    row.min_hours_before = min_hours_before
    row.max_hours_after = max_hours_after
    row.updated_at = utcnow()
    row.updated_by = author
    session.add(row)
    await session.flush()
    await record(
        session,
        actor=author,
        action="wecom.policy.save",
        target=template,
        details={
            "before": before,
            "after": row.model_dump(mode="json", exclude={"updated_at", "updated_by"}),
        },
    )
    return row


async def reset_policy_rule(session: AsyncSession, *, template: str, author: str) -> None:
    """Drop HR's rule for a template (the default, if any, applies again); audited."""
    row = await session.get(ApprovalPolicyRule, template)
    if row is None:
        raise NotFound(_("No such approval template rule."))
    await session.delete(row)
    await record(session, actor=author, action="wecom.policy.reset", target=template)


# -- the callback ---------------------------------------------------------------------


class CallbackReceiver:
    """Per-process state of the callback route: crypto, cached policy, status throttle."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.time) -> None:
        self.crypto = make_crypto(settings, clock)
        self._policy: ApprovalPolicy | None = None
        self._policy_loaded = 0.0
        self._status_written = float("-inf")

    async def policy(self, session: AsyncSession) -> ApprovalPolicy:
        """The on-time policy, reloaded at most every :data:`POLICY_TTL_SECONDS`."""
        now = time.monotonic()
        if self._policy is None or now - self._policy_loaded > POLICY_TTL_SECONDS:
            self._policy = await load_policy(session)
            self._policy_loaded = now
        return self._policy

    def forget_policy(self) -> None:
        """Reload the policy on the next callback (HR just changed it)."""
        self._policy = None

    def status_due(self) -> bool:
        """True when this process should write the "last callback" row now."""
        now = time.monotonic()
        if now - self._status_written >= STATUS_EVERY_SECONDS:
            self._status_written = now
            return True
        return False


def detail_request_to_dict(request: DetailRequest) -> dict[str, Any]:
    """A detail request as plain data for a job's arguments."""
    return {
        "kind": request.kind,
        "key": request.key,
        "userid": request.userid,
        "occurred_at": request.occurred_at.isoformat() if request.occurred_at else None,
    }


def detail_request_from_dict(data: dict[str, Any]) -> DetailRequest:
    """The inverse of :func:`detail_request_to_dict`."""
    occurred = data.get("occurred_at")
    return DetailRequest(
        kind=data["kind"],
        key=str(data["key"]),
        userid=str(data.get("userid") or ""),
        occurred_at=datetime.fromisoformat(occurred) if occurred else None,
    )


def contact_change_to_dict(change: ContactChange) -> dict[str, Any]:
    """A contacts change as plain data for a job's arguments (no points, just sync)."""
    return {
        "change_type": change.change_type,
        "userid": change.userid,
        "party_id": change.party_id,
        "occurred_at": change.occurred_at.isoformat(),
    }


async def accept_callback(
    session: AsyncSession, outcome: CallbackOutcome, *, record_status: bool = True
) -> list[IntakeResult]:
    """Store a verified callback's final events; leave the rest to jobs.

    Only ``outcome.events`` are stored. Incomplete events are completed by the
    detail job (storing them now would conflict with the completed payload later);
    contact changes go to the contacts job. Both are enqueued after commit.

    A callback with one event (most of them) is stored by one statement
    (:func:`ingest_one`); the status row, when due, is written first so that the
    statement then joins its transaction and both commit together.
    """
    if record_status:
        await _upsert_status(
            session, last_callback_at=utcnow(), last_callback_event=outcome.event[:64]
        )
    if len(outcome.events) == 1:
        results = [await ingest_one(session, SOURCE, outcome.events[0])]
    else:
        results = await ingest(session, SOURCE, outcome.events) if outcome.events else []
    if outcome.detail_requests:
        enqueue_after_commit(
            session,
            FETCH_DETAILS_JOB,
            requests=[detail_request_to_dict(r) for r in outcome.detail_requests],
        )
    if outcome.contact_changes:
        enqueue_after_commit(
            session,
            CONTACT_CHANGES_JOB,
            changes=[contact_change_to_dict(c) for c in outcome.contact_changes],
        )
    return results


async def record_verification(session: AsyncSession, *, ok: bool, reason: str | None) -> None:
    """Remember the last URL verification and its reason code (never its content)."""
    await _upsert_status(
        session,
        last_verification_at=utcnow(),
        last_verification_ok=ok,
        last_verification_error=None if ok else (reason or "rejected")[:64],
    )


async def _upsert_status(session: AsyncSession, **values: Any) -> None:
    stmt = insert_for(session, CallbackStatus).values(id=1, **values)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_=values)
    await session.exec(stmt)


async def callback_status(session: AsyncSession) -> CallbackStatus | None:
    """The callback URL's health, or None before anything arrived."""
    return await session.get(CallbackStatus, 1)


# -- connector progress -------------------------------------------------------------


async def connector_states(session: AsyncSession) -> dict[str, ConnectorState]:
    """Each connector's progress (connectors that never ran are absent)."""
    rows = (
        await session.exec(select(ConnectorState).where(col(ConnectorState.name).in_(CONNECTORS)))
    ).all()
    return {row.name: row for row in rows}


async def connector_state(session: AsyncSession, name: str) -> ConnectorState:
    """The state row of one connector, created empty on first use."""
    state = await session.get(ConnectorState, name)
    return state if state is not None else ConnectorState(name=name)


async def record_success(
    session: AsyncSession,
    name: str,
    *,
    window: tuple[datetime, datetime] | None,
    result: dict[str, Any],
) -> None:
    """A finished run: advance the window, clear the failure streak."""
    state = await connector_state(session, name)
    now = utcnow()
    state.last_run_at = now
    state.last_success_at = now
    if window is not None:
        state.window_start, state.window_end = window
    state.last_result = result
    state.runs += 1
    state.failures = 0
    session.add(state)


async def record_failure(session: AsyncSession, name: str, error: str) -> None:
    """A failed run: the window stays, so the next run resumes from the last success."""
    state = await connector_state(session, name)
    now = utcnow()
    state.last_run_at = now
    state.last_error_at = now
    state.last_error = error[:1000]
    state.runs += 1
    state.failures += 1
    session.add(state)


# -- login and the connection test ---------------------------------------------------


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
