"""The web studio's entry points: ``create_app`` (the FastAPI app) and ``serve`` (``storyreel serve``)."""

from __future__ import annotations

import logging
import os
import sys
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from storyreel.studio import Studio
from storyreel.web import errors
from storyreel.web.api import ROUTERS
from storyreel.web.context import STATIC, Web, make_templates
from storyreel.web.pages import router as pages_router
from storyreel.web.runner import Runner
from storyreel.web.security import LOOPBACK_HOSTS, Gate

log = logging.getLogger("storyreel.web")

DESCRIPTION = (
    "The storyreel studio's REST API. Errors answer a 4xx (5xx only for a bug) with "
    '`{"error": "one line"}`; an edit of a locked stage answers 409 with `kind: locked` and the '
    "`stage`, and is done on a new branch when repeated with `?branch=true`."
)


def create_app(
    data_dir: Path,
    *,
    token: str | None = None,
    allowed_hosts: tuple[str, ...] | None = None,
    poll_interval: float = 0.7,
    config_path: Path | None = None,
) -> FastAPI:
    """The studio app for ``data_dir``. With ``token``, every request must carry it (header or cookie)."""
    data_dir = Path(data_dir)
    studio = Studio(data_dir, config_path=config_path)
    web = Web(
        data_dir=data_dir,
        studio=studio,
        runner=Runner(data_dir, config_path),
        templates=make_templates(),
        poll_interval=poll_interval,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        yield
        web.runner.shutdown(web.studio)

    app = FastAPI(
        title="storyreel studio",
        version="1",
        description=DESCRIPTION,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.web = web
    errors.install(app)
    for r in ROUTERS:
        app.include_router(r)
    app.include_router(pages_router)
    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    app.add_middleware(errors.CatchAll)
    app.add_middleware(Gate, token=token, allowed_hosts=allowed_hosts)
    return app


def serve(data_dir: Path, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the studio. Anything but loopback needs STORYREEL_TOKEN (then every request must carry it)."""
    import uvicorn

    token = os.environ.get("STORYREEL_TOKEN", "").strip() or None
    loopback = host.strip("[]").lower() in ("127.0.0.1", "localhost", "::1")
    if not loopback and not token:
        print(
            f"error: set STORYREEL_TOKEN to serve on {host} "
            "(anything but 127.0.0.1/localhost/::1 needs a token)",
            file=sys.stderr,
        )
        raise SystemExit(2)
    app = create_app(Path(data_dir), token=token, allowed_hosts=None if token else LOOPBACK_HOSTS)
    where = f"http://{'[' + host + ']' if ':' in host else host}:{port}/"
    print(
        f"storyreel studio on {where}" + (" (token required: open /?token=... once)" if token else ""),
        file=sys.stderr,
    )
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=5)
