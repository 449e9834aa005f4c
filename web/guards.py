"""Bounds on every request, and the security headers on every answer.

``RequestGuard`` runs before any route: a body over ``POINTS_MAX_BODY_BYTES`` is a
413 (refused on its declared length, or as soon as it grows past it); control
characters in the path, the query or any submitted text are a 400; JSON must parse,
nest at most ``MAX_JSON_DEPTH`` deep and carry no control characters. Routes then
parse a body that is known to be bounded. WeCom's callback has its own lane and its
own limits (``points.wecom.crypto``).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from points.i18n import _
from web.errors import error_response

MAX_JSON_DEPTH = 32
# Line breaks and tabs are text (a reason over two lines); every other C0 control, and
# DEL, is not — NUL in particular is refused by PostgreSQL text columns.
_TEXT_CONTROLS = frozenset(range(0x20)) - {0x09, 0x0A, 0x0D} | {0x7F}
_ANY_CONTROL = frozenset(range(0x20)) | {0x7F}


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def has_control(text: str, controls: frozenset[int] = _TEXT_CONTROLS) -> bool:
    return any(ord(ch) in controls for ch in text)


def _bad_text() -> Refused:
    return Refused(400, "control_character", _("Text may not contain control characters."))


def check_json(value: Any) -> None:
    """Depth and text of a parsed JSON value, walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise Refused(
                    400,
                    "too_deep",
                    _("JSON may nest at most {depth} levels.").format(depth=MAX_JSON_DEPTH),
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    if has_control(key):
                        raise _bad_text()
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and has_control(item):
            raise _bad_text()


def parse_json(body: bytes) -> Any:
    """The one JSON reader for request bodies: bounded depth, no control characters."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise Refused(
            400, "too_deep", _("JSON may nest at most {depth} levels.").format(depth=MAX_JSON_DEPTH)
        ) from None
    except (ValueError, UnicodeDecodeError):
        raise Refused(422, "invalid", _("The body is not valid JSON.")) from None
    check_json(value)
    return value


class RequestGuard:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            self._check_address(scope)
            if scope["method"] in ("GET", "HEAD", "OPTIONS"):
                await self.app(scope, receive, send)
                return
            body = await self._read_body(scope, receive)
            await self._check_body(scope, body)
        except Refused as exc:
            response = error_response(Request(scope), exc.status, exc.code, exc.message)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body), send)

    @staticmethod
    def _check_address(scope: Scope) -> None:
        if has_control(scope["path"], _ANY_CONTROL):
            raise _bad_text()
        query = scope.get("query_string", b"").decode("latin-1")
        for name, value in parse_qsl(query, keep_blank_values=True):
            if has_control(name, _ANY_CONTROL) or has_control(value, _ANY_CONTROL):
                raise _bad_text()

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        too_large = Refused(
            413,
            "too_large",
            _("The request is larger than {size} KB.").format(size=self.max_body_bytes // 1024),
        )
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value.decode("latin-1")
                if not declared.isdigit():
                    raise Refused(400, "bad_request", _("Bad Content-Length."))
                if int(declared) > self.max_body_bytes:
                    raise too_large
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _check_body(scope: Scope, body: bytes) -> None:
        if not body:
            return
        content_type = ""
        for name, value in scope["headers"]:
            if name == b"content-type":
                content_type = value.decode("latin-1").lower()
        if "json" in content_type or (
            scope["path"].startswith("/api/") and not content_type.startswith("multipart/")
        ):
            parse_json(body)
        elif content_type.startswith("application/x-www-form-urlencoded"):
            try:
                fields = parse_qsl(body.decode(), keep_blank_values=True)
            except UnicodeDecodeError:
                raise Refused(400, "bad_request", _("The form is not UTF-8.")) from None
            if any(has_control(name) or has_control(value) for name, value in fields):
                raise _bad_text()
        elif content_type.startswith("multipart/form-data"):
            form = await Request(scope, _replay(body)).form()
            try:
                for name, value in form.multi_items():
                    if has_control(name) or (
                        not isinstance(value, UploadFile) and has_control(value)
                    ):
                        raise _bad_text()
            finally:
                await form.close()


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        # Scripts only from our own files (htmx and app.js): no inline script, no eval'd
        # handlers, so an injected <script> or onclick= cannot run.
        "script-src 'self'",
        # Inline style attributes (bar widths) are harmless; they need no script.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        # WeCom opens pages in its own browser, never in a frame: nobody may frame us.
        "frame-ancestors 'none'",
    )
)


class SecurityHeaders:
    """CSP, framing, referrer and sniffing headers on every answer; HSTS in production."""

    def __init__(self, app: ASGIApp, hsts: bool) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"x-content-type-options", b"nosniff"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _value in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(pair for pair in self.headers if pair[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
