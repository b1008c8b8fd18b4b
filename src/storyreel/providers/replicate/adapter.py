"""Images and video from Replicate predictions: create (once), save the id, poll, download at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from storyreel.config import ModelConfig, Route, aspect_ratio
from storyreel.errors import FatalProviderError, RetryableError
from storyreel.providers.base import Call, ImageRequest, ImageResult, Usage, VideoRequest, VideoResult
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
from storyreel.providers.replicate.api import CreatePrediction, Prediction, create_path

STATE_KEY = "replicate_prediction"
# Field names most Replicate models use; ``[models."replicate:..."] inputs`` overrides them per model.
IMAGE_INPUTS = {"prompt": "prompt", "aspect_ratio": "aspect_ratio", "references": "image_input"}
VIDEO_INPUTS = {"prompt": "prompt", "first_frame": "start_image", "last_frame": "end_image",
                "duration": "duration", "aspect_ratio": "aspect_ratio"}


class ReplicateAdapter:
    """Local files go up as data URLs (Replicate accepts them as file inputs)."""

    def __init__(self, name: str, http: Http, models: Callable[[str], ModelConfig], *, wait: int = 60,
                 poll_interval: float = 1.0, deadline: float = 1800.0, webhook: str | None = None) -> None:
        self.name = name
        self.http = http
        self.models = models
        self.wait = wait
        self.poll_interval = poll_interval
        self.deadline = deadline
        self.webhook = webhook

    def __repr__(self) -> str:
        return f"ReplicateAdapter({self.name!r})"

    def capabilities(self) -> set[str]:
        return {"image", "video:text-to-video", "video:image-to-video", "video:first-last-frame"}

    async def image(self, req: ImageRequest, route: Route, call: Call) -> ImageResult:
        settings = self.models(route.key)
        values = {"prompt": req.prompt, "aspect_ratio": aspect_ratio(req.width, req.height),
                  "width": req.width, "height": req.height,
                  "references": [data_url(p) for p in req.references] or None}
        prediction = await self._run(route, settings.build_input(values, IMAGE_INPUTS), call)
        data, mime = await self._output(prediction, "image", call)
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
        prediction = await self._run(route, settings.build_input(values, VIDEO_INPUTS), call)
        data, mime = await self._output(prediction, "video", call)
        write_file(req.out_path, data)
        forget_job(call, STATE_KEY)
        took = (prediction.metrics or {}).get("predict_time")
        note = f"{route.key} returned {mime}, {len(data)} bytes; asked {req.duration:g}s, sent {duration!r}"
        if isinstance(took, int | float):
            note += f", predict time {took:.1f}s"
        return VideoResult(path=req.out_path, strategy=req.strategy, usage=Usage(), model=route.key,
                           note=note)

    # --- the prediction -------------------------------------------------------------------------------------

    async def _run(self, route: Route, model_input: dict[str, Any], call: Call) -> Prediction:
        job = saved_job(call, STATE_KEY, route.model)
        prediction = await self._resume(job, call) if job else None
        if prediction is None:
            prediction = await self._create(route, model_input, call)
        get_url = prediction.urls.get or f"predictions/{prediction.id}"
        cancel_url = prediction.urls.cancel or f"predictions/{prediction.id}/cancel"
        if not prediction.finished:
            prediction = await watch_job(
                self.http, call, STATE_KEY, lambda: self._get(get_url), lambda p: p.finished,
                lambda: self.http.send("POST", cancel_url, idempotent=False, timeout=10),
                interval=self.poll_interval, deadline=self.deadline)
        if prediction.status == "succeeded":
            return prediction
        forget_job(call, STATE_KEY)
        if prediction.status == "canceled":
            raise FatalProviderError(f"prediction {prediction.id} was canceled")
        reason = str(prediction.error or "no reason given").replace("\n", " ")[:300]
        raise RetryableError(f"prediction {prediction.id} failed: {reason}")

    async def _create(self, route: Route, model_input: dict[str, Any], call: Call) -> Prediction:
        path, version = create_path(route.model)
        body = CreatePrediction(version=version, input=model_input, webhook=self.webhook,
                                webhook_events_filter=["completed"] if self.webhook else None).body()
        record_request(call, body)
        # Not idempotent: a lost answer raises UnconfirmedCreate instead of being sent again (see http.py).
        data = await self.http.json("POST", path, json_body=body, headers={"Prefer": f"wait={self.wait}"},
                                    timeout=self.http.timeout + self.wait, idempotent=False)
        try:
            prediction = Prediction.model_validate(data)
        except ValidationError:
            message = f"{self.name}: the create was answered without a prediction id; {LOST}"
            raise UnconfirmedCreate(message) from None
        save_job(call, STATE_KEY, {"id": prediction.id, "model": route.model,
                                   "get": prediction.urls.get, "cancel": prediction.urls.cancel})
        return prediction

    async def _resume(self, job: dict, call: Call) -> Prediction | None:
        """The saved prediction as it stands now; None when Replicate no longer knows it."""
        try:
            return await self._get(job.get("get") or f"predictions/{job['id']}")
        except FatalProviderError as exc:
            if "HTTP 404" not in str(exc):
                raise
            forget_job(call, STATE_KEY)
            return None

    async def _get(self, url: str) -> Prediction:
        data = await self.http.get_json(url)
        try:
            return Prediction.model_validate(data)
        except ValidationError:
            raise RetryableError(f"{self.name}: poll answer is not a prediction") from None

    async def _output(self, prediction: Prediction, want: str, call: Call) -> tuple[bytes, str]:
        """The output file, downloaded now. A broken download keeps the saved prediction, so the next attempt
        fetches the same output again without paying; an output that is no file of the kind forgets it."""
        url = first_url(prediction.output)
        try:
            if not url:
                raise BadMedia(f"prediction {prediction.id} succeeded without a {want} URL in its output")
            return await self.http.download(url, want)
        except (BadMedia, FatalProviderError):  # not a file of the kind, or gone (expired URLs answer 404)
            forget_job(call, STATE_KEY)
            raise
