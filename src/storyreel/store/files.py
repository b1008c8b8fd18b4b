"""Where media live and what they are called.

Media sit in the project folder: ``{data}/{project}/images/``, ``videos/``, ``audio/``, ``output/`` and
``logs/``. Generated files are named ``{kind}_{sanitized_name}_{YYYYMMDD_HHMMSS}.{ext}``: lowercase, spaces to
underscores, anything outside ``[a-z0-9_-]`` removed, so a name can never leave its folder.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

from storyreel.errors import InputError

FOLDERS = ("images", "videos", "audio", "output", "logs", "uploads")
_PROJECT_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def sanitize(name: str, *, max_len: int = 60) -> str:
    """``"Shot 3: Café/../x"`` -> ``"shot_3_caf_x"``; never empty, never a path."""
    s = name.strip().lower().replace(" ", "_")
    s = re.sub(r"[^a-z0-9_-]", "", s)
    s = re.sub(r"_+", "_", s).strip("_-")
    return s[:max_len] or "untitled"


def check_project_name(name: str) -> str:
    """Project names are folder names: lowercase letters, digits, '-' and '_', 1-64 chars."""
    if not isinstance(name, str) or not _PROJECT_NAME.match(name):
        raise InputError(
            f"unsafe project name {name!r}: use 1-64 lowercase letters, digits, '-' or '_', starting with a "
            "letter or digit"
        )
    return name


def project_name_from(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.lower())
    stop = {"a", "an", "the", "of", "and", "to", "in", "on", "with", "who", "that", "for", "at", "by"}
    picked = [w for w in words if w not in stop][:4] or words[:4] or ["film"]
    return "-".join(picked)[:48].strip("-") or "film"


def stamp(now: datetime | None = None) -> str:
    return (now or datetime.now()).strftime("%Y%m%d_%H%M%S")


def media_name(kind: str, name: str, ext: str, now: datetime | None = None) -> str:
    return f"{sanitize(kind, max_len=20)}_{sanitize(name)}_{stamp(now)}.{sanitize(ext, max_len=5)}"


def inside(root: Path, candidate: Path | str) -> Path:
    """Resolve ``candidate`` (relative to root or absolute) and refuse anything outside ``root``."""
    root = Path(root).resolve()
    p = Path(candidate)
    p = (p if p.is_absolute() else root / p).resolve()
    if p != root and root not in p.parents:
        raise InputError(f"path {str(candidate)!r} is outside the project folder")
    return p


def unique_path(folder: Path, kind: str, name: str, ext: str) -> Path:
    """A fresh media path in ``folder``; a second file in the same second gets a numeric suffix."""
    folder.mkdir(parents=True, exist_ok=True)
    base = media_name(kind, name, ext)
    path = folder / base
    n = 1
    while path.exists():
        stem, dot, e = base.rpartition(".")
        path = folder / f"{stem}-{n}{dot}{e}"
        n += 1
    return path


def atomic_write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
