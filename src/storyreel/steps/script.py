"""Script steps: the step outline (creates the scenes), the screenplay per scene, the visual script per scene.

When the user skipped to script, the outline and the screenplay come from their Fountain screenplay as written —
scenes, speaking characters and dialogue are never invented — and no model is asked.
"""

from __future__ import annotations

from functools import lru_cache

from pydantic import model_validator

from storyreel.film import dto
from storyreel.film.models import DialogueLine, Film, Scene, SceneOutline, SceneScript
from storyreel.inputs import fountain
from storyreel.steps.base import Read, Step
from storyreel.steps.context import FPS, StepContext
from storyreel.steps.prompts import outline as outline_prompt
from storyreel.steps.prompts import screenplay as screenplay_prompt
from storyreel.steps.prompts import visual_script as visual_prompt

SceneOutlineOut = dto.strict(SceneOutline, name="SceneOutlineOut")
OutlineOut = dto.make("OutlineOut", "The step outline.",
                      scenes=(list[SceneOutlineOut], "The scenes of the film, in order."))
ScriptOut = dto.strict(SceneScript, exclude={"dialogue.id"}, name="SceneScriptOut")
VisualOut = dto.make("VisualOut", "The visual script of one scene.",
                     visual=(str, Scene.model_fields["visual"].description))


@lru_cache(maxsize=8)
def parsed(screenplay: str) -> fountain.Screenplay:
    return fountain.parse(screenplay)


def script_scene_outline(sp: fountain.Screenplay, duration: float) -> list[dict]:
    """Outline of an imported screenplay: scenes as written, lengths in proportion to how much is in them."""
    weights = [max(1.0, len(s.action.split()) / 2.5 + sum(len(d.text.split()) for d in s.dialogue) / 2.5)
               for s in sp.scenes]
    total = sum(weights) or 1.0
    out = []
    for i, s in enumerate(sp.scenes):
        chars: list[str] = []
        for d in s.dialogue:
            if d.character not in chars:
                chars.append(d.character)
        out.append({
            "heading": s.heading, "location": s.location or s.heading, "time_of_day": s.time_of_day,
            "summary": (s.action.split("\n")[0][:240] if s.action else f"{', '.join(chars)} talk."),
            "characters": chars, "props": [], "beat": None,
            "duration": round(duration * weights[i] / total, 3),
        })
    return out


def _normalise_durations(scenes: list[dict], duration: float) -> None:
    """Scene lengths fill the film exactly, in whole frames (largest remainder), in proportion to what was asked."""
    if not scenes:
        return
    raw = [max(float(s.get("duration") or 0.0), 0.5) for s in scenes]
    total_frames = max(len(scenes), round(duration * FPS))
    share = [total_frames * r / sum(raw) for r in raw]
    frames = [max(1, int(x)) for x in share]
    by_remainder = sorted(range(len(scenes)), key=lambda i: share[i] - int(share[i]), reverse=True)
    i = 0
    while sum(frames) < total_frames:
        frames[by_remainder[i % len(scenes)]] += 1
        i += 1
    while sum(frames) > total_frames:
        j = max(range(len(frames)), key=lambda k: frames[k])
        frames[j] -= 1
    for s, f in zip(scenes, frames, strict=True):
        s["duration"] = f / FPS


async def _outline(ctx: StepContext) -> dict:
    film = ctx.film
    if film.inputs.screenplay:
        scenes = script_scene_outline(parsed(film.inputs.screenplay), film.inputs.duration)
    else:
        scenes = (await ctx.ask()).model_dump()["scenes"]
        if not scenes:
            raise ValueError("the outline has no scenes")
    _normalise_durations(scenes, film.inputs.duration)
    return {"scenes": scenes}


def _apply_outline(film: Film, item, out: dict) -> None:
    old = {s.index: s for s in film.scenes or []}
    scenes = []
    for i, o in enumerate(out["scenes"]):
        prev = old.get(i)
        scene = prev.model_copy() if prev else Scene(id=f"s{i + 1:02d}", index=i)
        scene.id, scene.index, scene.outline = f"s{i + 1:02d}", i, SceneOutline(**o)
        scenes.append(scene)
    film.scenes = scenes
    keep = {s.id for s in scenes}
    if film.shots:
        film.shots = [s for s in film.shots if s.scene_id in keep]


def _script_check(outline: dict):
    cast = {c.upper() for c in outline.get("characters", [])}

    def check(model):
        strangers = sorted({d.character.upper() for d in model.dialogue} - cast) if cast else []
        if strangers:
            raise ValueError(f"characters not in the scene speak: {', '.join(strangers)}")
        return model

    return check


async def _screenplay(ctx: StepContext) -> dict:
    film = ctx.film
    scene = film.scene(ctx.item)
    if film.inputs.screenplay:
        s = parsed(film.inputs.screenplay).scenes[scene.index]
        return {"action": s.action, "transition": s.transition,
                "dialogue": [{"character": d.character, "extension": d.extension, "parenthetical": d.parenthetical,
                              "text": d.text, "dual": d.dual} for d in s.dialogue]}
    checked = dto.make("SceneScriptChecked", "The written scene.",
                       validators={"cast": model_validator(mode="after")(_script_check(ctx.context["outline"]))},
                       **{k: (f.annotation, f.description) for k, f in ScriptOut.model_fields.items()})
    return (await ctx.ask(checked)).model_dump()


def _apply_screenplay(film: Film, item: str, out: dict) -> None:
    scene = film.scene(item)
    lines = [DialogueLine(id=f"{scene.id}-d{i + 1:02d}", **d) for i, d in enumerate(out["dialogue"])]
    scene.script = SceneScript(action=out["action"], dialogue=lines, transition=out.get("transition", ""))


async def _visual(ctx: StepContext) -> dict:
    return (await ctx.ask()).model_dump()


def _apply_visual(film: Film, item: str, out: dict) -> None:
    film.scene(item).visual = out["visual"]


ASSET_LOOKS = ("id", "name", "kind", "description")

STEPS = [
    Step("outline", "script", "text", "once",
         (Read("inputs.prompt"), Read("inputs.screenplay"), Read("inputs.duration"),
          Read("inputs.characters_notes"), Read("inputs.story_rules"), Read("treatment", of="chosen"),
          Read("beats")),
         ("scenes.outline",), OutlineOut, _outline, _apply_outline, system=outline_prompt.SYSTEM,
         structural=True, doc="The step outline: the scenes, their place, cast, props and planned length."),
    Step("screenplay", "script", "text", "scene",
         (Read("scenes.outline"), Read("inputs.screenplay"), Read("inputs.dialogue_rules"),
          Read("inputs.style", fields=("description",)), Read("inputs.story_rules"),
          Read("treatment", of="chosen"), Read("lore", of="chosen")),
         ("scenes.script",), ScriptOut, _screenplay, _apply_screenplay, system=screenplay_prompt.SYSTEM,
         structural=True, doc="One scene of the screenplay: action and dialogue."),
    Step("visual_script", "script", "text", "scene",
         (Read("scenes.outline"), Read("scenes.script"), Read("assets", of="scene", fields=ASSET_LOOKS),
          Read("inputs.style", fields=("description",)), Read("inputs.shot_style"), Read("inputs.story_rules")),
         ("scenes.visual",), VisualOut, _visual, _apply_visual, system=visual_prompt.SYSTEM,
         doc="The scene as a visually explicit description of every moment."),
]
