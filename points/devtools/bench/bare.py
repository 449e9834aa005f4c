"""The morning rush's baseline: a bare Starlette app that answers the same requests.

A login form with a CSRF field and a session cookie, the login's 303, and a few bytes
of HTML for every page: what the person's requests cost with nothing behind them.
``points.cli.run_uvicorn`` serves it exactly as ``points serve`` serves the real app.
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

LOGIN_FORM = '<form method="post"><input name="csrf_token" value="bare"></form>'


async def login(request: Request) -> Response:
    if request.method == "POST":
        await request.body()
        response: Response = RedirectResponse("/", status_code=303)
    else:
        response = HTMLResponse(LOGIN_FORM)
    response.set_cookie("points_session", "bare", httponly=True, samesite="lax")
    return response


async def page(request: Request) -> Response:
    return HTMLResponse("<p>ok</p>")


def create_bare_app() -> Starlette:
    return Starlette(
        routes=[
            Route("/login", login, methods=["GET", "POST"]),
            Route("/healthz", page),
            Route("/{path:path}", page),
        ]
    )
