"""Keyframes, per shot: the prompts (first frame, last frame, clip), then the images.

Every prompt carries the current state of every asset in the shot, the style and the story rules, and the images
are conditioned on the references of those assets in their current state (the scene's instance image, else the
asset's master reference)."""

from __future__ import annotations

from storyreel.film import dto
from storyreel.film.models import Film, Keyframe
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext, rules_block
from storyreel.steps.prompts import keyframe_prompts as kp_prompt

KeyframePromptsOut = dto.make(
    "KeyframePromptsOut", "Prompts of one shot.",
    first_frame=(str, "Prompt for the shot's first frame."),
    last_frame=(str, "Prompt for the shot's last frame."),
    clip=(str, "Prompt for the shot's video clip: the motion from the first frame to the last and the camera move."),
)
KeyframesOut = dto.make("KeyframesOut", "The shot's keyframes.",
                        first_frame=(Keyframe, "The first keyframe."), last_frame=(Keyframe, "The last keyframe."))

SHOT_FIELDS = ("framing", "camera_move", "action", "characters", "props", "dialogue", "duration", "clip_strategy")
LOOKS = ("id", "name", "kind", "description")


def in_shot(shot: dict, assets: list[dict], location: str) -> list[dict]:
    """The assets seen in a shot: its location, its characters and props (by name)."""
    names = {n.lower() for n in [*shot["characters"], *shot["props"], location]}
    return [a for a in assets if a["name"].lower() in names]


def continuity_block(shot: dict, assets: list[dict], instances: list[dict] | None, location: str) -> str:
    states = {i["asset_id"]: i["state"] for i in instances or []}
    lines = []
    for a in in_shot(shot, assets, location):
        state = states.get(a["id"], "")
        lines.append(f"- {a['name']} ({a['kind']}): {a['description']}" + (f" — NOW: {state}" if state else ""))
    return "IN FRAME, AS THEY ARE NOW:\n" + "\n".join(lines) if lines else ""


def compose(text: str, shot: dict, ctx: dict) -> str:
    parts = [text.strip(), continuity_block(shot, ctx["scene_assets"], ctx["instances"], ctx["outline"]["location"])]
    style = ctx["style"]["description"]
    if style:
        parts.append(f"STYLE: {style}")
    if ctx["story_rules"]:
        parts.append(rules_block(ctx["story_rules"]))
    return "\n".join(p for p in parts if p)


async def _prompts(ctx: StepContext) -> dict:
    answer = await ctx.ask()
    shot = ctx.context["shot"]
    return {"first_frame": compose(answer.first_frame, shot, ctx.context),
            "last_frame": compose(answer.last_frame, shot, ctx.context),
            "clip": compose(answer.clip, shot, ctx.context)}


def _apply_prompts(film: Film, item: str, out: dict) -> None:
    shot = film.shot(item)
    shot.first_frame = Keyframe(prompt=out["first_frame"], references=shot.first_frame.references
                                if shot.first_frame else [], image=shot.first_frame.image if shot.first_frame else None)
    shot.last_frame = Keyframe(prompt=out["last_frame"], references=shot.last_frame.references
                               if shot.last_frame else [], image=shot.last_frame.image if shot.last_frame else None)
    shot.clip_prompt = out["clip"]


def references_for(shot: dict, assets: list[dict], instances: list[dict] | None, location: str) -> list[str]:
    images = {i["asset_id"]: i["image"] for i in instances or [] if i.get("image")}
    refs = []
    for a in in_shot(shot, assets, location):
        path = images.get(a["id"])
        if not path:
            view = {"character": "front", "location": "establishing", "prop": "object"}[a["kind"]]
            path = next((r["path"] for r in a["references"] if r["view"] == view), None)
        if path and path not in refs:
            refs.append(path)
    return refs


