"""Conforming a clip to the film: hosted video models answer with their own length, frame rate and size.

The cut needs every clip at the film's frame size, 24 fps and exactly its shot's number of frames. ``conform``
streams the source once: each output frame takes the latest source frame at or before its time (so a different
frame rate is resampled and a short clip holds its last frame), scaled to cover the target and centre-cropped (the
film's aspect wins), and encodes H.264. It says in one line what it did, for the job's note.
"""

from __future__ import annotations

import math
import os
import tempfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from storyreel.media import video


def needs_conform(info: dict, *, width: int, height: int, fps: int, frames: int) -> bool:
    video = next((s for s in info["streams"] if s["type"] == "video"), None)
    if video is None:
        return True
    return ((video["width"], video["height"]) != (width, height) or abs((video.get("fps") or 0) - fps) > 0.01
            or video.get("frames") != frames)


def _cover(frame: av.VideoFrame, width: int, height: int) -> av.VideoFrame:
    scale = max(width / frame.width, height / frame.height)
    sw, sh = max(width, math.ceil(frame.width * scale)), max(height, math.ceil(frame.height * scale))
    rgb = frame.reformat(width=sw, height=sh, format="rgb24").to_ndarray()
    x, y = (sw - width) // 2, (sh - height) // 2
    out = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb[y:y + height, x:x + width]), format="rgb24")
    return out.reformat(format="yuv420p")


def conform(src: Path, dst: Path, *, width: int, height: int, fps: int, frames: int) -> str:
    """Write ``dst``: ``frames`` frames at ``fps``, ``width`` x ``height``. Returns what was done, in words."""
    if frames < 1:
        raise ValueError("a clip needs at least one frame")
    done: list[str] = []
    fd, tmp = tempfile.mkstemp(dir=Path(dst).parent, prefix=".conform-", suffix=".mp4")
    os.close(fd)
    try:
        with av.open(str(src)) as inp, av.open(tmp, "w", options={"movflags": "+faststart"}) as out:
            vin = next((s for s in inp.streams if s.type == "video"), None)
            if vin is None:
                raise ValueError(f"{Path(src).name} has no video stream")
            # the renderer's own encoder settings: identical SPS/PPS, so the cut can splice instead of re-encoding
            vout = video._add_h264(out, width, height, fps, "veryfast")
            src_frames = 0
            src_size = None
            current: av.VideoFrame | None = None
            source = inp.decode(vin)
            pending = next(source, None)
            start = pending.time if pending is not None and pending.time is not None else 0.0
            for i in range(frames):
                t = start + i / fps
                while pending is not None and (pending.time is None or pending.time <= t + 1e-6):
                    current = pending
                    src_frames += 1
                    pending = next(source, None)
                if current is None:
                    raise ValueError(f"{Path(src).name} has no decodable frame")
                src_size = src_size or (current.width, current.height)
                frame = _cover(current, width, height)
                frame.pts, frame.time_base = i, Fraction(1, fps)
                for packet in vout.encode(frame):
                    out.mux(packet)
            for packet in vout.encode(None):
                out.mux(packet)
            src_fps = float(vin.average_rate or 0)
            src_len = float(vin.duration * vin.time_base) if vin.duration else None
        os.replace(tmp, dst)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    if src_size and src_size != (width, height):
        done.append(f"scaled and cropped {src_size[0]}x{src_size[1]} to {width}x{height}")
    if src_fps and abs(src_fps - fps) > 0.01:
        done.append(f"resampled {src_fps:g} fps to {fps} fps")
    target = frames / fps
    if src_len is not None and src_len > target + 0.5 / fps:
        done.append(f"trimmed {src_len:.2f} s to {target:.2f} s")
    elif src_len is not None and src_len < target - 0.5 / fps:
        done.append(f"held the last frame {target - src_len:.2f} s to reach {target:.2f} s")
    return "; ".join(done) or "re-encoded to the film's format"
