"""The ``local`` provider: every capability, offline, honest about what it is.

Text comes from the deterministic draft writer; images from the previz sketcher (storyboard panels and reference
sheets drawn with Pillow); video from the animatic renderer (camera moves over the keyframes, encoded with PyAV);
speech from espeak-ng when it is installed (else silent lines with subtitles); music from a procedural NumPy bed.
CPU-heavy work runs in a process pool, one shot per process, so shots render in parallel across cores.
"""

from __future__ import annotations

import asyncio
import ctypes
import functools
import json
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from storyreel.errors import FatalProviderError
from storyreel.providers.base import (
    Call,
    ImageRequest,
    ImageResult,
    MusicRequest,
    MusicResult,
    SpeechRequest,
    SpeechResult,
    TextRequest,
    TextResult,
    VideoRequest,
    VideoResult,
)
from storyreel.providers.local import writer

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()
_kept = False  # pool() was called from outside: keep the processes until shutdown_pool()
_busy = 0  # jobs submitted by this provider and not finished
_idle_timer: threading.Timer | None = None
# The provider's own jobs let the pool go after this long without work, so the render processes (a few hundred MB
# each) do not sit idle beside the cut; the next job starts a new pool (forking takes milliseconds).
IDLE_SECONDS = float(os.environ.get("STORYREEL_POOL_IDLE_SECONDS") or 2.0)


def _make_pool() -> ProcessPoolExecutor:
    global _pool
    if _pool is None:
        workers = int(os.environ.get("STORYREEL_RENDER_WORKERS") or max(1, os.cpu_count() or 1))
        _pool = ProcessPoolExecutor(max_workers=workers, initializer=_die_with_parent)
    return _pool


