"""A fake Replicate predictions API under ``/v1``, with output files under ``/files``.

Each prediction walks through ``fake.plan`` one status per read (the create answers with the first); it stays
at the last one, so a plan ending in ``processing`` never finishes. Video models (name holding ``video`` or
``kling``) output an MP4, others a PNG; ``fake.output_shape`` is ``url`` or ``list``.

Options: ``fake.video`` (a callable of the prediction's input returning MP4 bytes, run in a thread) makes the
video output real instead of the fixed stub; ``fake.hold = True`` keeps every prediction at ``processing`` (or
earlier) until ``fake.release()``; ``fake.created()`` lists the inputs of the predictions created.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from fakes import MP4, PNG, FakeServer, serve_file

BASE_PATH = "/v1"


class ReplicateFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.plan = ["starting", "processing", "succeeded"]
        self.output_shape = "url"
        self.error = "CUDA out of memory"
        self.video: Callable[[dict[str, Any]], bytes] | None = None
        self.hold = False
        self.predictions: dict[str, dict[str, Any]] = {}
        self.files = serve_file(self.app, self)

        @self.app.post(BASE_PATH + "/models/{owner}/{name}/predictions")
        async def create_for_model(owner: str, name: str, request: Request) -> Any:
            return await self._create(request, f"{owner}/{name}", None)

        @self.app.post(BASE_PATH + "/predictions")
        async def create_for_version(request: Request) -> Any:
            body = await request.json()
            return await self._create(request, "", body.get("version"), body)

        @self.app.get(BASE_PATH + "/predictions/{pid}")
        async def get(pid: str, request: Request) -> Any:
            fault = await self.enter("get", request)
            if fault is not None:
                return fault
            prediction = self.predictions.get(pid)
            if prediction is None:
                problem = {"title": "Not found", "status": 404, "detail": "Not found."}
                return JSONResponse(problem, status_code=404)
            if prediction["public"]["status"] != "canceled":
                last = len(self.plan) - 1
                if self.hold and "processing" in self.plan:
                    last = min(last, self.plan.index("processing"))
                prediction["step"] = min(prediction["step"] + 1, max(last, prediction["step"]))
                self._set_status(prediction, self.plan[prediction["step"]])
            return prediction["public"]

        @self.app.post(BASE_PATH + "/predictions/{pid}/cancel")
        async def cancel(pid: str, request: Request) -> Any:
            fault = await self.enter("cancel", request)
            if fault is not None:
                return fault
            prediction = self.predictions[pid]
            self._set_status(prediction, "canceled")
            return prediction["public"]

    def reset(self) -> None:
        super().reset()
        self.plan = ["starting", "processing", "succeeded"]
        self.output_shape = "url"
        self.video = None
        self.hold = False
        self.predictions.clear()

    def release(self) -> None:
        """Let held predictions go on through the plan at their next read."""
        self.hold = False

    def created(self) -> list[dict[str, Any]]:
        """The inputs of the predictions created, in order of creation."""
        return [p["public"]["input"] for p in self.predictions.values()]

    async def _create(self, request: Request, model: str, version: str | None, body: Any = None) -> Any:
        body = body if body is not None else await request.json()
        fault = await self.enter("create", request, body)
        if fault is not None:
            return fault
        pid = uuid.uuid4().hex[:12]
        video = any(word in (model or "") for word in ("video", "kling")) or version == "v" * 64
        data = PNG
        if video:
            data = MP4 if self.video is None else await asyncio.to_thread(self.video, body.get("input") or {})
        self.files[f"{pid}.{'mp4' if video else 'png'}"] = data
        public = {"id": pid, "model": model, "version": version or "hash", "input": body.get("input"),
                  "logs": "", "output": None, "error": None, "status": "starting", "metrics": {},
                  "created_at": "2026-01-01T00:00:00Z",
                  "urls": {"get": f"{self.url}{BASE_PATH}/predictions/{pid}",
                           "cancel": f"{self.url}{BASE_PATH}/predictions/{pid}/cancel"}}
        prediction = {"step": 0, "public": public, "file": f"{pid}.{'mp4' if video else 'png'}"}
        self.predictions[pid] = prediction
        self._set_status(prediction, self.plan[0])
        return JSONResponse(public, status_code=201)

    def _set_status(self, prediction: dict[str, Any], status: str) -> None:
        public = prediction["public"]
        public["status"] = status
        if status == "succeeded":
            url = f"{self.url}/files/{prediction['file']}"
            public["output"] = [url] if self.output_shape == "list" else url
            public["metrics"] = {"predict_time": 12.5}
        elif status == "failed":
            public["error"] = self.error
