"""Answers that let the fake providers carry a whole film: structured text from the offline draft writer,
and real H.264 clips for video predictions.

``ChatFake().answer = draft_answer`` answers each ``response_format.json_schema`` with what the ``local``
provider would have written for that step (the schema's ``name`` is the step, the user message is the step's
context), so every answer validates against the schema the step sent. ``ReplicateFake().video = ClipMaker()``
answers each video prediction with a real MP4 of the duration asked for, at the film's frame size.
"""

from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path
from typing import Any

from fakes import PNG
from storyreel.media import video
from storyreel.providers.local import writer


def user_context(body: dict[str, Any]) -> dict[str, Any]:
    """The step's context: the JSON of the (last) user message, text part if it has parts."""
    message = [m for m in body["messages"] if m["role"] == "user"][-1]
    content = message["content"]
    if isinstance(content, list):
        content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
    return json.loads(content)


def draft_answer(body: dict[str, Any]) -> str:
    """The content a model would answer a structured-output request with: the offline draft for the step."""
    step = body["response_format"]["json_schema"]["name"]
    return json.dumps(writer.draft(step, user_context(body)), ensure_ascii=False)


class ClipMaker:
    """MP4 bytes for a video prediction's input: ``duration`` seconds (else ``default``) at
    ``width``x``height`` and ``fps``; rendered once per duration and kept."""

    def __init__(self, width: int = 1920, height: int = 1080, fps: int = 24, default: float = 5.0) -> None:
        self.width, self.height, self.fps, self.default = width, height, fps, default
        self.made: list[float] = []  # durations asked for, one per prediction
        self._cache: dict[float, bytes] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="fake-clips-"))
        (self._dir / "frame.png").write_bytes(PNG)

    def __call__(self, model_input: dict[str, Any]) -> bytes:
        seconds = float(model_input.get("duration") or self.default)
        with self._lock:
            self.made.append(seconds)
            if seconds not in self._cache:
                out = self._dir / f"clip-{len(self._cache)}.mp4"
                video.render_clip(out, first=self._dir / "frame.png", last=None, duration=seconds,
                                  width=self.width, height=self.height, fps=self.fps, preset="ultrafast")
                self._cache[seconds] = out.read_bytes()
            return self._cache[seconds]
