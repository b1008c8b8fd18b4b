"""The shot list, per scene (creates the scene's shots). Shot lengths fill the scene's planned length, so the
shots of the film add up to its duration; every dialogue line of the scene is carried by exactly one shot."""

from __future__ import annotations

from pydantic import model_validator

from storyreel.film import dto
from storyreel.film.models import Film, Shot
from storyreel.steps.base import Read, Step
from storyreel.steps.context import FPS, StepContext
from storyreel.steps.prompts import shot_list as shot_list_prompt

ShotOut = dto.strict(Shot, exclude={"id", "scene_id", "index", "number", "first_frame", "last_frame",
                                    "clip_prompt"}, name="ShotOut")
ShotListOut = dto.make("ShotListOut", "The shots of one scene.", shots=(list[ShotOut], "The shots, in order."))

KEEP = ("first_frame", "last_frame", "clip_prompt")  # written by later steps: kept when a shot's id stands


def fit_durations(durations: list[float], total: float) -> list[float]:
    """Scale shot lengths to fill ``total`` exactly, in whole frames (at least one frame each)."""
    frames_total = max(len(durations), round(total * FPS))
    raw = [max(d, 0.1) for d in durations]
    s = sum(raw)
    frames = [max(1, round(frames_total * d / s)) for d in raw]
    diff = frames_total - sum(frames)
    i = 0
    while diff != 0 and frames:
        j = i % len(frames)
        if diff > 0:
            frames[j] += 1
            diff -= 1
        elif frames[j] > 1:
            frames[j] -= 1
            diff += 1
        i += 1
    return [f / FPS for f in frames]


def _checker(line_ids: list[str], first_scene: bool):
    def check(model):
        carried: dict[str, int] = {}
        for shot in model.shots:
            for d in shot.dialogue:
                carried[d] = carried.get(d, 0) + 1
        problems = [f"line {lid} is carried by {carried.get(lid, 0)} shots" for lid in line_ids
                    if carried.get(lid, 0) != 1]
        problems += [f"unknown line id {lid}" for lid in carried if lid not in line_ids]
        if not model.shots:
            problems.append("no shots")
        elif first_scene and model.shots[0].clip_strategy == "continue":
            problems.append("the film's first shot cannot continue from a previous clip")
        if problems:
            raise ValueError("; ".join(problems))
        return model

    return check


async def _shot_list(ctx: StepContext) -> dict:
    scene = ctx.film.scene(ctx.item)
    line_ids = [d.id for d in scene.script.dialogue] if scene.script else []
    checked = dto.make("ShotListChecked", "The shots of one scene.",
                       validators={"lines": model_validator(mode="after")(_checker(line_ids, scene.index == 0))},
                       shots=(list[ShotOut], "The shots, in order."))
    answer = await ctx.ask(checked)
    shots = answer.model_dump()["shots"]
    total = ctx.context["outline"]["duration"] or sum(s["duration"] for s in shots)
    for s, d in zip(shots, fit_durations([s["duration"] for s in shots], total), strict=True):
        s["duration"] = round(d, 6)
    return {"shots": shots}


def _apply_shot_list(film: Film, item: str, out: dict) -> None:
    scene = film.scene(item)
    old = {s.id: s for s in film.shots or [] if s.scene_id == item}
    mine = []
    for i, d in enumerate(out["shots"]):
        sid = f"{item}-sh{i + 1:02d}"
        shot = Shot(id=sid, scene_id=item, index=i, **d)
        prev = old.get(sid)
        if prev is not None:
            for k in KEEP:
                setattr(shot, k, getattr(prev, k))
        mine.append(shot)
    order = {s.id: s.index for s in film.scenes or []}
    others = [s for s in film.shots or [] if s.scene_id != item]
    shots = sorted(others + mine, key=lambda s: (order.get(s.scene_id, 1 << 30), s.index))
    for n, s in enumerate(shots, 1):
        s.number = n
    film.shots = shots
    keep = {s.id for s in shots}
    if film.clips:
        film.clips = [c for c in film.clips if c.shot_id in keep]
    del scene  # the scene itself is not written here


STEPS = [
    Step("shot_list", "shots", "text", "scene",
         (Read("scenes.outline"), Read("scenes.script"), Read("scenes.visual"),
          Read("scenes.instances", fields=("asset_id", "state")), Read("inputs.shot_style"),
          Read("inputs.story_rules")),
         ("shots",), ShotListOut, _shot_list, _apply_shot_list, system=shot_list_prompt.SYSTEM,
         structural=True,
         doc="The shots of a scene: framing, camera move, action, dialogue, length, clip strategy, transition."),
]
