"""SubRip (.srt) subtitles for the reel's dialogue, so a reviewer can read lines over temp voices."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from pathlib import Path


def _timestamp(seconds: float) -> str:
    """HH:MM:SS,mmm, rounded to the millisecond (SRT's resolution)."""
    ms = max(0, int(round(seconds * 1000)))
    h, rem = divmod(ms, 3_600_000)
    m, rem = divmod(rem, 60_000)
    s, ms = divmod(rem, 1000)
    return f"{h:02d}:{m:02d}:{s:02d},{ms:03d}"


def srt(cues: Iterable[tuple[float, float, str, str]]) -> str:
    """(start_s, end_s, speaker, text) cues -> SRT text, numbered from 1 in start order.

    Each cue reads "SPEAKER: text". Blank lines inside the text are dropped because a blank line ends
    an SRT cue; an end before the start is pushed to one millisecond after it.
    """
    ordered = sorted(cues, key=lambda c: (c[0], c[1]))  # stable: equal starts keep their order
    blocks = []
    for i, (start, end, speaker, text) in enumerate(ordered, 1):
        start = max(0.0, float(start))
        end = max(float(end), start + 0.001)
        lines = [ln.strip() for ln in str(text).splitlines() if ln.strip()] or [""]
        who = " ".join(str(speaker or "").split()).upper()
        if who:
            lines[0] = f"{who}: {lines[0]}".rstrip()
        blocks.append(f"{i}\n{_timestamp(start)} --> {_timestamp(end)}\n" + "\n".join(lines) + "\n")
    return "\n".join(blocks)


def write_srt(path: Path, cues) -> Path:
    """Write the SRT (UTF-8) atomically: a reader never sees a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(srt(cues))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
