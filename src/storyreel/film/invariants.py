"""The Film's rules. Violations are clear errors, never silent corrections — except the beat rule, which the
issue asks to truncate (with a WARNING and a line in ``logs/beat_truncation.log``)."""

from __future__ import annotations

import math

from storyreel.errors import InvariantError
from storyreel.film.models import Beat, Film

MIN_BEAT_SECONDS = 5.0


def max_beats(duration: float) -> int:
    return max(1, math.ceil(duration / MIN_BEAT_SECONDS))


def fit_beats(beats: list[Beat], duration: float) -> tuple[list[Beat], int]:
    """Keep at most ceil(duration / 5) beats and lay them end to end over the duration.

    Returns the beats and the original count. Start times are recomputed; durations are scaled to fill the film
    so the beats still add up to it, with no beat shorter than the minimum where the count allows.
    """
    original = len(beats)
    kept = [b.model_copy() for b in beats[: max_beats(duration)]]
    if not kept:
        return kept, original
    weights = [max(b.duration, 0.1) for b in kept]
    total = sum(weights)
    t = 0.0
    for i, (b, w) in enumerate(zip(kept, weights, strict=True)):
        b.index = i
        b.start = round(t, 3)
        b.duration = round(duration * w / total, 3)
        t += b.duration
    kept[-1].duration = round(duration - kept[-1].start, 3)
    return kept, original


def check_frames_match_shots(film: Film) -> None:
    shots = film.shots or []
    framed = [s for s in shots if s.first_frame and s.first_frame.image and s.last_frame and s.last_frame.image]
    if len(framed) != len(shots):
        raise InvariantError(
            f"storyboard frames do not match shots: {len(framed)} shots have both keyframes, "
            f"{len(shots)} shots in the film"
        )


def check_chains(film: Film) -> None:
    """A clip that continues from the previous clip's last frame needs a clip before it."""
    shots = film.shots or []
    if shots and shots[0].clip_strategy == "continue":
        raise InvariantError(f"shot {shots[0].id} continues from a previous clip but has none before it")
