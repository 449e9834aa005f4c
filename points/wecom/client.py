"""Async WeCom API client: shared access token, retries, backoff, paging and batching.

The access token (7200 s) is cached in a :class:`TokenStore` shared by every process
(Redis in production), refreshed 5 minutes early, and refreshed once more when WeCom
says it is invalid or expired (40014/42001/40001/41001). Rate-limit answers (45009,
45033, HTTP 429) and transient failures back off a bounded number of times.

Do not log request URLs at INFO: ``gettoken`` carries the secret and every call the
token in the query string (set the ``httpx`` logger to WARNING in production).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any

import httpx

from points.wecom.errors import (
    RATE_LIMIT_CODES,
    TOKEN_INVALID_CODES,
    RepeatedCursor,
    TokenCircuitOpen,
    WeComError,
    WeComUnavailable,
)
from points.wecom.tokens import InMemoryTokenStore, RedisTokenStore, TokenStore

__all__ = [
    "DEFAULT_API_BASE",
    "InMemoryTokenStore",
    "OAuthUser",
    "RedisTokenStore",
    "TokenStore",
    "WeComClient",
    "WeComError",
    "WeComUnavailable",
    "batched",
    "split_window",
]

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com"

SYSTEM_BUSY = -1
APPROVAL_WINDOW = 31 * 86400
CHECKIN_WINDOW = 30 * 86400
BEHAVIOR_WINDOW = 30 * 86400
MAX_USERS_PER_CALL = 100

# -- helpers ----------------------------------------------------------------------


def _unix(moment: datetime | int | float) -> int:
    if isinstance(moment, datetime):
        if moment.tzinfo is None:
            raise ValueError("datetimes passed to WeCom must be timezone-aware")
        return int(moment.timestamp())
    return int(moment)


def split_window(
    start: datetime | int, end: datetime | int, max_span_seconds: int
) -> list[tuple[int, int]]:
    """Split ``[start, end]`` (inclusive Unix seconds) into windows WeCom accepts.

    Windows do not overlap: each starts one second after the previous one ends.
    """
    lo, hi = _unix(start), _unix(end)
    if hi < lo:
        raise ValueError("end is before start")
    windows: list[tuple[int, int]] = []
    while lo <= hi:
        upper = min(hi, lo + max_span_seconds)
        windows.append((lo, upper))
        lo = upper + 1
    return windows


def batched(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most ``size`` items."""
    for index in range(0, len(items), size):
        yield list(items[index : index + size])


@dataclass(frozen=True)
class OAuthUser:
    """Who signed in through WeCom OAuth. ``userid`` is None for non-members."""

    userid: str | None
    openid: str | None = None
    user_ticket: str | None = None


def _decode(response: httpx.Response, expect: str | None) -> tuple[dict[str, Any], str]:
    """The JSON object of a 200 answer, or a reason it cannot be used."""
    try:
        data = response.json()
    except ValueError:
        return {}, "response is not JSON"
    if not isinstance(data, dict):
        return {}, "response is not a JSON object"
    if expect and int(data.get("errcode", 0) or 0) == 0 and expect not in data:
        return {}, f"success without {expect}"
    return data, ""


# -- the client -------------------------------------------------------------------


