"""A fake fal queue: submit ``POST /{app}[/{path}]``, then status, result and cancel at the returned URLs.

Like the real queue the returned URLs drop the endpoint sub-path (``/{owner}/{app}/requests/{id}...``). Each
request walks through ``fake.plan`` one status per status read and stays at the last. ``fake.fail_with`` makes
COMPLETED carry an error.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from fakes import MP4, PNG, FakeServer, serve_file


class FalFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.plan = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.fail_with: str | None = None
        self.jobs: dict[str, dict[str, Any]] = {}
        self.files = serve_file(self.app, self)

        @self.app.get("/{base:path}/requests/{rid}/status")
        async def status(base: str, rid: str, request: Request) -> Any:
            fault = await self.enter("status", request)
            if fault is not None:
                return fault
            job = self.jobs.get(rid)
            if job is None:
                return JSONResponse({"detail": "Request not found"}, status_code=404)
            if job["status"] != "CANCELLED":
                job["step"] = min(job["step"] + 1, len(self.plan) - 1)
                job["status"] = self.plan[job["step"]]
            answer: dict[str, Any] = {"status": job["status"], "request_id": rid,
                                      "response_url": f"{self.url}/{base}/requests/{rid}"}
            if job["status"] == "IN_QUEUE":
                answer["queue_position"] = 0
            if job["status"] == "COMPLETED":
                answer["logs"] = [{"message": "done", "level": "INFO"}]
                if self.fail_with:
                    answer["error"], answer["error_type"] = self.fail_with, "runner_error"
            return JSONResponse(answer, status_code=200 if job["status"] == "COMPLETED" else 202)

        @self.app.get("/{base:path}/requests/{rid}")
        async def result(base: str, rid: str, request: Request) -> Any:
            fault = await self.enter("result", request)
            if fault is not None:
                return fault
            job = self.jobs[rid]
            url = f"{self.url}/files/{job['file']}"
            if job["video"]:
                return {"video": {"url": url, "content_type": "video/mp4", "file_size": len(MP4)}}
            return {"images": [{"url": url, "content_type": "image/png", "width": 2, "height": 2}], "seed": 1}

        @self.app.put("/{base:path}/requests/{rid}/cancel")
        async def cancel(base: str, rid: str, request: Request) -> Any:
            fault = await self.enter("cancel", request)
            if fault is not None:
                return fault
            self.jobs[rid]["status"] = "CANCELLED"
            return JSONResponse({"status": "CANCELLATION_REQUESTED"}, status_code=202)

        @self.app.post("/{app_path:path}")
        async def submit(app_path: str, request: Request) -> Any:
            body = await request.json()
            fault = await self.enter("submit", request, body)
            if fault is not None:
                return fault
            rid = str(uuid.uuid4())
            base = "/".join(app_path.split("/")[:2])
            video = "video" in app_path
            name = f"{rid}.{'mp4' if video else 'png'}"
            self.files[name] = MP4 if video else PNG
            self.jobs[rid] = {"step": 0, "status": self.plan[0], "video": video, "file": name, "input": body}
            root = f"{self.url}/{base}/requests/{rid}"
            return {"request_id": rid, "response_url": root, "status_url": f"{root}/status",
                    "cancel_url": f"{root}/cancel", "queue_position": 0}

    def reset(self) -> None:
        super().reset()
        self.plan = ["IN_QUEUE", "IN_PROGRESS", "COMPLETED"]
        self.fail_with = None
        self.jobs.clear()
