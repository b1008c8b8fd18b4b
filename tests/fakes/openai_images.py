"""A fake OpenAI Images API: ``/v1/images/generations`` (JSON) and ``/v1/images/edits`` (multipart)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import Request

from fakes import PNG_B64, FakeServer

BASE_PATH = "/v1"


class ImagesFake(FakeServer):
    def __init__(self) -> None:
        super().__init__()
        self.b64 = PNG_B64

        @self.app.post(BASE_PATH + "/images/generations")
        async def generations(request: Request) -> Any:
            body = await request.json()
            return await self._answer("generations", request, body)

        @self.app.post(BASE_PATH + "/images/edits")
        async def edits(request: Request) -> Any:
            form = await request.form()
            body: dict[str, Any] = {}
            for name, value in form.multi_items():
                if hasattr(value, "read"):
                    size = len(await value.read())
                    body.setdefault(name, []).append({"filename": value.filename, "size": size})
                else:
                    body[name] = value
            return await self._answer("edits", request, body)

    def reset(self) -> None:
        super().reset()
        self.b64 = PNG_B64

    async def _answer(self, route: str, request: Request, body: dict) -> Any:
        fault = await self.enter(route, request, body)
        if fault is not None:
            return fault
        data = [{"b64_json": self.b64, "revised_prompt": None}] if self.b64 else []
        return {"created": int(time.time()), "data": data,
                "usage": {"input_tokens": 50, "output_tokens": 4000, "total_tokens": 4050}}
