"""The film's steps, in one visible list, in order of dependency. Adding a step is a few lines in one module
(declare it in that module's STEPS) and, if it is a new module, one line here."""

from __future__ import annotations

from storyreel.steps import assets, clips, continuity, cut, keyframes, script, shots, sound, story
from storyreel.steps.base import STAGES, Read, Step

STEPS: list[Step] = [
    *story.STEPS,        # lore, treatment (3 options each), beats
    *script.STEPS[:1],   # outline: creates the scenes
    *assets.STEPS[:1],   # assets: creates characters, locations, props
    *script.STEPS[1:],   # screenplay, visual script (per scene)
    *assets.STEPS[1:],   # reference sheets (per asset)
    *continuity.STEPS,   # instances, instance images, stage shot (per scene)
    *shots.STEPS,        # shot list (per scene): creates the shots
    *keyframes.STEPS,    # keyframe prompts, keyframes (per shot)
    *clips.STEPS,        # clips (per shot, pipelined chains)
    *sound.STEPS,        # sound cues, voices (per scene), music
    *cut.STEPS,          # the final cut
]

BY_NAME: dict[str, Step] = {s.name: s for s in STEPS}

__all__ = ["STEPS", "BY_NAME", "STAGES", "Read", "Step"]
