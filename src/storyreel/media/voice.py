"""Scratch dialogue for the story reel, spoken by espeak-ng when it is installed.

Temp voices only need to be intelligible and tell characters apart; espeak-ng is small, offline and
deterministic. Without it the reel is cut silent and line lengths come from estimate_duration().
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

ESPEAK = "espeak-ng"
# espeak-ng voice variants ("en+m3"): seven male, five female timbres shipped with the Debian package.
_VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5")
_VOICE_RE = re.compile(r"^[A-Za-z0-9_-]+(\+[A-Za-z0-9_-]+)?$")
# espeak-ng at speed S speaks ~1.3*S words/min of ordinary prose (measured against its own output).
_WPM_FACTOR = 1.3


def espeak_available() -> bool:
    return shutil.which(ESPEAK) is not None


def _wav_seconds(path: Path) -> float:
    with wave.open(str(path), "rb") as w:
        return w.getnframes() / float(w.getframerate())


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return (lines[-1] if lines else "no output")[:200]


def speak(text: str, out_wav: Path, *, voice: str = "en", speed: int = 165, pitch: int = 50) -> float | None:
    """Speak text into out_wav (espeak-ng's 22.05 kHz mono 16-bit WAV); return its length in seconds.

    None when espeak-ng is not on PATH (the caller falls back to estimate_duration and silence).
    The text goes through stdin, never a shell or argv, so a line that starts with "-" or contains
    quotes is just spoken. RuntimeError (one line) when espeak-ng fails or hangs.
    """
    exe = shutil.which(ESPEAK)
    if exe is None:
        return None
    if not _VOICE_RE.match(voice):
        raise ValueError(f"invalid espeak-ng voice name {voice!r}")
    speed = int(min(max(int(speed), 80), 450))  # espeak-ng's own accepted range
    pitch = int(min(max(int(pitch), 0), 99))
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    # Empty input still yields a valid (near-empty) WAV, which keeps timelines simple.
    payload = " ".join(text.split()).encode("utf-8")
    timeout = 30.0 + len(payload) / 20.0
    fd, tmp = tempfile.mkstemp(prefix=f".{out_wav.name}.", suffix=".wav", dir=out_wav.parent)
    os.close(fd)
    try:
        cmd = [exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-b", "1", "-w", tmp, "--stdin"]
        try:
            proc = subprocess.run(cmd, input=payload, capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"espeak-ng timed out after {timeout:.0f} s") from exc
        except OSError as exc:
            raise RuntimeError(f"espeak-ng could not start: {exc}") from exc
        if proc.returncode != 0:
            msg = _one_line(proc.stderr.decode("utf-8", "replace") or proc.stdout.decode("utf-8", "replace"))
            raise RuntimeError(f"espeak-ng failed (exit {proc.returncode}): {msg}")
        try:
            seconds = _wav_seconds(Path(tmp))
        except (wave.Error, EOFError, OSError) as exc:
            raise RuntimeError(f"espeak-ng wrote no readable WAV: {exc}") from exc
        os.replace(tmp, out_wav)
        return seconds
    finally:
        Path(tmp).unlink(missing_ok=True)


def voice_for(character: str) -> dict:
    """Stable espeak-ng settings for a character: {"voice": "en+f2", "pitch": int, "speed": int}.

    Derived from a hash of the normalised name (not Python's salted hash()), so the same character
    sounds the same in every run and process, and different names land on different variant/pitch/
    speed combinations (12 x 41 x 31 of them).
    """
    name = " ".join(character.split()).upper()
    h = hashlib.sha256(name.encode("utf-8")).digest()
    variant = _VARIANTS[h[0] % len(_VARIANTS)]
    return {
        "voice": f"en+{variant}",
        "pitch": 30 + h[1] % 41,  # 30-70: clearly different, never cartoonish
        "speed": 150 + h[2] % 31,  # 150-180 wpm nominal
    }


def estimate_duration(text: str, speed: int = 165) -> float:
    """How long a line takes to say, for silent reels: word rate plus short pauses at clause breaks."""
    words = len(text.split())
    rate = max(int(speed), 80) * _WPM_FACTOR / 60.0  # words per second
    body = text.strip().rstrip(".!?…")
    pauses = 0.1 * len(re.findall(r"[,;:—–]", body)) + 0.3 * len(re.findall(r"[.!?…]+\s", body))
    return max(1.0, words / rate + pauses)
