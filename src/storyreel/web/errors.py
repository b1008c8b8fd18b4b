"""Every failure reads as one line: the API answers ``{"error": "..."}`` with a 4xx (5xx only for a bug), the
pages show the same line in a calm error page. Stack traces stay in the server log."""

from __future__ import annotations

import json
import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from storyreel.errors import InputError, LockedError, NotFound, ProjectBusy, StoryreelError

log = logging.getLogger("storyreel.web")

GENERIC = "something went wrong on the server; the details are in the server log"


class LockedEdit(LockedError):
    """An edit of a locked stage: the page offers to create a branch and edit there."""

    def __init__(self, stage: str, message: str):
        super().__init__(message)
        self.stage = stage


def status_of(exc: Exception) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, (LockedError, ProjectBusy)):
        return 409
    if isinstance(exc, StoryreelError):
        return 400
    return 500


def body_of(exc: Exception) -> dict:
    body: dict = {"error": one_line(str(exc)) or type(exc).__name__}
    if isinstance(exc, LockedError):
        body["kind"] = "locked"
        if isinstance(exc, LockedEdit):
            body["stage"] = exc.stage
    elif isinstance(exc, ProjectBusy):
        body["kind"] = "busy"
    return body


def one_line(text: str) -> str:
    return " ".join(str(text).split())[:500]


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/media/", "/static/")) or path in ("/openapi.json",):
        return False
    return "text/html" in request.headers.get("accept", "") or request.method == "GET"


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    web = getattr(request.app.state, "web", None)
    if web is not None:
        try:
            return web.templates.TemplateResponse(
                request, "error.html", {"status": status, "message": message}, status_code=status
            )
        except Exception:  # the error page itself must never fail
            log.exception("error page failed")
    return HTMLResponse(f"<!doctype html><title>Error</title><p>{_escape(message)}</p>", status_code=status)


def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def respond(request: Request, status: int, body: dict):
    if wants_html(request):
        return error_page(request, status, body["error"])
    return JSONResponse(body, status_code=status)


def install(app: FastAPI) -> None:
    @app.exception_handler(StoryreelError)
    async def _storyreel(request: Request, exc: StoryreelError):
        return respond(request, status_of(exc), body_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError):
        errs = exc.errors()
        first = errs[0] if errs else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "form"))
        msg = first.get("msg", "invalid request")
        return respond(request, 400, {"error": one_line(f"{where}: {msg}" if where else msg)})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = "not found"
        elif exc.status_code == 405:
            detail = "method not allowed"
        return respond(request, exc.status_code, {"error": one_line(detail)})


class CatchAll:
    """Pure ASGI middleware: an unexpected exception becomes a generic 500 (its traceback goes to the log)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def watch(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception:
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            request = Request(scope)
            response = respond(request, 500, {"error": GENERIC})
            await response(scope, receive, send)
