"""A fake Replicate predictions API under ``/v1``, with output files under ``/files``.

Each prediction walks through ``fake.plan`` one status per read (the create answers with the first); it stays
at the last one, so a plan ending in ``processing`` never finishes. Video models (name holding ``video`` or
``kling``) output an MP4, others a PNG; ``fake.output_shape`` is ``url`` or ``list``.
"""

from __future__ import annotations

import uuid
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
                prediction["step"] = min(prediction["step"] + 1, len(self.plan) - 1)
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
        self.predictions.clear()

    async def _create(self, request: Request, model: str, version: str | None, body: Any = None) -> Any:
        body = body if body is not None else await request.json()
        fault = await self.enter("create", request, body)
        if fault is not None:
            return fault
        pid = uuid.uuid4().hex[:12]
        video = any(word in (model or "") for word in ("video", "kling")) or version == "v" * 64
        self.files[f"{pid}.{'mp4' if video else 'png'}"] = MP4 if video else PNG
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
