"""concat's splice path: copy what no transition touches, re-encode only the transition windows.

Every spliced reel here is checked against the old decode-everything path (mode="full") and against the
source clips: strict decoding (libav's error detection on, no decoder warnings), frame-exact timestamps,
bit-identical copied frames, and re-encoded frames within 35 dB PSNR of the full re-encode.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import av.logging
import numpy as np
import pytest
from PIL import Image, ImageDraw

from storyreel.media import audio as A
from storyreel.media import concat as C
from storyreel.media import video as V

W, H = 320, 180
FPS = V.FPS
T = round(V.SPLICE_KEY_SECONDS * FPS)  # 12: the transition window render_clip prepares for


def _still(path: Path, color: tuple[int, int, int], seed: int) -> Path:
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (640, 360), color)
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x, y, r = int(rng.integers(0, 640)), int(rng.integers(0, 360)), int(rng.integers(10, 60))
        draw.ellipse([x - r, y - r, x + r, y + r], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    for x in range(0, 640, 40):
        draw.line([(x, 0), (x, 360)], fill=(255, 255, 255), width=3)
    img.save(path)
    return path


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("concat")
    colors = [(20, 40, 200), (200, 20, 20), (20, 160, 40)]
    stills = [_still(d / f"s{i}.png", c, i) for i, c in enumerate(colors)]
    moves = ["push-in", "pan-left", "static", "pull-out", "tilt-up"]
    clips = [V.render_clip(d / f"c{i}.mp4", first=stills[i % 3], last=stills[(i + 1) % 3] if i == 2 else None,
                           duration=3.0, width=W, height=H, camera_move=m).path for i, m in enumerate(moves)]
    return {"dir": d, "stills": stills, "clips": clips}


# ------------------------------------------------------------------------------------------------ helpers


def _strict_frames(path: Path) -> list[av.VideoFrame]:
    """Every frame, decoded with libav's error detection on; any decoder warning fails the test."""
    av.logging.set_level(av.logging.VERBOSE)
    try:
        with av.logging.Capture() as logs, av.open(str(path)) as c:
            s = c.streams.video[0]
            s.codec_context.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
            frames = list(c.decode(s))
    finally:
        av.logging.set_level(None)
    problems = [(lvl, name, msg) for lvl, name, msg in logs if lvl <= av.logging.WARNING]
    assert not problems, problems
    return frames


def _yuv(frames: list[av.VideoFrame]) -> list[np.ndarray]:
    return [f.to_ndarray().astype(np.float64) for f in frames]


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def _video_packets(path: Path) -> list[av.Packet]:
    with av.open(str(path)) as c:
        return [p for p in c.demux(c.streams.video[0]) if p.size]


