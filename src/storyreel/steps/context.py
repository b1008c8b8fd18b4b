"""What a running step is handed: the Film as it stands, its item, its context, and the router to ask providers.

A step never touches HTTP or the store. It asks for text, images, video, speech or music through these methods,
which build the request, pass it to the router with the job's ``Call`` and save media into the project folder.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from storyreel.film.models import Film
from storyreel.providers.base import (
    Call,
    ImageRequest,
    MusicRequest,
    SpeechRequest,
    TextRequest,
    VideoRequest,
)
from storyreel.steps.base import Step
from storyreel.store import files

log = logging.getLogger("storyreel.steps")

FRAME_SIZES = {"16:9": (1920, 1080), "9:16": (1080, 1920), "1:1": (1080, 1080)}
FPS = 24


def frame_size(aspect: str) -> tuple[int, int]:
    return FRAME_SIZES[aspect]


def rules_block(rules: list[str]) -> str:
    if not rules:
        return ""
    return "STORY RULES (obey every one, always):\n" + "\n".join(f"- {r}" for r in rules)


@dataclass
class StepContext:
    step: Step
    item: str | None
    film: Film
    context: dict[str, Any]
    router: Any
    call: Call
    project_dir: Path
    prompts: list[dict] = field(default_factory=list)  # what was sent, stored on the job

    # --- paths ---------------------------------------------------------------------------------------------

    @property
    def size(self) -> tuple[int, int]:
        return frame_size(self.film.inputs.aspect)

    def new_path(self, folder: str, kind: str, name: str, ext: str) -> Path:
        return files.unique_path(self.project_dir / folder, kind, name, ext)

    def rel(self, path: Path) -> str:
        return Path(path).resolve().relative_to(self.project_dir.resolve()).as_posix()

    def abs(self, rel: str | None) -> Path | None:
        return files.inside(self.project_dir, rel) if rel else None

    # --- prompts -------------------------------------------------------------------------------------------

    def system_prompt(self) -> str:
        parts = [self.step.system.strip()]
        rules = self.film.inputs.story_rules
        if rules:
            parts.append(rules_block(rules))
        return "\n\n".join(p for p in parts if p)

    # --- asking providers ----------------------------------------------------------------------------------

    async def ask(self, output: type[BaseModel] | None = None, *, context: dict | None = None,
                  images: list[Path] = ()) -> BaseModel:
        req = TextRequest(step=self.step.name, system=self.system_prompt(), context=context or self.context,
                          output=output or self.step.output, images=list(images))
        self.prompts.append({"kind": "text", "system": req.system, "user": req.user_prompt(),
                             "schema": req.output.__name__})
        result = await self.router.text(self.step.name, req, self.call)
        return result.output

    async def image(self, *, prompt: str, spec: dict, kind: str, name: str,
                    references: list[str] = (), size: tuple[int, int] | None = None) -> str:
        w, h = size or self.size
        refs = [p for p in (self.abs(r) for r in references) if p is not None and p.exists()]
        req = ImageRequest(step=self.step.name, prompt=prompt, width=w, height=h, references=refs, spec=spec)
        self.prompts.append({"kind": "image", "prompt": prompt, "references": list(references), "size": [w, h]})
        result = await self.router.image(self.step.name, req, self.call)
        ext = {"image/jpeg": "jpg", "image/webp": "webp"}.get(result.mime, "png")
        path = self.new_path("images", kind, name, ext)
        files.atomic_write(path, result.data)
        return self.rel(path)

    async def video(self, *, prompt: str, strategy: str, duration: float, name: str, first: str | None,
                    last: str | None, spec: dict) -> tuple[str, str, str]:
        w, h = self.size
        out = self.new_path("videos", "clip", name, "mp4")
        req = VideoRequest(step=self.step.name, prompt=prompt, strategy=strategy, duration=duration, fps=FPS,
                           width=w, height=h, out_path=out, first_frame=self.abs(first),
                           last_frame=self.abs(last), spec=spec)
        self.prompts.append({"kind": "video", "prompt": prompt, "strategy": strategy, "duration": duration,
                             "first": first, "last": last})
        result = await self.router.video(self.step.name, req, self.call)
        return self.rel(result.path), result.strategy, result.note

    async def speech(self, *, text: str, voice: str, name: str):
        out = self.new_path("audio", "line", name, "wav")
        self.prompts.append({"kind": "speech", "text": text, "voice": voice})
        return await self.router.speech(self.step.name, SpeechRequest(text=text, voice=voice, out_path=out),
                                        self.call)

    async def music(self, *, cues, duration: float, name: str, seed: int):
        out = self.new_path("audio", "music", name, "wav")
        self.prompts.append({"kind": "music", "cues": [c.__dict__ for c in cues], "duration": duration})
        return await self.router.music(self.step.name, MusicRequest(cues=cues, duration=duration, out_path=out,
                                                                    seed=seed), self.call)
