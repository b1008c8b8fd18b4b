"""A fake OpenAI-compatible chat completions server in OpenRouter's dialect (``/api/v1/chat/completions``).

Text answers come from ``fake.answer`` (a dict sent as JSON content, or a callable of the request body
returning the content string). Image requests (``modalities`` present) answer in the shape
``fake.image_shape``: ``images`` (``message.images[].image_url.url``), ``string`` (``image_url`` as a plain
string), ``content`` (the data URL inside ``content``) or ``empty``. Image requests are counted and take
faults under ``fake.image_route`` ("chat" unless told, e.g. "image" to tell them apart from text requests).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from fakes import PNG_DATA_URL, FakeServer

BASE_PATH = "/api/v1"


def completion(content: Any = "", *, finish_reason: str = "stop", images: list | None = None,
               cost: float | None = 0.001, model: str = "fake/model") -> dict[str, Any]:
    """A chat.completion body as OpenRouter sends it."""
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None, "reasoning": None}
    if images is not None:
        message["images"] = images
    usage: dict[str, Any] = {"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46,
                             "prompt_tokens_details": {"cached_tokens": 0},
                             "completion_tokens_details": {"reasoning_tokens": 0}}
    if cost is not None:
        usage["cost"] = cost
    return {"id": "gen-1", "provider": "Fake", "model": model, "object": "chat.completion",
            "created": int(time.time()),
            "choices": [{"index": 0, "finish_reason": finish_reason, "native_finish_reason": finish_reason,
                         "message": message}],
            "usage": usage}


class ChatFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.answer: dict[str, Any] | Callable[[dict], str] = {"title": "A title", "beats": ["one", "two"]}
        self.image_shape = "images"
        self.cost: float | None = 0.001
        self.require_key: str | None = None  # when set, other keys get a 401 that echoes the key sent
        self.image_route = "chat"

        @self.app.post(BASE_PATH + "/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            with self.track():
                route = self.image_route if body.get("modalities") else "chat"
                fault = await self.enter(route, request, body)
                if fault is not None:
                    return fault
                key = request.headers.get("authorization", "").removeprefix("Bearer ")
                if self.require_key is not None and key != self.require_key:
                    error = {"code": 401, "message": f"Incorrect API key provided: {key}"}
                    return JSONResponse({"error": error}, status_code=401)
                if body.get("modalities"):
                    return self._image_answer(body)
                content = self.answer(body) if callable(self.answer) else json.dumps(self.answer)
                return completion(content, cost=self.cost, model=body.get("model", ""))

    def reset(self) -> None:
        super().reset()
        self.answer = {"title": "A title", "beats": ["one", "two"]}
        self.image_shape = "images"
        self.cost = 0.001
        self.require_key = None
        self.image_route = "chat"

    def _image_answer(self, body: dict) -> dict[str, Any]:
        model = body.get("model", "")
        if self.image_shape == "images":
            image = {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}
            return completion("", images=[image], model=model)
        if self.image_shape == "string":
            return completion("", images=[{"type": "image_url", "image_url": PNG_DATA_URL}], model=model)
        if self.image_shape == "content":
            return completion(f"Here it is: {PNG_DATA_URL}", model=model)
        return completion("", model=model)