class WeComClient:
    """Async client for the WeCom server API of one self-built app.

    Pass ``http`` to share a connection pool (or an ``httpx.ASGITransport`` in tests);
    otherwise the client owns one and :meth:`aclose` closes it. ``sleep`` is injectable
    so tests of backoff do not wait.
    """

    def __init__(
        self,
        api_base: str,
        corp_id: str,
        secret: str,
        token_store: TokenStore | None = None,
        http: httpx.AsyncClient | None = None,
        *,
        max_retries: int = 3,
        backoff_base_seconds: float = 0.5,
        backoff_cap_seconds: float = 10.0,
        refresh_margin_seconds: int = 300,
        timeout_seconds: float = 10.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        breaker_threshold: int = 2,
        breaker_seconds: float = 300.0,
    ) -> None:
        self.api_base = (api_base or DEFAULT_API_BASE).rstrip("/")
        self.corp_id = corp_id
        self._secret = secret
        self.token_store: TokenStore = token_store or InMemoryTokenStore()
        self._owns_http = http is None
        self._http = http or httpx.AsyncClient(timeout=timeout_seconds)
        self.max_retries = max_retries
        self._backoff_base = backoff_base_seconds
        self._backoff_cap = backoff_cap_seconds
        self._refresh_margin = refresh_margin_seconds
        self._sleep = sleep
        self._token_lock = asyncio.Lock()
        # Keyed by corp and a hash of the secret: one corp can run several apps, and
        # the secret itself must not end up in Redis keys.
        digest = hashlib.sha256(secret.encode("utf-8")).hexdigest()[:16]
        self._token_key = f"token:{corp_id}:{digest}"
        # The token circuit breaker: after ``breaker_threshold`` fresh tokens in a row
        # are rejected, no process fetches another for ``breaker_seconds`` (the flag
        # lives in the shared store), so a token WeCom keeps refusing cannot turn
        # every call into a gettoken.
        self._breaker_key = f"breaker:{corp_id}:{digest}"
        self._breaker_threshold = breaker_threshold
        self._breaker_seconds = breaker_seconds
        self._fresh_rejections = 0

    def __repr__(self) -> str:  # never show the secret
        return f"WeComClient(api_base={self.api_base!r}, corp_id={self.corp_id!r})"

    async def aclose(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> WeComClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # -- transport ------------------------------------------------------------

    def _delay(self, attempt: int, retry_after: str | None = None) -> float:
        if retry_after:
            try:
                return min(self._backoff_cap, max(0.0, float(retry_after)))
            except ValueError:
                pass
        delay = min(self._backoff_cap, self._backoff_base * float(1 << attempt))
        # Jitter spreads retries of many workers hitting the same limit.
        return delay * random.uniform(0.5, 1.0)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        token: str | None = None,
        expect: str | None = None,
    ) -> dict[str, Any]:
        """One logical request with bounded backoff; returns the JSON with errcode 0.

        An answer that is not JSON, or a success without the ``expect`` field (a
        partial answer), is retried like a 502 for reads. Raises :class:`WeComError`
        for any non-zero errcode left after retries.
        """
        query = dict(params or {})
        if token is not None:
            query["access_token"] = token
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, self.api_base + path, params=query, json=json
                )
            except httpx.TransportError as exc:
                # A POST that may have reached WeCom (send) is not repeated blindly.
                if idempotent and attempt < self.max_retries:
                    await self._sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise WeComUnavailable(
                    -1, f"network error: {type(exc).__name__}", path=path
                ) from None
            retryable_status = response.status_code == 429 or (
                response.status_code >= 500 and idempotent
            )
            if retryable_status and attempt < self.max_retries:
                await self._sleep(self._delay(attempt, response.headers.get("retry-after")))
                attempt += 1
                continue
            if response.status_code != 200:
                code = 429 if response.status_code == 429 else -1
                raise WeComUnavailable(code, f"HTTP {response.status_code}", path=path)
            data, problem = _decode(response, expect)
            if problem:
                if idempotent and attempt < self.max_retries:
                    await self._sleep(self._delay(attempt))
                    attempt += 1
                    continue
                raise WeComUnavailable(-1, problem, path=path)
            errcode = int(data.get("errcode", 0) or 0)
            if errcode == 0:
                return data
            # -1 "system busy" on a send may still have delivered: retry it only
            # for idempotent calls. Rate-limit answers mean nothing was done.
            busy = errcode in RATE_LIMIT_CODES or (errcode == SYSTEM_BUSY and idempotent)
            if busy and attempt < self.max_retries:
                await self._sleep(self._delay(attempt))
                attempt += 1
                continue
            raise WeComError(errcode, str(data.get("errmsg", "")), path=path)

    async def access_token(self) -> str:
        """A valid access token from the shared store, fetching one when needed."""
        token = await self.token_store.get(self._token_key)
        if token:
            return token
        async with self._token_lock:
            # Another coroutine may have fetched it while we waited for the lock.
            token = await self.token_store.get(self._token_key)
            if token:
                return token
            if await self.token_store.get(self._breaker_key):
                raise TokenCircuitOpen(
                    42001,
                    "WeCom keeps rejecting new access tokens; no new token is fetched for"
                    f" {int(self._breaker_seconds // 60)} minutes (check the app's secret"
                    " and whether it was reset)",
                    path="/cgi-bin/gettoken",
                )
            data = await self._request(
                "GET",
                "/cgi-bin/gettoken",
                params={"corpid": self.corp_id, "corpsecret": self._secret},
            )
            token = str(data.get("access_token") or "")
            if not token:
                raise WeComError(-1, "gettoken returned no access_token", path="/cgi-bin/gettoken")
            expires_in = int(data.get("expires_in") or 7200)
            ttl = max(60, expires_in - self._refresh_margin)
            await self.token_store.set(self._token_key, token, ttl)
            return token

    async def invalidate_token(self, token: str | None = None) -> None:
        """Forget the cached token (only if it is still ``token``, when given)."""
        await self.token_store.delete(self._token_key, only_if=token)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        idempotent: bool = True,
        expect: str | None = None,
    ) -> dict[str, Any]:
        """Call an API that needs the access token; refresh it once if WeCom rejects it.

        ``expect`` names the field a success must carry (see :meth:`_request`).
        """
        options: dict[str, Any] = {
            "params": params,
            "json": json,
            "idempotent": idempotent,
            "expect": expect,
        }
        token = await self.access_token()
        try:
            return await self._request(method, path, token=token, **options)
        except WeComError as exc:
            if exc.errcode not in TOKEN_INVALID_CODES:
                raise
        await self.invalidate_token(token)
        token = await self.access_token()
        try:
            data = await self._request(method, path, token=token, **options)
        except WeComError as exc:
            if exc.errcode in TOKEN_INVALID_CODES:
                await self._fresh_token_rejected(token)
            raise
        if self._fresh_rejections:
            self._fresh_rejections = 0
            await self.token_store.delete(self._breaker_key + ":count")
        return data

    async def _fresh_token_rejected(self, token: str) -> None:
        # Counted in the shared store: every run opens its own client, and several
        # processes may be refreshing the same rejected token.
        key = self._breaker_key + ":count"
        count = int(await self.token_store.get(key) or 0) + 1
        self._fresh_rejections = count
        await self.invalidate_token(token)
        if count >= self._breaker_threshold:
            await self.token_store.set(self._breaker_key, "open", self._breaker_seconds)
            await self.token_store.delete(key)
        else:
            await self.token_store.set(key, str(count), self._breaker_seconds)

    # -- approvals ---------------------------------------------------------------

    async def get_approval_sp_nos(
        self,
        start: datetime | int,
        end: datetime | int,
        cursor: str = "",
        *,
        size: int = 100,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> list[str]:
        """All SpNos of approvals applied for in ``[start, end]``.

        Splits the range into ≤31-day windows and follows ``new_next_cursor`` in each;
        ``cursor`` resumes the first window. Duplicates are dropped, order is kept.
        """
        seen: dict[str, None] = {}
        for lo, hi in split_window(start, end, APPROVAL_WINDOW):
            next_cursor = cursor
            cursor = ""
            used: set[str] = set()
            while True:
                sp_nos, next_cursor = await self.approval_page(
                    lo, hi, next_cursor, size=size, filters=filters
                )
                seen.update(dict.fromkeys(sp_nos))
                if not next_cursor:
                    break
                if next_cursor in used:
                    raise RepeatedCursor("/cgi-bin/oa/getapprovalinfo")
                used.add(next_cursor)
        return list(seen)

    async def approval_page(
        self,
        lo: int,
        hi: int,
        cursor: str = "",
        *,
        size: int = 100,
        filters: Sequence[Mapping[str, Any]] = (),
    ) -> tuple[list[str], str]:
        """One page of SpNos applied for in ``[lo, hi]`` (≤31 days) and the next cursor."""
        body: dict[str, Any] = {
            "starttime": str(lo),
            "endtime": str(hi),
            "new_cursor": cursor,
            "size": size,
        }
        if filters:
            body["filters"] = list(filters)
        data = await self.call(
            "POST", "/cgi-bin/oa/getapprovalinfo", json=body, expect="sp_no_list"
        )
        sp_nos = [str(sp_no) for sp_no in data.get("sp_no_list") or []]
        return sp_nos, str(data.get("new_next_cursor") or "")

    async def get_approval_detail(self, sp_no: str) -> dict[str, Any]:
        """The full approval (``info`` object of ``getapprovaldetail``)."""
        data = await self.call("POST", "/cgi-bin/oa/getapprovaldetail", json={"sp_no": sp_no})
        info = data.get("info")
        if not isinstance(info, dict):
            raise WeComError(
                -1, "approval detail without info", path="/cgi-bin/oa/getapprovaldetail"
            )
        return info

    # -- check-ins ---------------------------------------------------------------

    async def get_checkin_data(
        self,
        start: datetime | int,
        end: datetime | int,
        userids: Sequence[str],
        *,
        data_type: int = 3,
    ) -> list[Any]:
        """Check-in records (``checkindata``) for the users in ``[start, end]``.

        Calls in ≤30-day windows and batches of ≤100 users. ``data_type`` 3 means all
        kinds (on/off duty and outside check-ins).
        """
        records: list[Any] = []
        users = list(dict.fromkeys(userids))
        for lo, hi in split_window(start, end, CHECKIN_WINDOW):
            for batch in batched(users, MAX_USERS_PER_CALL):
                records.extend(await self.checkin_batch(lo, hi, batch, data_type=data_type))
        return records

    async def checkin_batch(
        self, lo: int, hi: int, userids: Sequence[str], *, data_type: int = 3
    ) -> list[Any]:
        """One ``getcheckindata`` call (≤30 days, ≤100 users), records as WeCom sent them.

        A success without ``checkindata`` is a partial answer (retried, then an
        error), never "no check-ins".
        """
        data = await self.call(
            "POST",
            "/cgi-bin/checkin/getcheckindata",
            json={
                "opencheckindatatype": data_type,
                "starttime": lo,
                "endtime": hi,
                "useridlist": list(userids),
            },
            expect="checkindata",
        )
        records = data.get("checkindata")
        return list(records) if isinstance(records, list) else []

    # -- contacts ----------------------------------------------------------------

    async def list_departments(self, department_id: int | None = None) -> list[dict[str, Any]]:
        """Departments (the whole tree, or the subtree under ``department_id``)."""
        params = {} if department_id is None else {"id": department_id}
        data = await self.call("GET", "/cgi-bin/department/list", params=params)
        return list(data.get("department") or [])

    async def list_users(
        self, department_id: int, *, fetch_child: bool = False
    ) -> list[dict[str, Any]]:
        """Members of a department (with details), optionally including sub-departments."""
        data = await self.call(
            "GET",
            "/cgi-bin/user/list",
            params={"department_id": department_id, "fetch_child": int(fetch_child)},
        )
        return list(data.get("userlist") or [])

    # -- customer contact ----------------------------------------------------------

    async def get_user_behavior_data(
        self, userids: Sequence[str], start: datetime | int, end: datetime | int
    ) -> dict[str, list[dict[str, Any]]]:
        """Per-user daily customer-contact counts (``behavior_data``), keyed by userid.

        WeCom sums over all users passed in one call, so per-user figures need one
        call per user; ranges over 30 days are split.
        """
        result: dict[str, list[dict[str, Any]]] = {}
        for userid in dict.fromkeys(userids):
            rows: list[dict[str, Any]] = []
            for lo, hi in split_window(start, end, BEHAVIOR_WINDOW):
                data = await self.call(
                    "POST",
                    "/cgi-bin/externalcontact/get_user_behavior_data",
                    json={"userid": [userid], "start_time": lo, "end_time": hi},
                    expect="behavior_data",
                )
                rows.extend(data.get("behavior_data") or [])
            result[userid] = rows
        return result

    async def get_external_contact(self, external_userid: str) -> dict[str, Any]:
        """A customer and the employees following them (``follow_user`` with tags)."""
        return await self.call(
            "GET", "/cgi-bin/externalcontact/get", params={"external_userid": external_userid}
        )

    async def get_group_chat(self, chat_id: str) -> dict[str, Any]:
        """A customer group chat (``group_chat``: owner, members, create_time)."""
        data = await self.call(
            "POST",
            "/cgi-bin/externalcontact/groupchat/get",
            json={"chat_id": chat_id, "need_name": 0},
        )
        chat = data.get("group_chat")
        if not isinstance(chat, dict):
            raise WeComError(
                -1, "group chat without group_chat", path="/cgi-bin/externalcontact/groupchat/get"
            )
        return chat

    # -- messages and login ----------------------------------------------------------

    async def send_message(self, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Send an app message (``message/send``); returns WeCom's answer.

        The answer's ``invaliduser``/``invalidparty`` list recipients that were
        dropped. Not retried on network errors, so a message is never sent twice.
        """
        return await self.call(
            "POST", "/cgi-bin/message/send", json=dict(payload), idempotent=False
        )

    async def get_user_by_oauth_code(self, code: str) -> OAuthUser:
        """Exchange an OAuth / web-login ``code`` for the user (``auth/getuserinfo``).

        Codes are single-use, so this is not retried on network errors.
        """
        data = await self.call(
            "GET", "/cgi-bin/auth/getuserinfo", params={"code": code}, idempotent=False
        )
        userid = data.get("userid") or data.get("UserId")
        openid = data.get("openid") or data.get("OpenId")
        ticket = data.get("user_ticket")
        return OAuthUser(
            userid=str(userid) if userid else None,
            openid=str(openid) if openid else None,
            user_ticket=str(ticket) if ticket else None,
        )
