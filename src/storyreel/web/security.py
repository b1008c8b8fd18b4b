"""The gate in front of every request (pure ASGI, so server-sent events stream through untouched).

* With a token, every request carries it: ``Authorization: Bearer TOKEN`` or the ``token`` cookie, which
  visiting any page once with ``?token=TOKEN`` sets (then redirects to the same page without it).
* Without a token the server listens on loopback only; ``allowed_hosts`` then refuses other Host headers
  (DNS rebinding).
* A state-changing request whose Origin is another site is refused (cross-site request forgery).
* Every response carries a strict Content-Security-Policy: all scripts and styles are the app's own files.
"""

from __future__ import annotations

import hmac
import json
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1", "[::1]")
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


def host_only(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Gate:
    def __init__(self, app, token: str | None = None, allowed_hosts: tuple[str, ...] | None = None):
        self.app = app
        self.token = token or None
        self.allowed_hosts = tuple(h.lower() for h in allowed_hosts) if allowed_hosts else None

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "/")
        method = scope.get("method", "GET")
        host = headers.get("host", "")
        if self.allowed_hosts is not None and host_only(host) not in self.allowed_hosts:
            return await _deny(send, 400, "this server answers on localhost only", path)
        origin = headers.get("origin")
        if method not in SAFE_METHODS and origin:
            if origin == "null" or urlsplit(origin).netloc.lower() != host.lower():
                return await _deny(send, 403, "cross-site request refused", path)
        if self.token is not None:
            query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
            given = next((v for k, v in query if k == "token"), None)
            if given is not None and method in ("GET", "HEAD"):
                if not self._ok(given):
                    return await _deny(send, 401, "wrong token", path)
                rest = urlencode([(k, v) for k, v in query if k != "token"])
                return await _redirect(send, path + (f"?{rest}" if rest else ""), given)
            if not (self._ok(_bearer(headers.get("authorization", ""))) or self._ok(_cookie(headers))):
                return await _deny(
                    send,
                    401,
                    "this studio needs its token: send 'Authorization: Bearer TOKEN' "
                    "or open /?token=TOKEN once",
                    path,
                )

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = dict(message)
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in HEADERS if h[0] not in have
                ]
            await send(message)

        return await self.app(scope, receive, send_with_headers)

    def _ok(self, given: str | None) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())


def _bearer(value: str) -> str | None:
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def _cookie(headers: dict[str, str]) -> str | None:
    raw = headers.get("cookie")
    if not raw:
        return None
    jar = SimpleCookie()
    try:
        jar.load(raw)
    except Exception:
        return None
    return unquote(jar["token"].value) if "token" in jar else None


async def _deny(send, status: int, message: str, path: str) -> None:
    if path.startswith("/api/") or path.startswith("/media/") or path == "/openapi.json":
        body, ctype = json.dumps({"error": message}).encode(), b"application/json"
    else:
        text = message.replace("&", "&amp;").replace("<", "&lt;")
        page = f"<!doctype html><meta charset=utf-8><title>storyreel</title><h1>storyreel</h1><p>{text}</p>"
        body = page.encode()
        ctype = b"text/html; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", ctype), (b"content-length", str(len(body)).encode()), *HEADERS],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send, location: str, token: str) -> None:
    cookie = f"token={quote(token, safe='')}; Path=/; HttpOnly; SameSite=Strict"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", location.encode("latin-1")),
                (b"set-cookie", cookie.encode("latin-1")),
                (b"content-length", b"0"),
                *HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})
