"""The cut: clips in order with their transitions, dialogue and music mixed, subtitles, into
``output/{project}_final.mp4``."""

from __future__ import annotations

import asyncio

from storyreel.export.srt import write_srt
from storyreel.film import dto
from storyreel.film.invariants import check_frames_match_shots
from storyreel.film.models import Cut, Film, Sound
from storyreel.media import audio, video
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext

TRANSITION_SECONDS = 0.5

CutOut = dto.make("CutOut", "The final cut.", cut=(Cut, "The cut."),
                  subtitles=(str, "Path of the SRT file."), voice=(str, "How dialogue was voiced."))


def shot_starts(shots: list[dict]) -> list[float]:
    """Start of each shot in the final film: crossfades overlap the clips around them."""
    starts, t = [], 0.0
    for i, s in enumerate(shots):
        starts.append(t)
        t += s["duration"]
        if i < len(shots) - 1 and s["transition"] == "crossfade":
            t -= TRANSITION_SECONDS
    return starts


async def _cut(ctx: StepContext) -> dict:
    c = ctx.context
    check_frames_match_shots(ctx.film)
    shots, clips = c["all_shots"], c["all_clips"]
    missing = [s["id"] for s, k in zip(shots, clips, strict=True) if not k or not k.get("path")]
    if missing:
        raise ValueError(f"shots without a clip: {', '.join(missing)}")
    transitions = [s["transition"] for s in shots[:-1]]
    starts = dict(zip([s["id"] for s in shots], shot_starts(shots), strict=True))
    text = {d["id"]: d for sc in c["all_script"] for d in (sc or {}).get("dialogue", [])}
    voiced = {v["line_id"]: v for vs in c["all_voices"] for v in vs or []}
    subs, spoken = [], []
    for snd in c["all_sound"]:
        for cue in (snd or {}).get("dialogue", []):
            if cue["shot_id"] not in starts or cue["line_id"] not in text:
                continue
            t0 = starts[cue["shot_id"]] + cue["start"]
            v = voiced.get(cue["line_id"])
            length = max(cue["duration"], v["duration"] if v else 0.0)
            line = text[cue["line_id"]]
            subs.append((t0, t0 + length, line["character"], line["text"]))
            if v and v.get("audio"):
                spoken.append((t0, ctx.abs(v["audio"])))
    name = ctx.film.name or "film"
    out_dir = ctx.project_dir / "output"
    out_dir.mkdir(parents=True, exist_ok=True)
    total = sum(s["duration"] for s in shots) - TRANSITION_SECONDS * transitions.count("crossfade")
    music = ctx.abs(c["sound"]["music"]) if c["sound"] and c["sound"].get("music") else None
    mix_path = ctx.new_path("audio", "mix", name, "wav")
    clip_paths = [ctx.abs(k["path"]) for k in clips]
    final = out_dir / f"{name}_final.mp4"

    def render() -> dict:
        audio.mix(total, mix_path, music=music, dialogue=spoken)
        return video.concat(clip_paths, transitions, final, audio=mix_path, transition_seconds=TRANSITION_SECONDS)

    info = await asyncio.to_thread(render)
    srt_path = write_srt(out_dir / f"{name}.srt", subs)
    voice = "espeak-ng" if spoken else ("silent (subtitles)" if subs else "no dialogue")
    ctx.prompts.append({"kind": "cut", "clips": len(clip_paths), "transitions": transitions})
    return {"cut": {"clips": [s["id"] for s in shots], "transitions": transitions, "final": ctx.rel(final),
                    "duration": round(info["duration"], 4), "reencoded": info["reencoded"]},
            "subtitles": ctx.rel(srt_path), "voice": voice}


def _apply_cut(film: Film, item, out: dict) -> None:
    film.cut = Cut(**out["cut"])
    film.sound = (film.sound or Sound()).model_copy(update={"subtitles": out["subtitles"], "voice": out["voice"]})


STEPS = [
    Step("cut", "cut", "none", "once",
         (Read("shots", of="all", name="all_shots", fields=("id", "duration", "transition")),
          Read("shots", of="all", name="all_frames", fields=("first_frame.image", "last_frame.image")),
          Read("clips", of="all", name="all_clips", fields=("path",)),
          Read("scenes.script", of="all", name="all_script"),
          Read("scenes.sound", of="all", name="all_sound", fields=("dialogue",)),
          Read("scenes.voices", of="all", name="all_voices"), Read("sound", fields=("music",)),
          Read("inputs.aspect")),
         ("cut", "sound.subtitles", "sound.voice"), CutOut, _cut, _apply_cut,
         doc="The final film: clips, transitions, dialogue, music, subtitles."),
]
