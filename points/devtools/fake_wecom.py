"""A fake WeCom API server (Starlette) for tests and demos.

It speaks the endpoints the client uses, with canned data, and can misbehave on
demand: expire every token (the client then sees 42001 once), answer rate limits
(45009 or HTTP 429), inject any errcode (e.g. 60020), page with tiny pages, and
refuse windows longer than WeCom allows. It records requests and sent messages.

Use it in-process through ``httpx.ASGITransport(app=fake.app())`` or on a real
localhost port with :func:`serve_in_thread`.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from points.devtools.fake_workbench import FakeWorkbench
from points.wecom.crypto import CallbackCrypto, SealedCallback
from points.wecom.samples import approval_detail, date_control, meeting_info, vacation_control

__all__ = ["FakeWeCom", "deliver_callback", "serve_in_thread"]

Handler = Callable[[Request, dict[str, Any]], Awaitable[dict[str, Any]]]


def _ok(**fields: Any) -> dict[str, Any]:
    return {"errcode": 0, "errmsg": "ok", **fields}


def _error(errcode: int, errmsg: str) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": errmsg}


@dataclass
class _Injected:
    path: str
    errcode: int
    errmsg: str
    http_status: int = 200
    #: Calls to this path that still pass before this answer is given.
    skip: int = 0
    #: "error" (errcode), "html" (not JSON), "partial" (errcode 0 without the data),
    #: "after" (do the work, then answer 504: a timeout after delivery).
    kind: str = "error"


@dataclass
class FakeWeCom:
    """State and behaviour of the fake server; mutate it freely between requests."""

    corp_id: str = "wwfakecorp0001"
    secret: str = "fake-app-secret"
    agent_id: int = 1000002
    departments: list[dict[str, Any]] = field(default_factory=list)
    users: list[dict[str, Any]] = field(default_factory=list)
    approvals: dict[str, dict[str, Any]] = field(default_factory=dict)
    checkins: list[dict[str, Any]] = field(default_factory=list)
    behavior: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    external_contacts: dict[str, dict[str, Any]] = field(default_factory=dict)
    group_chats: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Meetings booked through the app, by meetingid, as ``meeting/get_info`` answers.
    meetings: dict[str, dict[str, Any]] = field(default_factory=dict)
    oauth_codes: dict[str, str] = field(default_factory=dict)
    page_size: int = 2
    token_ttl: int = 7200
    untrusted_ip: bool = False
    server_ip: str = "127.0.0.1"
    #: Members without a WeCom licence: messages to them come back in unlicenseduser.
    unlicensed: set[str] = field(default_factory=set)
    #: Answer every approval page with the cursor it was asked for (a WeCom bug).
    stuck_cursor: bool = False
    #: Reject every access token, even fresh ones (e.g. the secret was reset).
    reject_tokens: bool = False
    #: Malformed records added to every check-in / behaviour answer (null, strings,
    #: rows without their time), as a misbehaving WeCom might send them.
    junk_checkins: list[Any] = field(default_factory=list)
    junk_behavior: list[Any] = field(default_factory=list)
    #: Detail answers that differ from the listed approval (e.g. missing fields).
    detail_answers: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Calls left per path before WeCom's rate limit answers (45009) every call;
    #: ``limits.clear()`` lifts it (the minute or hour has passed).
    limits: dict[str, int] = field(default_factory=dict)
    #: The app's workbench tile (points/devtools/fake_workbench.py).
    workbench: FakeWorkbench = field(default_factory=FakeWorkbench)
    # What happened, for assertions.
    requests: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    sent_messages: list[dict[str, Any]] = field(default_factory=list)
    tokens_issued: int = 0
    approval_windows: list[tuple[int, int]] = field(default_factory=list)
    #: (userid, title) of every message that reached someone (duplicates dropped).
    deliveries: list[tuple[str, str]] = field(default_factory=list)
    _delivered_at: dict[str, float] = field(default_factory=dict)
    _tokens: dict[str, float] = field(default_factory=dict)
    _injected: list[_Injected] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # -- misbehaviour on demand ------------------------------------------------------

    def expire_tokens(self) -> None:
        """Make every issued token expired: the next API call answers 42001."""
        with self._lock:
            for token in self._tokens:
                self._tokens[token] = 0.0

    def fail_next(self, path: str, errcode: int, errmsg: str = "", *, times: int = 1) -> None:
        """Answer the next ``times`` calls to ``path`` (``"*"``: any API) with ``errcode``."""
        with self._lock:
            for _ in range(times):
                self._injected.append(_Injected(path, errcode, errmsg or f"injected {errcode}"))

    def fail_after(
        self, path: str, calls: int, errcode: int, errmsg: str = "", *, times: int = 1
    ) -> None:
        """Let ``calls`` calls to ``path`` pass, then answer the next ``times`` with ``errcode``."""
        with self._lock:
            message = errmsg or f"injected {errcode}"
            for index in range(times):
                skip = 0 if index else calls
                self._injected.append(_Injected(path, errcode, message, skip=skip))

    def clear_injected(self) -> None:
        """Forget every injected answer not given yet."""
        with self._lock:
            self._injected.clear()

    def misbehave_next(self, path: str, kind: str, *, times: int = 1) -> None:
        """The next ``times`` calls to ``path``: ``"html"`` answers a non-JSON page,
        ``"partial"`` a success without its data, ``"after"`` does the work and then
        answers 504 (the caller cannot know it was done)."""
        with self._lock:
            for _ in range(times):
                self._injected.append(_Injected(path, 0, kind, kind=kind))

    def rate_limit_next(self, times: int = 1, *, path: str = "*", http_429: bool = False) -> None:
        """Answer the next ``times`` calls with a rate limit (45009, or HTTP 429)."""
        with self._lock:
            for _ in range(times):
                if http_429:
                    self._injected.append(_Injected(path, 429, "too many requests", 429))
                else:
                    self._injected.append(
                        _Injected(path, 45009, "api freq out of limit, hint: [fake]")
                    )

    def paths_called(self) -> list[str]:
        """Paths of all requests so far, in order."""
        return [path for _, path, _ in self.requests]

    # -- canned data -----------------------------------------------------------------

    @classmethod
    def demo(cls, now: int | None = None) -> FakeWeCom:
        """A small company: departments, members, approvals, check-ins and behaviour data."""
        now = int(time.time()) if now is None else now
        day = 86400
        fake = cls()
        fake.departments = [
            {"id": 1, "name": "示例公司", "parentid": 0, "order": 1},
            {"id": 2, "name": "行政部", "parentid": 1, "order": 2},
            {"id": 3, "name": "销售部", "parentid": 1, "order": 3},
            {"id": 4, "name": "技术部", "parentid": 1, "order": 4},
            {"id": 5, "name": "华东销售组", "parentid": 3, "order": 1},
        ]
        people = [
            ("zhangsan", "张三", [2]),
            ("lisi", "李四", [2]),
            ("wangwu", "王五", [3]),
            ("zhaoliu", "赵六", [5]),
            ("sunqi", "孙七", [4]),
        ]
        fake.users = [
            {
                "userid": uid,
                "name": name,
                "department": depts,
                "main_department": depts[0],
                "status": 1,
            }
            for uid, name, depts in people
        ]
        fake.approvals = {}
        for index in range(5):
            sp_no = f"2024{index:08d}"
            applied = now - (10 - index) * day
            fake.approvals[sp_no] = approval_detail(
                sp_no,
                "zhangsan" if index % 2 == 0 else "wangwu",
                applied,
                sp_status=2,
                approvers=[("lisi", 2, applied + 3600 * (index + 1))],
                contents=[date_control("费用日期", applied - 5 * day)],
            )
        leave_applied = now - 3 * day
        fake.approvals["202499990001"] = approval_detail(
            "202499990001",
            "sunqi",
            leave_applied,
            sp_name="请假",
            template_id="tmpl-leave",
            sp_status=1,
            contents=[vacation_control(leave_applied + 2 * day, leave_applied + 3 * day)],
        )
        fake.checkins = [
            {
                "userid": uid,
                "groupname": "总部打卡",
                "checkin_type": "上班打卡",
                "exception_type": "" if offset % 3 else "时间异常",
                "checkin_time": now - offset * day,
                "location_title": "总部",
            }
            for uid, _, _ in people
            for offset in range(1, 4)
        ]
        fake.behavior = {
            uid: [
                {
                    "stat_time": now - offset * day,
                    "chat_cnt": offset,
                    "message_cnt": offset * 3,
                    "new_contact_cnt": offset % 2,
                    "negative_feedback_cnt": 0,
                }
                for offset in range(1, 4)
            ]
            for uid in ("wangwu", "zhaoliu")
        }
        fake.meetings = {
            "demo-weekly": meeting_info(
                "zhangsan",
                now - day,
                members=[("zhangsan", now - day, 1800), ("lisi", now - day + 60, 1700)],
            )
        }
        fake.oauth_codes = {"code-zhangsan": "zhangsan"}
        return fake

    # -- the app -----------------------------------------------------------------------

    def app(self) -> Starlette:
        """The Starlette application speaking the WeCom API."""
        api: dict[str, tuple[str, Handler]] = {
            "/cgi-bin/oa/getapprovalinfo": ("POST", self._approval_info),
            "/cgi-bin/oa/getapprovaldetail": ("POST", self._approval_detail),
            "/cgi-bin/checkin/getcheckindata": ("POST", self._checkin_data),
            "/cgi-bin/department/list": ("GET", self._department_list),
            "/cgi-bin/user/list": ("GET", self._user_list),
            "/cgi-bin/externalcontact/get_user_behavior_data": ("POST", self._behavior_data),
            "/cgi-bin/externalcontact/get": ("GET", self._external_contact),
            "/cgi-bin/externalcontact/groupchat/get": ("POST", self._group_chat),
            "/cgi-bin/meeting/get_user_meetingid": ("POST", self._meeting_ids),
            "/cgi-bin/meeting/get_info": ("POST", self._meeting_info),
            "/cgi-bin/message/send": ("POST", self._send_message),
            "/cgi-bin/auth/getuserinfo": ("GET", self._user_info),
            "/cgi-bin/agent/set_workbench_template": ("POST", self._workbench_template),
            "/cgi-bin/agent/set_workbench_data": ("POST", self._workbench_data),
        }
        routes = [
            Route("/cgi-bin/gettoken", self._wrap("/cgi-bin/gettoken", self._gettoken, False))
        ]
        for path, (method, handler) in api.items():
            routes.append(Route(path, self._wrap(path, handler, True), methods=[method]))
        return Starlette(routes=routes)

    def _take_injected(self, path: str) -> _Injected | None:
        with self._lock:
            for index, item in enumerate(self._injected):
                if item.path in (path, "*"):
                    if item.skip > 0:
                        item.skip -= 1
                        return None
                    return self._injected.pop(index)
        return None

    def _check_token(self, token: str) -> dict[str, Any] | None:
        if not token:
            return _error(41001, "access_token missing")
        with self._lock:
            expires = self._tokens.get(token)
        if expires is None or self.reject_tokens:
            return _error(40014, "invalid access_token")
        if time.time() >= expires:
            return _error(42001, "access_token expired")
        return None

    def _wrap(
        self, path: str, handler: Handler, needs_token: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            body: dict[str, Any] = {}
            if request.method == "POST":
                try:
                    parsed = await request.json()
                except ValueError:
                    return JSONResponse(_error(47001, "data format error"))
                body = parsed if isinstance(parsed, dict) else {}
            params = {
                k: v
                for k, v in request.query_params.items()
                if k not in ("access_token", "corpsecret")
            }
            self.requests.append((request.method, path, {**params, **body}))
            if needs_token:
                problem = self._check_token(request.query_params.get("access_token", ""))
                if problem is not None:
                    return JSONResponse(problem)
                if self.untrusted_ip:
                    return JSONResponse(
                        _error(
                            60020,
                            "not allow to access from your ip, hint: [fake], "
                            f"from ip: {self.server_ip}",
                        )
                    )
            with self._lock:
                left = self.limits.get(path)
                if left is not None:
                    self.limits[path] = left - 1
            if left is not None and left <= 0:
                return JSONResponse(_error(45009, "api freq out of limit, hint: [fake]"))
            injected = self._take_injected(path)
            if injected is None:
                return JSONResponse(await handler(request, body))
            if injected.kind == "html":
                return Response("<html><body>系统繁忙</body></html>", media_type="text/html")
            if injected.kind == "partial":
                return JSONResponse(_ok())
            if injected.kind == "after":
                await handler(request, body)
                return Response("gateway timeout", status_code=504)
            return JSONResponse(
                _error(injected.errcode, injected.errmsg), status_code=injected.http_status
            )

        return endpoint

    # -- endpoints ---------------------------------------------------------------------

    async def _gettoken(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if request.query_params.get("corpid") != self.corp_id:
            return _error(40013, "invalid corpid")
        if request.query_params.get("corpsecret") != self.secret:
            return _error(40001, "invalid credential")
        token = f"fake-token-{next(self._ids)}-{secrets.token_hex(4)}"
        with self._lock:
            self._tokens[token] = time.time() + self.token_ttl
            self.tokens_issued += 1
        return _ok(access_token=token, expires_in=self.token_ttl)

    def _page(self, items: list[Any], cursor: str, size: int) -> tuple[list[Any], str]:
        offset = int(cursor) if cursor.isdigit() else 0
        size = max(1, min(size or self.page_size, self.page_size))
        page = items[offset : offset + size]
        following = offset + size
        return page, str(following) if following < len(items) else ""

    async def _approval_info(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body.get("starttime", 0)), int(body.get("endtime", 0))
        if end < start or end - start > 31 * 86400:
            return _error(40058, "invalid time range: at most 31 days")
        self.approval_windows.append((start, end))
        matching = sorted(
            (a for a in self.approvals.values() if start <= int(a["apply_time"]) <= end),
            key=lambda a: (int(a["apply_time"]), a["sp_no"]),
        )
        cursor = str(body.get("new_cursor", ""))
        page, following = self._page(
            [a["sp_no"] for a in matching], cursor, int(body.get("size", 100))
        )
        if self.stuck_cursor and following:
            following = cursor or following  # the first page's cursor, over and over
        return _ok(sp_no_list=page, new_next_cursor=following)

    async def _approval_detail(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        sp_no = str(body.get("sp_no", ""))
        info = self.detail_answers.get(sp_no) or self.approvals.get(sp_no)
        if info is None:
            return _error(301025, "sp_no not found")
        return _ok(info=info)

    async def _checkin_data(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body.get("starttime", 0)), int(body.get("endtime", 0))
        users = list(body.get("useridlist") or [])
        if end < start or end - start > 30 * 86400:
            return _error(40058, "invalid time range: at most 30 days")
        if not users or len(users) > 100:
            return _error(40058, "useridlist must hold 1..100 users")
        rows = [
            c
            for c in self.checkins
            if c["userid"] in users and start <= int(c["checkin_time"]) <= end
        ]
        return _ok(checkindata=rows + list(self.junk_checkins))

    async def _department_list(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        raw = request.query_params.get("id", "")
        if not raw:
            return _ok(department=self.departments)
        wanted = self._subtree(int(raw))
        return _ok(department=[d for d in self.departments if d["id"] in wanted])

    async def _user_list(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        dept = int(request.query_params.get("department_id", "0") or 0)
        # fetch_child=1 includes members of every department below ``dept``.
        wanted = self._subtree(dept) if request.query_params.get("fetch_child") == "1" else {dept}
        return _ok(userlist=[u for u in self.users if set(u["department"]) & wanted])

    def _subtree(self, root: int) -> set[int]:
        wanted = {root}
        changed = True
        while changed:  # the tree is tiny: iterate until no department is added
            changed = False
            for dept in self.departments:
                if dept["parentid"] in wanted and dept["id"] not in wanted:
                    wanted.add(dept["id"])
                    changed = True
        return wanted

    async def _behavior_data(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        start, end = int(body.get("start_time", 0)), int(body.get("end_time", 0))
        if end < start or end - start > 30 * 86400:
            return _error(40058, "invalid time range: at most 30 days")
        totals: dict[int, dict[str, Any]] = {}
        for userid in body.get("userid") or []:
            for row in self.behavior.get(userid, []):
                if start <= int(row["stat_time"]) <= end:
                    total = totals.setdefault(
                        int(row["stat_time"]), {"stat_time": row["stat_time"]}
                    )
                    for key, value in row.items():
                        if key != "stat_time":
                            total[key] = total.get(key, 0) + value
        rows = [totals[k] for k in sorted(totals)]
        return _ok(behavior_data=rows + list(self.junk_behavior))

    async def _external_contact(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        contact = self.external_contacts.get(request.query_params.get("external_userid", ""))
        if contact is None:
            return _error(84061, "not external contact")
        return _ok(**contact)

    async def _group_chat(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        chat = self.group_chats.get(str(body.get("chat_id", "")))
        if chat is None:
            return _error(701008, "chat not found")
        return _ok(group_chat=chat)

    async def _meeting_ids(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        begin, end = int(body.get("begin_time", 0)), int(body.get("end_time", 0))
        if end < begin or end - begin > 180 * 86400:
            return _error(40058, "invalid time range: at most 180 days")
        userid = str(body.get("userid", ""))

        def involved(info: dict[str, Any]) -> bool:
            members = (info.get("attendees") or {}).get("member") or []
            return info.get("creator_userid") == userid or any(
                m.get("userid") == userid for m in members
            )

        # Past meetings inside the window; meetings not started yet from begin_time on.
        ids = sorted(
            (i["meeting_start"], key)
            for key, i in self.meetings.items()
            if involved(i)
            and begin <= i["meeting_start"]
            and (i["meeting_start"] <= end or i.get("status") == 1)
        )
        cursor = str(body.get("cursor", ""))
        page, following = self._page([k for _s, k in ids], cursor, int(body.get("limit", 100)))
        return _ok(next_cursor=following, meetingid_list=page)

    async def _meeting_info(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        info = self.meetings.get(str(body.get("meetingid", "")))
        if info is None:
            return _error(40058, "invalid meetingid")
        return _ok(**info)

    async def _send_message(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        if str(body.get("agentid", "")) != str(self.agent_id):
            return _error(40056, "invalid agentid")
        # WeCom matches userids without case and answers unknown ones lower-cased.
        known = {u["userid"].lower(): u["userid"] for u in self.users}
        unlicensed = {u.lower() for u in self.unlicensed}
        invalid: list[str] = []
        skipped: list[str] = []
        self.sent_messages.append(body)
        title = str((body.get("textcard") or {}).get("title", ""))
        window = int(body.get("duplicate_check_interval") or 1800)
        for userid in str(body.get("touser", "")).split("|"):
            if not userid or userid == "@all":
                continue
            if userid.lower() not in known:
                invalid.append(userid.lower())
            elif userid.lower() in unlicensed:
                skipped.append(userid.lower())
            else:
                self._deliver(known[userid.lower()], title, body, window)
        return _ok(
            invaliduser="|".join(invalid),
            unlicenseduser="|".join(skipped),
            msgid=f"msg-{len(self.sent_messages)}",
        )

    def _deliver(self, userid: str, title: str, body: dict[str, Any], window: int) -> None:
        """Deliver, unless WeCom's duplicate check drops it (same content, same user)."""
        content = {k: v for k, v in body.items() if k != "touser"}
        key = f"{userid}:{sorted(content.items())!r}"
        now = time.time()
        with self._lock:
            last = self._delivered_at.get(key)
            if body.get("enable_duplicate_check") and last is not None and now - last < window:
                return
            self._delivered_at[key] = now
            self.deliveries.append((userid, title))

    async def _workbench_template(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.workbench.set_template(self.agent_id, body)

    async def _workbench_data(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        return self.workbench.set_data(self.agent_id, self.users, body)

    async def _user_info(self, request: Request, body: dict[str, Any]) -> dict[str, Any]:
        code = request.query_params.get("code", "")
        with self._lock:
            userid = self.oauth_codes.pop(code, None)  # codes are single-use
        if userid is None:
            return _error(40029, "invalid code")
        return _ok(userid=userid, user_ticket=f"ticket-{userid}")


@contextmanager
def serve_in_thread(app: Starlette, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Run ``app`` with uvicorn on ``127.0.0.1`` (a free port) in a thread; yield its URL."""
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="none",
        http="h11",
        loop="asyncio",
        access_log=False,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="fake-wecom", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("fake WeCom server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(startup_timeout)


async def deliver_callback(
    http: httpx.AsyncClient,
    url: str,
    crypto: CallbackCrypto,
    message: str,
    *,
    agent_id: str = "",
) -> tuple[httpx.Response, SealedCallback]:
    """POST ``message`` to a callback URL encrypted and signed, as WeCom would."""
    sealed = crypto.post_body(message, agent_id=agent_id)
    response = await http.post(
        url, params=sealed.params, content=sealed.body, headers={"Content-Type": "text/xml"}
    )
    return response, sealed
