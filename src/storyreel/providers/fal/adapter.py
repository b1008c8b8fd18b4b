"""Images and video from the fal queue: submit (once), save the request, poll, fetch the result, download."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from storyreel.config import ModelConfig, Route, aspect_ratio
from storyreel.errors import FatalProviderError, RetryableError
from storyreel.providers.base import Call, ImageRequest, ImageResult, Usage, VideoRequest, VideoResult
from storyreel.providers.fal.api import Status, Submitted
from storyreel.providers.http import (
    LOST,
    BadMedia,
    Http,
    UnconfirmedCreate,
    data_url,
    first_url,
    forget_job,
    record_request,
    save_job,
    saved_job,
    watch_job,
    write_file,
)

STATE_KEY = "fal_request"
IMAGE_INPUTS = {"prompt": "prompt", "size": "image_size", "references": "image_urls"}
VIDEO_INPUTS = {"prompt": "prompt", "first_frame": "image_url", "last_frame": "tail_image_url",
                "duration": "duration", "aspect_ratio": "aspect_ratio"}


class FalAdapter:
    """Local files go up as data URLs (fal accepts them for file inputs)."""

    def __init__(self, name: str, http: Http, models: Callable[[str], ModelConfig], *,
                 poll_interval: float = 1.0, deadline: float = 1800.0) -> None:
        self.name = name
        self.http = http
        self.models = models
        self.poll_interval = poll_interval
        self.deadline = deadline

    def __repr__(self) -> str:
        return f"FalAdapter({self.name!r})"

    def capabilities(self) -> set[str]:
        return {"image", "video:text-to-video", "video:image-to-video", "video:first-last-frame"}

    async def image(self, req: ImageRequest, route: Route, call: Call) -> ImageResult:
        values = {"prompt": req.prompt, "size": {"width": req.width, "height": req.height},
                  "aspect_ratio": aspect_ratio(req.width, req.height),
                  "width": req.width, "height": req.height,
                  "references": [data_url(p) for p in req.references] or None}
        result = await self._run(route, self.models(route.key).build_input(values, IMAGE_INPUTS), call)
        data, mime = await self._output(result, "image", call)
        forget_job(call, STATE_KEY)
        return ImageResult(data=data, mime=mime, usage=Usage(), model=route.key)

    async def video(self, req: VideoRequest, route: Route, call: Call) -> VideoResult:
        settings = self.models(route.key)
        uses_first = req.strategy != "text-to-video" and req.first_frame is not None
        uses_last = req.strategy == "first-last-frame" and req.last_frame is not None
        duration = settings.pick_duration(req.duration)
        values = {"prompt": req.prompt, "duration": duration,
                  "aspect_ratio": aspect_ratio(req.width, req.height, ("16:9", "9:16", "1:1")),
                  "width": req.width, "height": req.height, "fps": req.fps,
                  "first_frame": data_url(req.first_frame) if uses_first else None,
                  "last_frame": data_url(req.last_frame) if uses_last else None}
        result = await self._run(route, settings.build_input(values, VIDEO_INPUTS), call)
        data, mime = await self._output(result, "video", call)
        write_file(req.out_path, data)
        forget_job(call, STATE_KEY)
        return VideoResult(path=req.out_path, strategy=req.strategy, usage=Usage(), model=route.key,
                           note=f"{route.key} returned {mime}, {len(data)} bytes; asked {req.duration:g}s, "
                                f"sent {duration!r}")

    # --- the queued request ---------------------------------------------------------------------------------

    async def _run(self, route: Route, model_input: dict[str, Any], call: Call) -> Any:
        job = saved_job(call, STATE_KEY, route.model) or await self._submit(route, model_input, call)
        try:
            status = await watch_job(
                self.http, call, STATE_KEY, lambda: self._status(job["status_url"]), lambda s: s.finished,
                lambda: self.http.send("PUT", job["cancel_url"], idempotent=False, timeout=10),
                interval=self.poll_interval, deadline=self.deadline)
        except FatalProviderError:
            forget_job(call, STATE_KEY)  # fal no longer knows the request (or refuses us): start afresh
            raise
        if status.error:
            forget_job(call, STATE_KEY)
            kind = f" ({status.error_type})" if status.error_type else ""
            raise RetryableError(f"fal request {job['request_id']} failed{kind}: {status.error[:300]}")
        try:
            return await self.http.get_json(job["response_url"])
        except FatalProviderError:
            forget_job(call, STATE_KEY)  # fal keeps a failed request's error at its response URL
            raise

    async def _submit(self, route: Route, model_input: dict[str, Any], call: Call) -> dict:
        record_request(call, model_input)
        # Not idempotent: a lost answer raises UnconfirmedCreate instead of being sent again (see http.py).
        data = await self.http.json("POST", route.model, json_body=model_input, idempotent=False)
        try:
            submitted = Submitted.model_validate(data)
        except ValidationError:
            message = f"{self.name}: the submit was answered without a request id; {LOST}"
            raise UnconfirmedCreate(message) from None
        job = {"model": route.model, **submitted.model_dump()}
        save_job(call, STATE_KEY, job)
        return job

    async def _status(self, url: str) -> Status:
        data = await self.http.get_json(url + ("&" if "?" in url else "?") + "logs=1")
        try:
            return Status.model_validate(data)
        except ValidationError:
            raise RetryableError(f"{self.name}: status answer has no status") from None

    async def _output(self, result: Any, want: str, call: Call) -> tuple[bytes, str]:
        url = first_url(result)
        try:
            if not url:
                raise BadMedia(f"{self.name} result holds no {want} URL")
            return await self.http.download(url, want)
        except (BadMedia, FatalProviderError):  # not a file of the kind, or gone (expired URLs answer 404)
            forget_job(call, STATE_KEY)
            raise
