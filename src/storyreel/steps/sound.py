"""Sound: dialogue timing and the music cue per scene (text), the spoken lines per scene (speech), the music bed
for the film (music)."""

from __future__ import annotations

import hashlib

from pydantic import model_validator

from storyreel.film import dto
from storyreel.film.models import DialogueCue, Film, SceneSound, VoiceLine
from storyreel.providers.base import MusicCue
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext
from storyreel.steps.prompts import sound_cues as sound_prompt

SoundOut = dto.strict(SceneSound, name="SceneSoundOut")
VoicesOut = dto.make("VoicesOut", "The scene's spoken lines.",
                     voices=(list[VoiceLine], "One entry per dialogue line."))
MusicOut = dto.make("MusicOut", "The music bed.", music=(str, "Path of the music bed."))


def _checker(shots: list[dict], lines: list[dict]):
    where = {lid: s for s in shots for lid in s["dialogue"]}

    def check(model):
        timed = {c.line_id for c in model.dialogue}
        missing = [d["id"] for d in lines if d["id"] in where and d["id"] not in timed]
        if missing:
            raise ValueError(f"lines without timing: {', '.join(missing)}")
        return model

    return check


async def _cues(ctx: StepContext) -> dict:
    shots = ctx.context["scene_shots"]
    lines = (ctx.context["script"] or {}).get("dialogue", [])
    checked = dto.make("SceneSoundChecked", "Music cue and dialogue timing for the scene.",
                       validators={"timed": model_validator(mode="after")(_checker(shots, lines))},
                       **{k: (f.annotation, f.description) for k, f in SoundOut.model_fields.items()})
    answer = (await ctx.ask(checked)).model_dump()
    where = {lid: s for s in shots for lid in s["dialogue"]}
    cues = []
    for c in answer["dialogue"]:
        shot = where.get(c["line_id"])
        if shot is None:
            continue
        # the line belongs to the shot that carries it, and ends inside it
        start = min(max(0.0, c["start"]), max(0.0, shot["duration"] - 0.3))
        c.update(shot_id=shot["id"], start=round(start, 3),
                 duration=round(max(0.3, min(c["duration"], shot["duration"] - start)), 3))
        cues.append(c)
    answer["dialogue"] = cues
    answer["tempo"] = int(min(160, max(60, answer["tempo"])))
    return answer


def _apply_cues(film: Film, item: str, out: dict) -> None:
    film.scene(item).sound = SceneSound(**{**out, "dialogue": [DialogueCue(**c) for c in out["dialogue"]]})


async def _voices(ctx: StepContext) -> dict:
    lines = {d["id"]: d for d in (ctx.context["script"] or {}).get("dialogue", [])}
    out = []
    for cue in (ctx.context["sound"] or {}).get("dialogue", []):
        line = lines.get(cue["line_id"])
        if not line:
            continue
        res = await ctx.speech(text=line["text"], voice=line["character"], name=f"{cue['line_id']}")
        out.append({"line_id": cue["line_id"], "audio": ctx.rel(res.path) if res.path else None,
                    "duration": round(res.duration, 3)})
    return {"voices": out}


def _apply_voices(film: Film, item: str, out: dict) -> None:
    film.scene(item).voices = [VoiceLine(**v) for v in out["voices"]]


async def _music(ctx: StepContext) -> dict:
    shots, sounds = ctx.context["all_shots"], ctx.context["all_sound"]
    scene_ids = [s["scene_id"] for s in shots]
    cues, t = [], 0.0
    for sid, snd in zip([sc.id for sc in ctx.film.scenes or []], sounds, strict=True):
        length = sum(s["duration"] for s in shots if s["scene_id"] == sid)
        if length <= 0 or sid not in scene_ids:
            continue
        snd = snd or {"tempo": 90, "mode": "major", "music_mood": ""}
        cues.append(MusicCue(start=t, duration=length, tempo=snd["tempo"], mode=snd["mode"], mood=snd["music_mood"]))
        t += length
    seed = int(hashlib.sha256(ctx.context["prompt"].encode()).hexdigest()[:8], 16)
    res = await ctx.music(cues=cues, duration=max(t, 0.1), name="bed", seed=seed)
    return {"music": ctx.rel(res.path)}


def _apply_music(film: Film, item, out: dict) -> None:
    from storyreel.film.models import Sound

    film.sound = (film.sound or Sound()).model_copy(update={"music": out["music"]})


STEPS = [
    Step("sound_cues", "sound", "text", "scene",
         (Read("scenes.outline", fields=("summary", "time_of_day")), Read("scenes.script"),
          Read("shots", of="scene", fields=("id", "dialogue", "duration")), Read("treatment", of="chosen"),
          Read("lore", of="chosen", fields=("tone",)), Read("inputs.vibe"), Read("inputs.story_rules")),
         ("scenes.sound",), SoundOut, _cues, _apply_cues, system=sound_prompt.SYSTEM,
         doc="Dialogue timing inside the shots and the music cue of the scene."),
    Step("voices", "sound", "speech", "scene",
         (Read("scenes.script"), Read("scenes.sound", fields=("dialogue",))),
         ("scenes.voices",), VoicesOut, _voices, _apply_voices, doc="The scene's dialogue, spoken."),
    Step("music", "sound", "music", "once",
         (Read("shots", of="all", name="all_shots", fields=("scene_id", "duration")),
          Read("scenes.sound", of="all", name="all_sound", fields=("music_mood", "tempo", "mode")),
          Read("inputs.prompt")),
         ("sound.music",), MusicOut, _music, _apply_music, doc="The music bed under the film."),
]
