"""Runs: start and stop, status and plan, and live progress as server-sent events.

``GET /api/projects/{name}/events`` polls the project's snapshot (``Studio.status``/``plan`` as the pages show
them) every ``poll_interval`` seconds and sends it as an ``event: status`` whenever it changes (and a comment
now and then to keep the connection open). When no run is active — none in this server, and ``Studio.status``
says the project is not running — it sends ``event: end`` with the last snapshot and closes. A run goes on
without any listener; a page that comes back later simply opens the stream again.
"""

from __future__ import annotations

import asyncio
import json
import time

from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from storyreel.web import overview
from storyreel.web.actions import check_stage
from storyreel.web.context import Web, get_web

router = APIRouter(prefix="/api/projects", tags=["runs"])

KEEPALIVE = 15.0


class RunBody(BaseModel):
    until: str | None = Field(
        None, description="Stop after this stage (story, beats, ... cut); all when empty."
    )


@router.post(
    "/{name}/run", status_code=202, summary="Start a run in the background (409 when already running)"
)
def start_run(name: str, body: RunBody | None = None, web: Web = Depends(get_web)) -> dict:
    until = body.until if body and body.until else None
    if until:
        check_stage(until)
    info = web.runner.start(web.studio, name, until)
    return {"project": name, "state": info.state, "until": until}


@router.post("/{name}/stop", summary="Ask the running run to stop (it stops within a few seconds)")
def stop_run(name: str, web: Web = Depends(get_web)) -> dict:
    return {"project": name, "stopping": web.runner.stop(web.studio, name)}


@router.get("/{name}/status", summary="Studio.status plus the stages' states and the run")
def get_status(name: str, web: Web = Depends(get_web)) -> dict:
    status = web.studio.status(name)
    snap = overview.snapshot(web.studio, web.runner, name)
    return {**status, **snap}


@router.get("/{name}/plan", summary="Every node of the plan with its state")
def get_plan(name: str, web: Web = Depends(get_web)) -> list[dict]:
    return web.studio.plan(name)


@router.get("/{name}/nodes/{node}", summary="What a node did: prompts, model, output, error")
def get_node(name: str, node: str, web: Web = Depends(get_web)) -> dict:
    return web.studio.show(name, node)


def _sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


@router.get(
    "/{name}/events",
    summary="Live progress (text/event-stream): 'status' on change, 'end' when done",
    response_class=StreamingResponse,
)
async def events(name: str, request: Request, web: Web = Depends(get_web)) -> StreamingResponse:
    first = await run_in_threadpool(overview.snapshot, web.studio, web.runner, name)  # 404 before streaming

    async def stream():
        snap, last, last_sent = first, None, time.monotonic()
        yield "retry: 3000\n\n"
        while True:
            if snap != last:
                yield _sse("status", snap)
                last, last_sent = snap, time.monotonic()
            if not snap["active"]:
                yield _sse("end", snap)
                return
            if time.monotonic() - last_sent > KEEPALIVE:
                yield ": keepalive\n\n"
                last_sent = time.monotonic()
            await asyncio.sleep(web.poll_interval)
            if await request.is_disconnected():
                return
            snap = await run_in_threadpool(overview.snapshot, web.studio, web.runner, name)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
