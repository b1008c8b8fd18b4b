"""Protocol-faithful fake provider servers for tests, served over real HTTP on 127.0.0.1.

Each fake is a FastAPI app run by uvicorn in a background thread on a free port (``with ChatFake().running()
as fake: ...``). Fakes count what they receive, remember request bodies and headers, and take injected
faults::

    fake.inject("chat", status=429, headers={"Retry-After": "2"})      # the next chat request gets a 429
    fake.inject("chat", delay=1.0)                                       # ... or answers slowly
    fake.inject("chat", json={"error": {"code": 502, "message": "x"}})   # ... or this body with HTTP 200

Faults are consumed in order, one per matching request.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from storyreel.providers.base import Usage

SECRET = "sk-test-SECRET123"


def _png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PNG = _png()
PNG_B64 = base64.b64encode(PNG).decode()
PNG_DATA_URL = "data:image/png;base64," + PNG_B64
# The start of an MP4: an ftyp box, then filler (enough for magic-byte checks; no decoder reads it here).
MP4 = struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00isomiso2" + b"\x00" * 2000


@dataclass
class Fault:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    body: bytes | None = None
    delay: float = 0.0
    passthrough: bool = False  # only delay, then answer normally


class FakeServer:
    """Base of the fakes: the uvicorn thread, counters, recorded requests and the fault queue."""

    def __init__(self) -> None:
        self.app = FastAPI()
        self.counts: Counter[str] = Counter()
        self.requests: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.arrivals: list[float] = []
        self.delay = 0.0  # every answer waits this long (to make calls overlap)
        self._faults: dict[str, deque[Fault]] = {}
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self) -> str:
        config = uvicorn.Config(self.app, host="127.0.0.1", port=0, log_level="error", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=1)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        self.start()
        try:
            yield self
        finally:
            self.stop()

    def reset(self) -> None:
        self.counts.clear()
        self.requests.clear()
        self._faults.clear()
        self.arrivals.clear()
        self.max_in_flight = 0
        self.delay = 0.0

    # --- faults and bookkeeping -----------------------------------------------------------------------------

    def inject(self, route: str, *, times: int = 1, **kw: Any) -> None:
        for _ in range(times):
            self._faults.setdefault(route, deque()).append(Fault(**kw))

    def pending_faults(self, route: str) -> int:
        return len(self._faults.get(route, ()))

    async def enter(self, route: str, request: Request, body: Any = None) -> Response | None:
        """Count and record a request; answer it with the next fault for ``route`` if there is one."""
        self.counts[route] += 1
        self.arrivals.append(time.monotonic())
        self.requests.append({"route": route, "path": request.url.path, "method": request.method,
                              "headers": dict(request.headers), "body": body})
        if self.delay:
            await asyncio.sleep(self.delay)
        queue = self._faults.get(route)
        if not queue:
            return None
        fault = queue.popleft()
        if fault.delay:
            await asyncio.sleep(fault.delay)
        if fault.passthrough:
            return None
        if fault.body is not None:
            return Response(fault.body, status_code=fault.status, headers=fault.headers)
        return JSONResponse(fault.json if fault.json is not None else {"error": {"message": "injected"}},
                            status_code=fault.status, headers=fault.headers)

    def track(self) -> _InFlight:
        return _InFlight(self)

    def bodies(self, route: str) -> list[Any]:
        return [r["body"] for r in self.requests if r["route"] == route]

    def headers(self, route: str) -> list[dict[str, str]]:
        return [r["headers"] for r in self.requests if r["route"] == route]


class _InFlight:
    def __init__(self, server: FakeServer) -> None:
        self.server = server

    def __enter__(self) -> None:
        self.server.in_flight += 1
        self.server.max_in_flight = max(self.server.max_in_flight, self.server.in_flight)

    def __exit__(self, *exc: object) -> None:
        self.server.in_flight -= 1


class RecordingCall:
    """A Call that keeps everything: attempts with their requests, and every state saved (as snapshots)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state: dict[str, Any] = dict(state or {})
        self.saved: list[dict[str, Any]] = []
        self.attempts: list[dict[str, Any]] = []

    def save_state(self) -> None:
        self.saved.append(dict(self.state))

    def attempt(self, *, model: str, ok: bool, error: str = "", usage: Usage | None = None,
                request: dict | None = None) -> None:
        self.attempts.append({"model": model, "ok": ok, "error": error, "usage": usage, "request": request})


class NoSleep:
    """An injectable ``sleep`` that records the delays asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def serve_file(app: FastAPI, server: FakeServer, route: str = "file") -> dict[str, bytes]:
    """Add ``GET /files/{name}`` serving the returned dict's bytes; faults apply under ``route``."""
    files: dict[str, bytes] = {}

    @app.get("/files/{name}")
    async def get_file(name: str, request: Request) -> Response:
        fault = await server.enter(route, request)
        if fault is not None:
            return fault
        data = files.get(name)
        if data is None:
            return JSONResponse({"detail": "not found"}, status_code=404)
        return Response(data, media_type="application/octet-stream")

    return files