def _idr_frames(path: Path) -> list[int]:
    """Display slots of the IDR pictures (nal_unit_type 5) of an MP4's H.264 track."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        size = C._avcc_parameter_sets(bytes(s.codec_context.extradata))[0]
        return sorted(int(p.pts * s.time_base * FPS) for p in c.demux(s)
                      if p.size and 5 in C._nal_types(bytes(p), size))


def _check_reel(path: Path, r: dict) -> list[av.VideoFrame]:
    """Container-level facts every reel must have, and its strictly decoded frames."""
    p = V.probe(path)
    v = next(s for s in p["streams"] if s["type"] == "video")
    assert (v["codec"], v["width"], v["height"], v["pix_fmt"]) == ("h264", W, H, "yuv420p")
    assert v["profile"] in ("High", "Main") and v["fps"] == pytest.approx(FPS)
    assert v["frames"] == r["frames"]
    assert p["duration"] == pytest.approx(r["duration"], abs=1 / FPS)
    assert p["faststart"] is True
    pkts = _video_packets(path)
    dts = [pk.dts for pk in pkts]
    assert all(b - a == 1 for a, b in zip(dts, dts[1:], strict=False)), "dts rises one frame per packet"
    assert all(pk.dts <= pk.pts for pk in pkts)
    assert sorted(pk.pts for pk in pkts) == list(range(r["frames"]))  # one packet per 1/24 s slot
    frames = _strict_frames(path)
    assert len(frames) == r["frames"]
    assert [f.pts for f in frames] == list(range(r["frames"]))
    assert all(f.time_base == Fraction(1, FPS) for f in frames)
    return frames


def _starts(clips: list[Path], transitions: list[str], overlap: int) -> list[int]:
    starts = [0]
    for c, t in zip(clips[:-1], transitions, strict=True):
        n = len(_video_packets(c))
        starts.append(starts[-1] + n - (overlap if t == "crossfade" else 0))
    return starts


# -------------------------------------------------------------------------------------------------- tests


def test_render_clip_places_splice_keyframes(media):
    assert _idr_frames(media["clips"][0]) == [0, T, 72 - T]  # 3 s: 0.5 s from each end (+ the 2 s GOP)
    long = V.render_clip(media["dir"] / "long.mp4", first=media["stills"][0], last=None, duration=6.0,
                         width=W, height=H, camera_move="push-in")
    keys = _idr_frames(long.path)
    assert {0, T, 144 - T} <= set(keys)
    assert max(b - a for a, b in zip(keys, keys[1:], strict=False)) <= 2 * FPS  # scrubbing stays responsive
    one = V.render_clip(media["dir"] / "one.mp4", first=media["stills"][0], last=None, duration=0.01,
                        width=W, height=H)
    assert _idr_frames(one.path) == [0]
    scan = C._scan(media["clips"][0], FPS)
    assert scan.cuts == {0, T, 72 - T} and scan.frames == 72


def test_splice_matches_full_reencode(media):
    d, clips = media["dir"], media["clips"]
    transitions = ["crossfade", "fade-to-black", "cut", "crossfade"]
    r = V.concat(clips, transitions, d / "splice.mp4")
    full = V.concat(clips, transitions, d / "full.mp4", mode="full")
    assert r["method"] == "splice" and full["method"] == "full"
    frames = 5 * 72 - 2 * T
    assert r["frames"] == full["frames"] == frames
    assert r["duration"] == full["duration"] == pytest.approx(15.0 - 2 * 0.5)
    # two crossfades re-encode their overlap, the fade to black its 0.5 s on each side; the rest is copied
    assert r["reencoded"] is True and r["reencoded_seconds"] == pytest.approx((T + 2 * T + T) / FPS)
    assert full["reencoded_seconds"] == pytest.approx(full["duration"])

    got = _yuv(_check_reel(d / "splice.mp4", r))
    ref = _yuv(_check_reel(d / "full.mp4", full))
    worst = min(_psnr(a, b) for a, b in zip(got, ref, strict=True))
    assert worst > 35, f"spliced reel departs from the full re-encode: {worst:.1f} dB"

    # copied stretches are the clips' own pictures, bit for bit (a broken reference chain would not be)
    starts = _starts(clips, transitions, T)
    for i, k in [(0, 0), (0, 30), (0, 72 - T - 1), (1, T), (1, 40), (3, 0), (3, 71 - T), (4, 71)]:
        src = _yuv(_strict_frames(clips[i]))[k]
        assert np.array_equal(got[starts[i] + k], src), (i, k)
    # the re-encoded windows hold the transitions: mid crossfade blends, the fade reaches black
    mid = starts[1] - T // 2 + T  # inside clip0 -> clip1's overlap
    a = _yuv(_strict_frames(clips[0]))[72 - T // 2]
    b = _yuv(_strict_frames(clips[1]))[T // 2]
    assert _psnr(got[mid], (a + b) / 2) > _psnr(got[mid], a) + 3
    black = starts[2] - 1
    assert got[black][:H].mean() < 20 and got[black + 1][:H].mean() < 20


def test_splice_with_audio_and_seek(media):
    d, clips = media["dir"], media["clips"][:3]
    dur = 3 * 3.0 - 0.5
    bed = A.music_bed([(0.0, dur, 100, "minor")], dur + 1.0, d / "bed.wav", seed=3)
    out = d / "av.mp4"
    r = V.concat(clips, ["crossfade", "cut"], out, audio=bed)
    assert r["method"] == "splice" and r["reencoded_seconds"] == pytest.approx(T / FPS)
    p = V.probe(out)
    a = next(s for s in p["streams"] if s["type"] == "audio")
    assert (a["codec"], a["sample_rate"]) == ("aac", 48000)
    assert a["duration"] == pytest.approx(r["duration"], abs=1 / FPS)
    _check_reel(out, r)
    png = V.last_frame(out, d / "av-last.png")  # seeks to an IDR near the end, then decodes forward
    last = np.asarray(Image.open(png).convert("RGB"), np.int16)
    with av.open(str(out)) as c:
        ref = [f for f in c.decode(video=0)][-1].to_ndarray(format="rgb24").astype(np.int16)
    assert np.abs(last - ref).mean() < 1


def test_windows_that_meet_reencode_whole_short_clips(media):
    """1 s and 25-frame clips between two transitions: the windows cover (nearly) the whole clip."""
    d, s = media["dir"], media["stills"]
    short = [V.render_clip(d / f"short{i}.mp4", first=s[i % 3], last=None, duration=dur, width=W, height=H,
                           camera_move="push-in").path
             for i, dur in enumerate([2.0, 1.0, 25 / FPS, 2.0])]
    transitions = ["crossfade", "fade-to-black", "crossfade"]
    plan = C._splice_plan(short, transitions, [T, T, T, 0], [48, 24, 25, 48], FPS)
    assert plan is not None
    lengths = [C._piece_frames(p, transitions, [T, T, T, 0]) for p in plan.pieces]
    assert min(lengths) >= 2  # the lone IDR frame 12 of the 25-frame clip was folded into its neighbours
    r = V.concat(short, transitions, d / "short.mp4")
    full = V.concat(short, transitions, d / "short-full.mp4", mode="full")
    assert r["method"] == "splice" and r["frames"] == full["frames"] == 48 + 24 + 25 + 48 - 2 * T
    assert 0 < r["reencoded_seconds"] < r["duration"]
    got, ref = _yuv(_check_reel(d / "short.mp4", r)), _yuv(_check_reel(d / "short-full.mp4", full))
    assert min(_psnr(a, b) for a, b in zip(got, ref, strict=True)) > 35


def test_clips_without_splice_keys_use_longer_windows(media, monkeypatch):
    """Clips rendered before the extra IDRs existed still splice, from their 2 s keyframes."""
    d, s = media["dir"], media["stills"]
    monkeypatch.setattr(V, "SPLICE_KEY_SECONDS", 0.0)
    old = [V.render_clip(d / f"old{i}.mp4", first=s[i], last=None, duration=3.0, width=W, height=H,
                         camera_move="pan-right").path for i in range(2)]
    assert _idr_frames(old[0]) == [0, 48]
    r = V.concat(old, ["crossfade"], d / "old.mp4")
    assert r["method"] == "splice"
    assert r["reencoded_seconds"] == pytest.approx((72 - 48 + 48 - T) / FPS)  # A from 48, B up to its 48
    full = V.concat(old, ["crossfade"], d / "old-full.mp4", mode="full")
    got, ref = _yuv(_check_reel(d / "old.mp4", r)), _yuv(_check_reel(d / "old-full.mp4", full))
    assert min(_psnr(a, b) for a, b in zip(got, ref, strict=True)) > 35


def test_other_transition_lengths(media):
    d, clips = media["dir"], media["clips"][:2]
    for seconds in (0.25, 1.0):
        r = V.concat(clips, ["crossfade"], d / f"ts{seconds}.mp4", transition_seconds=seconds)
        n = round(seconds * FPS)
        assert r["method"] == "splice" and r["frames"] == 144 - n
        # the window runs back to A's last IDR before the overlap and on to B's first IDR after it
        a0 = max(k for k in (0, T, 72 - T) if k <= 72 - n)
        b1 = min(k for k in (0, T, 72 - T) if k >= n)
        assert r["reencoded_seconds"] == pytest.approx((72 - a0 + b1 - n) / FPS)
        _check_reel(d / f"ts{seconds}.mp4", r)


def test_mismatched_clips_fall_back_to_full(media):
    d, s = media["dir"], media["stills"]
    fast = V.render_clip(d / "fast.mp4", first=s[1], last=None, duration=1.0, width=W, height=H,
                         preset="ultrafast")
    r = V.concat([media["clips"][0], fast.path], ["crossfade"], d / "mixed.mp4")
    assert r["method"] == "full" and r["reencoded_seconds"] == pytest.approx(r["duration"])
    _check_reel(d / "mixed.mp4", r)


def test_splice_error_midway_falls_back_to_full(media, monkeypatch):
    d, clips = media["dir"], media["clips"][:3]

    def broken(*args, **kwargs):
        raise C._SpliceError("simulated")
        yield  # pragma: no cover

    monkeypatch.setattr(C, "_reencoded", broken)
    out = d / "fallback.mp4"
    r = V.concat(clips, ["cut", "fade-to-black"], out)
    assert r["method"] == "full" and r["frames"] == 3 * 72
    _check_reel(out, r)
    assert not list(d.glob(".fallback.mp4.*")), "the half-written splice attempt leaves no temp file"


def test_cut_only_reels_still_remux(media):
    r = V.concat(media["clips"][:3], ["cut", "cut"], media["dir"] / "cuts.mp4")
    assert r == {"duration": 9.0, "frames": 216, "reencoded": False, "reencoded_seconds": 0.0,
                 "method": "remux"}


def test_concat_rejects_unknown_mode(media):
    with pytest.raises(ValueError, match="mode"):
        V.concat(media["clips"][:2], ["cut"], media["dir"] / "x.mp4", mode="fast")


def test_concat_importable_from_video():
    from storyreel.media.video import concat

    assert concat is C.concat
