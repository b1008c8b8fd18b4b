"""Video layer tests on real files: render, decode and probe what was written."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image, ImageDraw

from storyreel.media import audio as A
from storyreel.media import video as V

W, H = 320, 180
FPS = V.FPS


def _keyframe(path: Path, color: tuple[int, int, int]) -> Path:
    """A coloured frame with stripes and a disc: enough structure that any camera move changes pixels."""
    img = Image.new("RGB", (640, 360), color)
    draw = ImageDraw.Draw(img)
    for x in range(0, 640, 40):
        draw.line([(x, 0), (x, 360)], fill=(255, 255, 255), width=3)
    draw.ellipse([200, 110, 440, 250], fill=(255, 210, 0))
    img.save(path)
    return path


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24").astype(np.int16) for f in c.decode(video=0)]


def _mean_rgb(img: np.ndarray) -> np.ndarray:
    return img.reshape(-1, 3).mean(axis=0)


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    d = tmp_path_factory.mktemp("video")
    blue = _keyframe(d / "blue.png", (20, 40, 200))
    red = _keyframe(d / "red.png", (200, 20, 20))
    clips = [
        V.render_clip(d / "c0.mp4", first=blue, last=None, duration=1.0, width=W, height=H).path,
        V.render_clip(
            d / "c1.mp4", first=red, last=None, duration=1.0, width=W, height=H, camera_move="push-in"
        ).path,
        V.render_clip(
            d / "c2.mp4", first=blue, last=red, duration=1.5, width=W, height=H, camera_move="pan-left"
        ).path,
    ]
    return {"dir": d, "blue": blue, "red": red, "clips": clips}


@pytest.mark.parametrize("move", V.CAMERA_MOVES)
def test_render_clip_every_move(media, move):
    out = media["dir"] / f"move-{move}.mp4"
    info = V.render_clip(
        out, first=media["blue"], last=media["red"], duration=1.25, width=W, height=H, camera_move=move
    )
    n = round(1.25 * FPS)
    assert info == V.ClipInfo(path=out, frames=n, duration=n / FPS, width=W, height=H)
    p = V.probe(out)
    (s,) = p["streams"]
    assert (s["type"], s["codec"], s["width"], s["height"], s["frames"]) == ("video", "h264", W, H, n)
    assert s["fps"] == pytest.approx(FPS)
    assert s["pix_fmt"] == "yuv420p"
    assert p["duration"] == pytest.approx(n / FPS, abs=1 / FPS)
    assert len(_frames(out)) == n
    with av.open(str(out)) as c:
        assert c.streams.video[0].time_base.denominator == FPS
    assert not list(media["dir"].glob(".*.part")), "temp files must be renamed away"


def test_frame_count_rounds_duration(media):
    out = media["dir"] / "odd.mp4"
    info = V.render_clip(
        out, first=media["blue"], last=None, duration=0.77, width=W, height=H, camera_move="tilt-up"
    )
    assert info.frames == round(0.77 * FPS) == len(_frames(out))
    tiny = V.render_clip(
        media["dir"] / "tiny.mp4", first=media["blue"], last=None, duration=0.001, width=W, height=H
    )
    assert tiny.frames == 1 == len(_frames(tiny.path))


def test_push_in_moves_pixels_static_does_not(media):
    d = media["dir"]
    V.render_clip(
        d / "pi.mp4", first=media["blue"], last=None, duration=1.0, width=W, height=H, camera_move="push-in"
    )
    V.render_clip(d / "st.mp4", first=media["blue"], last=None, duration=1.0, width=W, height=H)
    pi, st = _frames(d / "pi.mp4"), _frames(d / "st.mp4")
    assert np.abs(pi[0] - pi[-1]).mean() > 10
    # a static shot does not move: only x264's re-coding of the picture at the IDR 0.5 s in differs
    assert np.abs(st[0] - st[-1]).mean() < 4
    assert np.abs(st[0] - st[round(V.SPLICE_KEY_SECONDS * FPS) - 1]).mean() < 1

    # a push-in magnifies the centre: the yellow disc covers more of the last frame than the first
    def disc(f):
        return ((f[..., 0] > 180) & (f[..., 1] > 150) & (f[..., 2] < 100)).mean()

    assert disc(pi[-1]) > disc(pi[0]) * 1.15


def test_pan_and_tilt_directions(media):
    d = media["dir"]
    cols = {}
    for move in ("pan-left", "pan-right", "tilt-up", "tilt-down"):
        V.render_clip(
            d / f"dir-{move}.mp4",
            first=media["blue"],
            last=None,
            duration=1.0,
            width=W,
            height=H,
            camera_move=move,
        )
        fr = _frames(d / f"dir-{move}.mp4")

        def centroid(f):
            ys, xs = np.nonzero((f[..., 0] > 180) & (f[..., 1] > 150) & (f[..., 2] < 100))
            return xs.mean(), ys.mean()

        (x0, y0), (x1, y1) = centroid(fr[0]), centroid(fr[-1])
        cols[move] = (x1 - x0, y1 - y0)
    assert cols["pan-right"][0] < -5  # camera turns right: the subject drifts left in frame
    assert cols["pan-left"][0] > 5
    assert cols["tilt-up"][1] > 5  # camera looks up: the subject drifts down
    assert cols["tilt-down"][1] < -5


def test_dissolve_first_to_last(media):
    out = media["dir"] / "diss.mp4"
    V.render_clip(out, first=media["blue"], last=media["red"], duration=1.5, width=W, height=H)
    fr = _frames(out)
    r0, r1 = _mean_rgb(fr[0]), _mean_rgb(fr[-1])
    assert r0[2] > r0[0] + 50 and r1[0] > r1[2] + 50  # starts blue, ends red
    assert np.abs(fr[0] - fr[len(fr) // 4]).mean() < 2  # holds the first keyframe for the first third
    mid = _mean_rgb(fr[len(fr) // 2])
    assert min(r0[0], r1[0]) + 20 < mid[0] < max(r0[0], r1[0]) - 20  # a real blend in the middle


def test_start_from_continues_previous_clip(media):
    d = media["dir"]
    prev = V.render_clip(
        d / "prev.mp4", first=media["red"], last=None, duration=1.0, width=W, height=H, camera_move="pull-out"
    )
    png = V.last_frame(prev.path, d / "prev-last.png")
    out = d / "cont.mp4"
    V.render_clip(
        out,
        first=media["blue"],
        last=None,
        duration=1.0,
        width=W,
        height=H,
        camera_move="push-in",
        start_from=png,
    )
    fr = _frames(out)
    seed = np.asarray(Image.open(png).convert("RGB"), np.int16)
    assert np.abs(fr[0] - seed).mean() < 6  # the first frame is the previous clip's last frame
    assert _mean_rgb(fr[0])[0] > _mean_rgb(fr[0])[2] + 50  # red
    late = _mean_rgb(fr[FPS // 2 + 2])
    assert late[2] > late[0] + 50  # blue within ~0.5 s


def test_last_frame_png(media):
    out = V.last_frame(media["clips"][2], media["dir"] / "sub" / "last.png")
    img = np.asarray(Image.open(out).convert("RGB"), np.int16)
    assert img.shape == (H, W, 3)
    assert np.abs(img - _frames(media["clips"][2])[-1]).mean() < 1


def test_render_clip_rejects_bad_input(media):
    d = media["dir"]
    with pytest.raises(ValueError, match="dolly-zoom"):
        V.render_clip(
            d / "x.mp4",
            first=media["blue"],
            last=None,
            duration=1,
            width=W,
            height=H,
            camera_move="dolly-zoom",
        )
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="duration"):
            V.render_clip(d / "x.mp4", first=media["blue"], last=None, duration=bad, width=W, height=H)
    with pytest.raises(ValueError):
        V.render_clip(d / "x.mp4", first=media["blue"], last=None, duration=1, width=321, height=H)
    with pytest.raises(FileNotFoundError):
        V.render_clip(d / "x.mp4", first=d / "missing.png", last=None, duration=1, width=W, height=H)
    assert not (d / "x.mp4").exists()
    assert not list(d.glob(".x.mp4.*")), "a failed render leaves no temp file"


def _packet_bytes(path: Path) -> int:
    with av.open(str(path)) as c:
        return sum(p.size for p in c.demux(c.streams.video[0]) if p.size)


def test_concat_cut_remuxes_without_reencoding(media):
    clips, out = media["clips"], media["dir"] / "cut.mp4"
    r = V.concat(clips, ["cut", "cut"], out)
    total = sum(V.probe(c)["streams"][0]["frames"] for c in clips)
    assert r == {"duration": total / FPS, "frames": total, "reencoded": False, "reencoded_seconds": 0.0,
                 "method": "remux"}
    assert _packet_bytes(out) == sum(_packet_bytes(c) for c in clips)
    p = V.probe(out)
    (s,) = p["streams"]
    assert p["duration"] == pytest.approx(total / FPS, abs=1 / FPS)
    assert s["frames"] == total == len(_frames(out))
    # playable in a browser: H.264 High/Main, yuv420p, moov ahead of mdat
    assert s["profile"] in ("High", "Main") and s["pix_fmt"] == "yuv420p"
    assert p["faststart"] is True
    with open(out, "rb") as fh:
        head = fh.read(64)
    assert head.index(b"moov") < 64


def test_concat_crossfade_overlaps(media):
    clips, out = media["clips"], media["dir"] / "xfade.mp4"
    r = V.concat(clips, ["crossfade", "crossfade"], out, transition_seconds=0.5)
    total = sum(V.probe(c)["duration"] for c in clips)
    assert r["reencoded"] is True and 0 < r["reencoded_seconds"] <= r["duration"]
    assert r["duration"] == pytest.approx(total - 2 * 0.5, abs=1 / FPS)
    assert V.probe(out)["duration"] == pytest.approx(total - 1.0, abs=1 / FPS)
    fr = _frames(out)
    assert len(fr) == r["frames"]
    # halfway through the first overlap (clip0 blue static -> clip1 red) the frame is a mix of both
    mid = _mean_rgb(fr[FPS - 6])
    assert 60 < mid[0] < 170 and 60 < mid[2] < 170


def test_concat_fade_to_black(media):
    clips, out = media["clips"], media["dir"] / "ftb.mp4"
    r = V.concat(clips, ["fade-to-black", "cut"], out, transition_seconds=0.5)
    total = sum(V.probe(c)["duration"] for c in clips)
    assert r["duration"] == pytest.approx(total, abs=1 / FPS)
    assert V.probe(out)["duration"] == pytest.approx(total, abs=1 / FPS)
    fr = _frames(out)
    luma = [f.mean() for f in fr]
    assert luma[FPS - 1] < 25 and luma[FPS] < 25  # the boundary frames are black
    assert luma[FPS - 6] < luma[FPS - 12] * 0.75  # fading out
    assert luma[FPS + 6] < luma[FPS + 12] * 0.75  # fading in
    assert luma[FPS // 4] > 60 and luma[-1] > 60


def test_concat_with_audio(media):
    d, clips = media["dir"], media["clips"]
    dur = sum(V.probe(c)["duration"] for c in clips)
    bed = A.music_bed([(0.0, dur, 100, "minor")], dur + 2.0, d / "bed.wav", seed=2)  # longer: trimmed
    for transitions in (["cut", "cut"], ["crossfade", "fade-to-black"]):
        out = d / f"av-{transitions[0]}.mp4"
        r = V.concat(clips, transitions, out, audio=bed)
        p = V.probe(out)
        kinds = sorted((s["type"], s["codec"]) for s in p["streams"])
        assert kinds == [("audio", "aac"), ("video", "h264")]
        v = next(s for s in p["streams"] if s["type"] == "video")
        a = next(s for s in p["streams"] if s["type"] == "audio")
        assert v["fps"] == pytest.approx(24) and a["sample_rate"] == 48000 and a["channels"] == 2
        assert p["duration"] == pytest.approx(r["duration"], abs=1 / FPS)
        assert a["duration"] == pytest.approx(r["duration"], abs=1 / FPS)
        assert p["faststart"] is True
        with av.open(str(out)) as c:
            pcm = np.concatenate([f.to_ndarray() for f in c.decode(audio=0)], axis=1)
        assert np.abs(pcm).max() > 0.05  # the music made it into the file


def test_concat_pads_short_audio(media):
    d, clips = media["dir"], media["clips"][:2]
    A.write_wav(d / "short.wav", np.full((4800, 1), 0.2, np.float32), 22050)
    out = d / "pad.mp4"
    r = V.concat(clips, ["cut"], out, audio=d / "short.wav")
    a = next(s for s in V.probe(out)["streams"] if s["type"] == "audio")
    assert a["duration"] == pytest.approx(r["duration"], abs=1 / FPS)


def test_concat_rejects_bad_transitions(media):
    clips, out = media["clips"], media["dir"] / "bad.mp4"
    with pytest.raises(ValueError, match="transitions"):
        V.concat(clips, ["cut"], out)
    with pytest.raises(ValueError, match="wipe"):
        V.concat(clips, ["cut", "wipe"], out)
    assert not out.exists()


def test_concat_single_clip(media):
    r = V.concat(media["clips"][:1], [], media["dir"] / "one.mp4")
    assert r["frames"] == FPS and r["reencoded"] is False


def test_concat_cut_of_mismatched_clips_reencodes(media):
    d = media["dir"]
    other = V.render_clip(d / "small.mp4", first=media["red"], last=None, duration=0.5, width=160, height=90)
    fast = V.render_clip(
        d / "fast.mp4", first=media["red"], last=None, duration=0.5, width=W, height=H, preset="ultrafast"
    )
    out = d / "mixed.mp4"
    r = V.concat([media["clips"][0], other.path, fast.path], ["cut", "cut"], out)
    assert r["reencoded"] is True  # different SPS/PPS cannot share one avcC: decoded and re-encoded
    assert r["frames"] == FPS + 12 + 12
    (s,) = V.probe(out)["streams"]
    assert (s["width"], s["height"], s["frames"]) == (W, H, r["frames"])


def test_last_frame_of_long_reel_seeks(media):
    d = media["dir"]
    clips = media["clips"] + media["clips"]
    reel = d / "long.mp4"
    r = V.concat(clips, ["cut"] * 5, reel)
    assert r["duration"] > 3  # long enough for last_frame to seek instead of decoding everything
    png = V.last_frame(reel, d / "long-last.png")
    img = np.asarray(Image.open(png).convert("RGB"), np.int16)
    assert np.abs(img - _frames(reel)[-1]).mean() < 1


def test_killed_render_leaves_no_output(media, tmp_path):
    import subprocess
    import sys
    import time

    out = tmp_path / "killed.mp4"
    code = (
        "from pathlib import Path; from storyreel.media.video import render_clip; "
        f"render_clip(Path({str(out)!r}), first=Path({str(media['blue'])!r}), last=None, duration=60, "
        "width=640, height=360, camera_move='push-in')"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # wait until encoding has written into the temp file
            parts = list(tmp_path.glob(".killed.mp4.*.part"))
            if parts and parts[0].stat().st_size > 0:
                break
            assert proc.poll() is None, "render finished before it could be killed"
            time.sleep(0.02)
        proc.kill()
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not out.exists()


def test_concat_conforms_other_frame_rates(media):
    d = media["dir"]
    thirty = V.render_clip(d / "thirty.mp4", first=media["red"], last=None, duration=1.0, width=W, height=H,
                           camera_move="push-in", fps=30)
    assert thirty.frames == 30
    out = d / "conformed.mp4"
    r = V.concat([media["clips"][0], thirty.path], ["cut"], out)
    assert r["reencoded"] is True and r["frames"] == 2 * FPS
    (s,) = V.probe(out)["streams"]
    assert s["fps"] == pytest.approx(FPS) and s["frames"] == 2 * FPS
    fr = _frames(out)
    assert _mean_rgb(fr[FPS - 1])[2] > 150 and _mean_rgb(fr[FPS])[0] > 150  # cut lands on the boundary
