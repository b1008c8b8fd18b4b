"""Clips from hosted models come in their own length, rate and size; the film needs its own."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np

from storyreel.media.conform import conform, needs_conform
from storyreel.media.video import probe


def _clip(path, *, width, height, fps, seconds):
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        for i in range(round(seconds * fps)):
            arr = np.full((height, width, 3), (i * 7) % 255, np.uint8)
            arr[:, : width // 2] = 30  # a left half that scaling must keep in place
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts, f.time_base = i, Fraction(1, fps)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    return path


def test_a_long_30fps_720p_clip_is_trimmed_resampled_and_scaled(tmp_path):
    src = _clip(tmp_path / "kling.mp4", width=320, height=180, fps=30, seconds=5)
    info = probe(src)
    assert needs_conform(info, width=384, height=216, fps=24, frames=90)
    note = conform(src, tmp_path / "out.mp4", width=384, height=216, fps=24, frames=90)
    out = probe(tmp_path / "out.mp4")
    v = out["streams"][0]
    assert (v["width"], v["height"], v["frames"]) == (384, 216, 90)
    assert v["fps"] == 24 and abs(out["duration"] - 3.75) < 1 / 24 + 1e-3
    assert "trimmed 5.00 s to 3.75 s" in note and "resampled 30 fps to 24 fps" in note and "scaled" in note
    assert not needs_conform(out, width=384, height=216, fps=24, frames=90)


def test_a_short_square_clip_holds_its_last_frame_and_is_cropped_to_the_aspect(tmp_path):
    src = _clip(tmp_path / "sq.mp4", width=200, height=200, fps=24, seconds=1)
    note = conform(src, tmp_path / "out.mp4", width=320, height=180, fps=24, frames=48)
    v = probe(tmp_path / "out.mp4")["streams"][0]
    assert (v["width"], v["height"], v["frames"]) == (320, 180, 48)
    assert "held the last frame" in note
    with av.open(str(tmp_path / "out.mp4")) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert np.abs(frames[-1].astype(int) - frames[30].astype(int)).mean() < 2  # held
