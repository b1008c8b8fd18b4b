"""Media files, served only from inside a project's own media folders.

The path is checked twice: by its text (no ``..``, no absolute path, no backslash or NUL, a known media folder
first, a known file type) and by where it really is (``files.inside`` resolves symlinks, so a link pointing
out of the project folder is refused). Anything refused is a plain 404 that tells nothing about the disk.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, Depends, Query
from fastapi.responses import FileResponse

from storyreel.errors import InputError, NotFound
from storyreel.store import files
from storyreel.web.context import Web, get_web

router = APIRouter(tags=["media"])

MEDIA_FOLDERS = ("images", "videos", "audio", "output", "uploads")
TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".webp": "image/webp",
    ".gif": "image/gif",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".ogg": "audio/ogg",
    ".srt": "text/plain; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".json": "application/json",
    ".otio": "application/json",
    ".pdf": "application/pdf",
    ".fountain": "text/plain; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".zip": "application/zip",
    ".csv": "text/csv; charset=utf-8",
}
ATTACH = (".srt", ".json", ".otio", ".fountain", ".txt", ".zip", ".csv", ".pdf")


def resolve(web: Web, name: str, path: str) -> Path:
    """The file ``path`` (relative to the project folder) of project ``name``, or NotFound."""
    gone = NotFound("no such file")
    try:
        pdir = web.studio.project_dir(name)
    except InputError:
        raise gone from None
    if not web.studio.store.exists(name):
        raise gone
    if not path or "\x00" in path or "\\" in path or path.startswith("/") or ":" in path:
        raise gone
    parts = PurePosixPath(path).parts
    if (
        not parts
        or parts[0] not in MEDIA_FOLDERS
        or any(p in ("..", ".", "") for p in parts)
        or len(parts) > 8
    ):
        raise gone
    if Path(path).suffix.lower() not in TYPES:
        raise gone
    try:
        real = files.inside(pdir, path)
    except InputError:
        raise gone from None
    if not real.is_file():
        raise gone
    return real


@router.get("/media/{name}/{path:path}", summary="A media file of a project (images, videos, audio, output)")
def media(name: str, path: str, download: bool = Query(False), web: Web = Depends(get_web)) -> FileResponse:
    real = resolve(web, name, path)
    ext = real.suffix.lower()
    mtype = TYPES.get(ext) or mimetypes.guess_type(real.name)[0] or "application/octet-stream"
    attach = download or ext in ATTACH
    return FileResponse(
        real,
        media_type=mtype,
        filename=real.name if attach else None,
        content_disposition_type="attachment" if attach else "inline",
        headers={"Cache-Control": "private, max-age=3600"},
    )
