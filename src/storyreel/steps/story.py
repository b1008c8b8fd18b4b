"""Story steps: lore (3 options), treatment (3 options on the chosen lore), beats sized to the duration."""

from __future__ import annotations

import logging
from datetime import datetime

from pydantic import field_validator

from storyreel.film import dto
from storyreel.film.invariants import fit_beats, max_beats
from storyreel.film.models import Beat, Film, LoreOption, TreatmentOption
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext
from storyreel.steps.prompts import beats as beats_prompt
from storyreel.steps.prompts import lore as lore_prompt
from storyreel.steps.prompts import treatment as treatment_prompt

log = logging.getLogger("storyreel.steps.story")

STORY_INPUTS = (
    Read("inputs.prompt"), Read("inputs.plot"), Read("inputs.vibe"), Read("inputs.characters_notes"),
    Read("inputs.screenplay"), Read("inputs.duration"), Read("inputs.story_rules"),
)


def _three(v: list) -> list:
    if len(v) != 3:
        raise ValueError(f"expected exactly 3 options, got {len(v)}")
    return v


LoreOut = dto.make("LoreOut", "Three takes on the film's world.",
                   validators={"three": field_validator("options")(_three)},
                   options=(list[LoreOption], "Exactly three distinct takes on the world, tone and themes."))
TreatmentOut = dto.make("TreatmentOut", "Three treatments.",
                        validators={"three": field_validator("options")(_three)},
                        options=(list[TreatmentOption], "Exactly three different treatments of the story."))
BeatOut = dto.strict(Beat, exclude={"index", "start"}, name="BeatOut")
BeatsOut = dto.make("BeatsOut", "The beats of the story.",
                    beats=(list[BeatOut], "The beats in order; each at least 5 seconds long."))


async def _lore(ctx: StepContext) -> dict:
    return (await ctx.ask()).model_dump()


def _apply_lore(film: Film, item, out: dict) -> None:
    film.lore.options = [LoreOption(**o) for o in out["options"]]
    if not 0 <= film.lore.chosen < len(film.lore.options):
        film.lore.chosen = 0


async def _treatment(ctx: StepContext) -> dict:
    return (await ctx.ask()).model_dump()


def _apply_treatment(film: Film, item, out: dict) -> None:
    film.treatment.options = [TreatmentOption(**o) for o in out["options"]]
    if not 0 <= film.treatment.chosen < len(film.treatment.options):
        film.treatment.chosen = 0


async def _beats(ctx: StepContext) -> dict:
    answer = await ctx.ask()
    duration = ctx.film.inputs.duration
    raw = [Beat(index=i, start=0.0, duration=b.duration, summary=b.summary) for i, b in enumerate(answer.beats)]
    beats, original = fit_beats(raw, duration)
    if original > len(beats):
        limit = max_beats(duration)
        log.warning("beats truncated for %s: %d beats for %.1f s (at most %d)", ctx.film.name, original,
                    duration, limit)
        log_path = ctx.project_dir / "logs" / "beat_truncation.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("a", encoding="utf-8") as f:
            f.write(f"{datetime.now().isoformat(timespec='seconds')}\tproject={ctx.film.name}\t"
                    f"original={original}\tnew={len(beats)}\n")
    return {"beats": [b.model_dump() for b in beats]}


def _apply_beats(film: Film, item, out: dict) -> None:
    film.beats = [Beat(**b) for b in out["beats"]]



STEPS = [
    Step("lore", "story", "text", "once", STORY_INPUTS, ("lore.options",), LoreOut, _lore, _apply_lore,
         system=lore_prompt.SYSTEM, doc="Three takes on the world, tone and themes."),
    Step("treatment", "story", "text", "once", (*STORY_INPUTS, Read("lore", of="chosen")),
         ("treatment.options",), TreatmentOut, _treatment, _apply_treatment, system=treatment_prompt.SYSTEM,
         doc="Three treatments built on the chosen lore."),
    Step("beats", "beats", "text", "once",
         (Read("inputs.duration"), Read("inputs.screenplay"), Read("inputs.story_rules"),
          Read("treatment", of="chosen")),
         ("beats",), BeatsOut, _beats, _apply_beats, system=beats_prompt.SYSTEM,
         doc="The beats of the chosen treatment, sized to the target duration."),
]