def shot_label(position: dict) -> str:
    """'2.3' for the third shot of the second scene: stable when shots are added elsewhere."""
    scene = position["scene_id"].lstrip("s").lstrip("0") or "0"
    return f"{scene}.{position['index'] + 1}"


def frame_spec(ctx: dict, moment: str) -> dict:
    shot, outline = ctx["shot"], ctx["outline"]
    lines = {d["id"]: d for d in (ctx["script"] or {}).get("dialogue", [])}
    spoken = [lines[i] for i in shot["dialogue"] if i in lines]
    states = {i["asset_id"]: i["state"] for i in ctx["instances"] or []}
    by_name = {(a["kind"], a["name"].lower()): a for a in ctx["scene_assets"]}
    chars = [{"name": c, "state": states.get(by_name[("character", c.lower())]["id"], "")
              if ("character", c.lower()) in by_name else ""} for c in shot["characters"]]
    loc = by_name.get(("location", outline["location"].lower()))
    caption = shot["action"]
    return {
        "shot_number": ctx["position"]["index"] + 1, "shot_label": shot_label(ctx["position"]), "moment": moment,
        "framing": shot["framing"], "camera_move": shot["camera_move"], "caption": caption,
        "dialogue": [{"character": d["character"], "text": d["text"]} for d in spoken],
        "location": {"name": outline["location"], "time_of_day": outline["time_of_day"],
                     "description": loc["description"] if loc else ""},
        "characters": chars, "props": shot["props"],
        "pov_character": shot["characters"][0] if shot["framing"] == "pov" and shot["characters"] else None,
    }


async def _frames(ctx: StepContext) -> dict:
    c = ctx.context
    shot = c["shot"]
    refs = references_for(shot, c["scene_assets"], c["instances"], c["outline"]["location"])
    refs += [r for r in c["style"]["reference_images"] if r not in refs]
    out = {}
    for moment, key in (("first", "first_frame"), ("last", "last_frame")):
        prompt = shot[f"{key}_prompt"] or shot["action"]
        path = await ctx.image(prompt=prompt, spec=frame_spec(c, moment), kind="keyframe",
                               name=f"{ctx.item}_{moment}", references=refs)
        out[key] = {"prompt": prompt, "references": refs, "image": path}
    return out


def _apply_frames(film: Film, item: str, out: dict) -> None:
    shot = film.shot(item)
    shot.first_frame = Keyframe(**out["first_frame"])
    shot.last_frame = Keyframe(**out["last_frame"])


STEPS = [
    Step("keyframe_prompts", "keyframes", "text", "shot",
         (Read("shots", name="shot", fields=SHOT_FIELDS), Read("scenes.outline"), Read("scenes.visual"),
          Read("scenes.instances", fields=("asset_id", "state")), Read("assets", of="scene", fields=LOOKS),
          Read("inputs.style", fields=("description",)), Read("inputs.story_rules")),
         ("shots.first_frame.prompt", "shots.last_frame.prompt", "shots.clip_prompt"), KeyframePromptsOut,
         _prompts, _apply_prompts, system=kp_prompt.SYSTEM,
         doc="Prompts for the shot's first and last frames and its clip."),
    Step("keyframes", "keyframes", "image", "shot",
         (Read("shots", name="shot", fields=(*SHOT_FIELDS, "first_frame.prompt", "last_frame.prompt")),
          Read("shots", name="position", fields=("index", "scene_id")), Read("scenes.outline"), Read("scenes.script"),
          Read("scenes.instances", fields=("asset_id", "state", "image")),
          Read("assets", of="scene", fields=(*LOOKS, "references")), Read("inputs.aspect"),
          Read("inputs.style", fields=("description", "reference_images")), Read("inputs.story_rules")),
         ("shots.first_frame.image", "shots.first_frame.references", "shots.last_frame.image",
          "shots.last_frame.references"), KeyframesOut, _frames, _apply_frames,
         doc="The shot's first and last storyboard frames."),
]
