"""Clips, per shot. A clip that starts from its own keyframe starts at once; a clip that continues from the
previous clip's last frame waits for exactly that clip (pipelined chains, no barrier)."""

from __future__ import annotations

import asyncio

from storyreel.errors import InvariantError
from storyreel.film import dto
from storyreel.film.invariants import check_chains
from storyreel.film.models import Clip, Film
from storyreel.media import conform, video
from storyreel.steps.base import Read, Step
from storyreel.steps.context import FPS, StepContext

ClipOut = dto.strict(Clip, exclude={"shot_id"}, name="ClipOut")


async def _clip(ctx: StepContext) -> dict:
    shot = ctx.context["shot"]
    prev = ctx.context["previous_clip"]
    first, last = shot["first_frame_image"], shot["last_frame_image"]
    strategy = shot["clip_strategy"]
    spec = {"camera_move": shot["camera_move"], "keyframe": first}
    start_from = None
    if strategy == "continue":
        check_chains(ctx.film)  # the film's first shot cannot continue from anything: an error naming it
        if not prev or not prev.get("path"):
            raise InvariantError(f"shot {ctx.item} continues from a previous clip but has none before it")
        start_from = ctx.new_path("images", "lastframe", ctx.item, "png")
        video.last_frame(ctx.abs(prev["path"]), start_from)
        spec["start_from"] = ctx.rel(start_from)
    path, used, note = await ctx.video(prompt=shot["clip_prompt"] or shot["action"], strategy=strategy,
                                       duration=shot["duration"], name=ctx.item,
                                       first=spec.get("start_from") if strategy == "continue" else first,
                                       last=last, spec=spec)
    info = video.probe(ctx.abs(path))
    w, h = ctx.size
    frames = max(1, round(shot["duration"] * FPS))
    if conform.needs_conform(info, width=w, height=h, fps=FPS, frames=frames):
        # hosted models answer with their own length, rate and size: the cut needs the film's
        fitted = ctx.new_path("videos", "clip", f"{ctx.item}_conformed", "mp4")
        done = await asyncio.to_thread(conform.conform, ctx.abs(path), fitted, width=w, height=h, fps=FPS,
                                       frames=frames)
        note = "; ".join(x for x in (note, f"conformed: {done}") if x)
        path = ctx.rel(fitted)
        info = video.probe(fitted)
    return {"path": path, "duration": round(info["duration"], 4), "strategy": used, "note": note}


def _apply_clip(film: Film, item: str, out: dict) -> None:
    clips = [c for c in film.clips or [] if c.shot_id != item]
    clips.append(Clip(shot_id=item, **out))
    order = {s.id: i for i, s in enumerate(film.shots or [])}
    film.clips = sorted(clips, key=lambda c: order.get(c.shot_id, 1 << 30))


STEPS = [
    Step("clip", "clips", "video", "shot",
         (Read("shots", name="shot", fields=("duration", "camera_move", "clip_strategy", "clip_prompt", "action",
                                             "first_frame.image", "last_frame.image")),
          Read("clips", of="chain", name="previous_clip", fields=("path",)), Read("inputs.aspect")),
         ("clips",), ClipOut, _clip, _apply_clip, doc="The shot's clip."),
]