def _die_with_parent() -> None:
    """A render process must not outlive the run that started it (kill -9 of `storyreel run` included).

    A watchdog thread rather than PR_SET_PDEATHSIG: that signal follows the *thread* that forked the worker, and
    pools may be made from short-lived threads (web runs, celery tasks)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def pool() -> ProcessPoolExecutor:
    """The render pool, kept until shutdown_pool() (a celery worker makes it before its threads start)."""
    global _kept
    with _lock:
        _kept = True
        return _make_pool()


def shutdown_pool() -> None:
    global _pool, _kept, _idle_timer
    with _lock:
        if _idle_timer is not None:
            _idle_timer.cancel()
            _idle_timer = None
        if _pool is not None:
            _pool.shutdown(wait=False, cancel_futures=True)
            _pool = None
        _kept = False


def _shutdown_if_idle(ex: ProcessPoolExecutor) -> None:
    global _pool, _idle_timer
    with _lock:
        if _pool is ex and _busy == 0 and not _kept:
            _pool.shutdown(wait=False)
            _pool = None
        _idle_timer = None


async def _run(fn, *args) -> Any:
    """Run fn(*args) in the pool; when the pool has had no work for IDLE_SECONDS, let it go."""
    global _busy, _idle_timer
    with _lock:
        if _idle_timer is not None:
            _idle_timer.cancel()
            _idle_timer = None
        ex = _make_pool()
        _busy += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(ex, fn, *args)
    finally:
        with _lock:
            _busy -= 1
            if _busy == 0 and _pool is ex and not _kept and IDLE_SECONDS >= 0:
                _idle_timer = threading.Timer(IDLE_SECONDS, _shutdown_if_idle, (ex,))
                _idle_timer.daemon = True
                _idle_timer.start()


# --- work done in the pool's processes (module-level functions: picklable) ----------------------------------


@functools.cache
def _malloc_trim():
    """glibc's malloc_trim, or None (another OS or C library: nothing to do)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION").startswith("glibc"):
            return None
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (AttributeError, OSError, ValueError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def _release_memory() -> None:
    """Give the memory a job freed back to the OS. glibc keeps freed heap (x264's frames, NumPy and Pillow
    buffers, spread over the arenas of x264's threads) mapped in the process, so without this an idle worker
    holds on to most of its last job's peak."""
    trim = _malloc_trim()
    if trim is not None:
        try:
            trim(0)
        except Exception:  # best effort: a failed trim costs memory, never the job
            pass


def _draw(spec: dict[str, Any], width: int, height: int) -> bytes:
    from storyreel.providers.local import sketch

    try:
        if spec.get("sheet"):
            img = sketch.draw_reference(spec["kind"], spec["view"], spec["name"], spec.get("description", ""),
                                        spec.get("state", ""), width, height)
        else:
            img = sketch.draw_frame(spec, width, height)
        return sketch.encode_png(img)
    finally:
        img = None
        _release_memory()


def _render(req: dict[str, Any]) -> dict[str, Any]:
    from storyreel.media import video

    try:
        info = video.render_clip(Path(req["out"]), first=Path(req["first"]), last=Path(req["last"]) if req["last"]
                                 else None, duration=req["duration"], width=req["width"], height=req["height"],
                                 camera_move=req["move"], fps=req["fps"],
                                 start_from=Path(req["start_from"]) if req["start_from"] else None)
        return {"frames": info.frames, "duration": info.duration}
    finally:
        _release_memory()


class LocalProvider:
    """Adapter protocol (see providers/router.py): name, capabilities(), text/image/video/speech/music."""

    name = "local"

    def capabilities(self) -> set[str]:
        return {"text", "image", "video:text-to-video", "video:image-to-video", "video:first-last-frame",
                "video:continue", "speech", "music"}

    async def text(self, req: TextRequest, route: Any = None, call: Call | None = None) -> TextResult:
        data = writer.draft(req.step, req.context)
        try:
            out = req.output.model_validate(data)
        except ValidationError as e:  # the draft writer must honour the schema it is given, like any model
            raise FatalProviderError(f"draft writer produced an invalid {req.step} answer: "
                                     f"{e.errors()[0]['msg']}") from None
        return TextResult(output=out, raw=json.dumps(data, ensure_ascii=False), model="local:draft")

    async def image(self, req: ImageRequest, route: Any = None, call: Call | None = None) -> ImageResult:
        data = await _run(_draw, req.spec, req.width, req.height)
        return ImageResult(data=data, mime="image/png", model="local:previz")

    async def video(self, req: VideoRequest, route: Any = None, call: Call | None = None) -> VideoResult:
        spec = req.spec or {}
        keyframe = spec.get("keyframe_path") or req.first_frame
        start_from = req.first_frame if req.strategy == "continue" else None
        if req.strategy == "continue":
            keyframe = spec.get("keyframe_path") or req.last_frame or req.first_frame
        if keyframe is None:
            raise FatalProviderError("the animatic renderer needs at least one keyframe")
        last = req.last_frame if req.strategy in ("first-last-frame", "continue") else None
        job = {"out": str(req.out_path), "first": str(keyframe), "last": str(last) if last else None,
               "duration": req.duration, "width": req.width, "height": req.height,
               "move": spec.get("camera_move", "static"), "fps": req.fps,
               "start_from": str(start_from) if start_from else None}
        await _run(_render, job)
        return VideoResult(path=req.out_path, strategy=req.strategy, model="local:animatic",
                           note="animatic: camera move over the keyframes")

    async def speech(self, req: SpeechRequest, route: Any = None, call: Call | None = None) -> SpeechResult:
        from storyreel.media import voice

        params = voice.voice_for(req.voice)
        duration = await asyncio.to_thread(voice.speak, req.text, req.out_path, **params)
        if duration is None:
            return SpeechResult(path=None, duration=voice.estimate_duration(req.text), voice="silent (subtitles)")
        return SpeechResult(path=req.out_path, duration=duration, voice="espeak-ng")

    async def music(self, req: MusicRequest, route: Any = None, call: Call | None = None) -> MusicResult:
        from storyreel.media import audio

        cues = [(c.start, c.duration, c.tempo, c.mode) for c in req.cues]
        await asyncio.to_thread(audio.music_bed, cues, req.duration, req.out_path, seed=req.seed)
        return MusicResult(path=req.out_path, model="local:music")
