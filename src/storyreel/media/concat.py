"""Joining shots into one reel with cuts, crossfades or fades to black, re-encoding as little as possible.

Three ways to build the reel, cheapest first (concat picks the first that applies):

* remux: every transition is a cut and all clips share their H.264 parameters. Packets are copied.
* splice: the clips come from render_clip (same SPS/PPS, closed GOPs, IDR frames SPLICE_KEY_SECONDS from
  each end). Only the frames around each transition are decoded, blended and re-encoded, by a fresh encoder
  configured exactly like render_clip's; everything else is copied packet for packet. Copied and re-encoded
  pieces meet at IDR frames, so each piece decodes on its own, and one avcC box (byte-identical SPS/PPS,
  checked) describes them all.
* full: anything else (clips from elsewhere, other sizes, rates or encoder settings): decode and re-encode
  the whole reel. It is also the fallback whenever the splice path finds something it cannot join losslessly.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.frame import PictureType
from av.video.reformatter import VideoReformatter

from storyreel.media.audio import SAMPLE_RATE as AUDIO_RATE
from storyreel.media.audio import aac_packets, add_aac_stream
from storyreel.media.video import (
    FPS,
    TRANSITIONS,
    _add_h264,
    _atomic,
    _encode,
    _h264_encoder,
    _mix,
    _mux_interleaved,
    _open_mp4,
    _to_yuv,
    _yuv_frame,
)

log = logging.getLogger(__name__)

MODES = ("auto", "full")
_NAL_IDR, _NAL_SPS, _NAL_PPS = 5, 7, 8


# ------------------------------------------------------------------------------------------ remux (cuts)


def _remuxable(clips: list[Path], fps: int) -> bool:
    """Packets can be joined without re-encoding only if every clip has identical H.264 parameters
    (one avcC box describes the whole track) and already runs at the reel's frame rate."""
    keys = set()
    for clip in clips:
        with av.open(str(clip)) as c:
            s = c.streams.video[0]
            cc = s.codec_context
            keys.add((cc.name, cc.width, cc.height, cc.pix_fmt, bytes(cc.extradata or b""), s.average_rate))
    if len(keys) != 1:
        return False
    codec, *_, rate = next(iter(keys))
    return codec == "h264" and rate == fps


def _remux_packets(clips: list[Path]) -> Iterator[av.Packet]:
    """Packets of each clip in turn with timestamps shifted by the length of the clips before it."""
    offset = Fraction(0)  # seconds
    for clip in clips:
        with av.open(str(clip)) as c:
            s = c.streams.video[0]
            tb = s.time_base
            shift = int(round(offset / tb))
            end = 0
            for pkt in c.demux(s):
                if pkt.dts is None and pkt.pts is None:
                    continue  # demuxer's flush packet
                end = max(end, (pkt.pts or 0) + (pkt.duration or 0))
                if pkt.pts is not None:
                    pkt.pts += shift
                if pkt.dts is not None:
                    pkt.dts += shift
                yield pkt
            offset += end * tb


# ------------------------------------------------------------------------------------- frames and blends


def _clip_facts(clip: Path, fps: int) -> tuple[int, int, int]:
    """(width, height, frames at `fps`) of a clip's first video stream, from its header where possible."""
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        w, h = s.codec_context.width, s.codec_context.height
        if s.duration and s.time_base:
            seconds = float(s.duration * s.time_base)
        elif c.duration:
            seconds = c.duration / av.time_base
        else:
            rate = float(s.average_rate or fps)
            seconds = (s.frames or sum(1 for _ in c.decode(s))) / rate
    return w, h, max(1, int(round(seconds * fps)))


def _decoded(clip: Path, width: int, height: int, fps: int, n: int) -> Iterator[av.VideoFrame]:
    """Exactly n yuv420p width x height frames of a clip at `fps`, decoded lazily.

    Our own clips pass straight through; a clip from elsewhere (25/30 fps, another size) is conformed by
    showing, for each output slot, the source frame on screen at that time (drop/repeat, no blending).
    """
    reformatter = VideoReformatter()
    k, prev, t0 = 0, None, None
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        for frame in c.decode(s):
            if frame.format.name != "yuv420p" or frame.width != width or frame.height != height:
                frame = _to_yuv(reformatter, frame, width, height)
            t = float(frame.time) if frame.time is not None else (k / fps)
            t0 = t if t0 is None else t0
            while prev is not None and k < n and (k + 0.5) / fps <= t - t0:
                yield prev
                k += 1
            prev = frame
    while prev is not None and k < n:
        yield prev
        k += 1


def _joined_frames(sources: list[Iterator[av.VideoFrame]], kinds: list[str], overlap: list[int], width: int,
                   height: int) -> Iterator[av.VideoFrame]:
    """The joined frame sequence of lazily decoded sources (whole clips, or slices of clips).

    kinds[i] and overlap[i] are the transition after source i and its length in frames (the last source's
    is ignored). Only the transition tail of a source (<= overlap frames) is ever buffered. Blends are done
    on yuv420p planes: a linear mix commutes with the (affine) RGB->YUV transform, and black is Y=16,
    U=V=128 in the limited range x264 writes.
    """
    black = np.full((height * 3 // 2, width), 128, np.uint8)
    black[:height] = 16
    carry: list[av.VideoFrame] = []
    carry_kind = "cut"
    last = len(sources) - 1
    for i, frames in enumerate(sources):
        kind = kinds[i] if i < last else "cut"
        tail = overlap[i] if kind != "cut" else 0
        if carry_kind == "crossfade":
            t = len(carry)
            for j, prev in enumerate(carry):
                cur = next(frames, None)
                if cur is None:
                    yield prev
                    continue
                yield _yuv_frame(_mix(prev.to_ndarray(), cur.to_ndarray(), (j + 1) / (t + 1)))
        elif carry_kind == "fade-to-black":
            t = overlap[i - 1]
            for j in range(t):
                cur = next(frames, None)
                if cur is None:
                    break
                yield _yuv_frame(_mix(black, cur.to_ndarray(), j / t))
        carry = []
        buf: deque[av.VideoFrame] = deque()
        for frame in frames:
            buf.append(frame)
            if len(buf) > tail:
                yield buf.popleft()
        if kind == "crossfade":
            carry = list(buf)
        elif kind == "fade-to-black":
            t = len(buf)
            for j, frame in enumerate(buf):
                yield _yuv_frame(_mix(black, frame.to_ndarray(), 1.0 - (j + 1) / t))
        else:
            yield from buf
        carry_kind = kind


# ---------------------------------------------------------------------------------------------- splice


class _SpliceError(Exception):
    """The splice path met something it cannot join losslessly: concat re-encodes the whole reel instead."""


def _avcc_parameter_sets(extradata: bytes) -> tuple[int, tuple[bytes, ...]] | None:
    """(NAL length size, SPS and PPS NAL units) of an avcC box; None when it is not one."""
    if len(extradata) < 7 or extradata[0] != 1:
        return None
    nals, pos = [], 5
    for count_mask in (0x1F, 0xFF):  # SPS count (5 bits), then PPS count
        if pos >= len(extradata):
            return None
        count, pos = extradata[pos] & count_mask, pos + 1
        for _ in range(count):
            length = int.from_bytes(extradata[pos : pos + 2], "big")
            nals.append(bytes(extradata[pos + 2 : pos + 2 + length]))
            pos += 2 + length
            if pos > len(extradata):
                return None
    return (extradata[4] & 3) + 1, tuple(nals)


def _annexb_nals(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (00 00 01 or 00 00 00 01 start codes).

    Emulation prevention keeps 00 00 01 out of NAL payloads, and a NAL never ends in a zero byte (its RBSP
    ends with a stop bit), so trailing zeros belong to the next 4-byte start code.
    """
    starts, i = [], data.find(b"\0\0\1")
    while i >= 0:
        starts.append(i + 3)
        i = data.find(b"\0\0\1", i + 3)
    nals = []
    for k, s in enumerate(starts):
        nal = data[s : starts[k + 1] - 3 if k + 1 < len(starts) else len(data)].rstrip(b"\0")
        if nal:
            nals.append(nal)
    return nals


def _nal_types(data: bytes, size: int) -> list[int]:
    """nal_unit_type of each NAL of a length-prefixed (MP4) packet; -1 marks a malformed packet."""
    types, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        if n == 0 or pos + n > len(data):
            return [*types, -1]
        types.append(data[pos] & 0x1F)
        pos += n
    return types


def _encoder_parameter_sets(cc: av.CodecContext) -> tuple[bytes, ...]:
    return tuple(n for n in _annexb_nals(bytes(cc.extradata or b"")) if n[0] & 0x1F in (_NAL_SPS, _NAL_PPS))


@dataclass
class _Scan:
    """What the splice path needs to know about a clip, from its packets (demuxed, not decoded)."""

    key: tuple  # must be equal for all clips: width, height, NAL length size, SPS/PPS
    frames: int
    cuts: frozenset[int]  # frames k where the stream can be cut: packet k is an IDR of a closed GOP
    delay: int  # how many packets at most a frame is decoded ahead of its display slot


def _frame_index(pts: int, tb: Fraction, fps: int) -> int | None:
    f = pts * tb * fps
    return int(f) if f.denominator == 1 else None


def _scan(clip: Path, fps: int) -> _Scan | None:
    """Map a clip's packets to frame slots at `fps`; None when it cannot take part in a splice."""
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        cc, tb = s.codec_context, s.time_base
        params = _avcc_parameter_sets(bytes(cc.extradata or b""))
        if cc.name != "h264" or cc.pix_fmt != "yuv420p" or params is None or not tb:
            return None
        size = params[0]
        order: list[int] = []  # frame slot of each packet, in decode order
        idr: list[int] = []  # decode positions of IDR packets
        for pkt in c.demux(s):
            if not pkt.size:
                continue
            k = _frame_index(pkt.pts, tb, fps) if pkt.pts is not None else None
            if k is None:
                return None
            if pkt.is_keyframe and _NAL_IDR in _nal_types(bytes(pkt), size):
                idr.append(len(order))
            order.append(k)
    n = len(order)
    if n == 0 or sorted(order) != list(range(n)):
        return None  # not frame-exact at this rate (gaps, duplicates, an offset start)
    # An IDR at decode position j is a clean cut when everything decoded before it is displayed before it
    # and everything from it on after it (closed GOP): then exactly j frames precede it, so its slot is j.
    cuts = {j for j in idr if order[j] == j and max(order[:j], default=-1) < j and min(order[j:]) == j}
    if 0 not in cuts:
        return None
    delay = max(j - k for j, k in enumerate(order))
    return _Scan(key=(cc.width, cc.height, *params), frames=n, cuts=frozenset(cuts), delay=delay)


@dataclass
class _Piece:
    """A stretch of the reel: copied packets of one clip, or a re-encoded run across one or more clips."""

    copy: bool
    parts: list[tuple[int, int, int]]  # (clip index, first frame, end frame)


@dataclass
class _Splice:
    scans: list[_Scan]
    pieces: list[_Piece]
    width: int
    height: int


def _splice_plan(clips: list[Path], transitions: list[str], overlap: list[int], counts: list[int],
                 fps: int) -> _Splice | None:
    """Which stretches to copy and which to re-encode; None when the clips cannot be spliced.

    A transition between clips A and B re-encodes from A's last cut at or before its end minus the
    transition window through B's first cut at or after the window (render_clip places IDR frames exactly
    there); everything between two windows is copied.
    """
    scans = [_scan(c, fps) for c in clips]
    if any(s is None for s in scans) or len({s.key for s in scans}) != 1:
        return None
    if [s.frames for s in scans] != counts:
        return None
    width, height, _, param_sets = scans[0].key
    if width % 2 or height % 2:
        return None
    # x264 derives SPS/PPS from its settings alone: one probe says whether the transition encoder matches.
    if _encoder_parameter_sets(_h264_encoder(width, height, fps)) != param_sets:
        return None

    last = len(clips) - 1
    pieces: list[_Piece] = []
    run: list[tuple[int, int, int]] = []
    for i, sc in enumerate(scans):
        n = sc.frames
        head, tail = 0, n
        if i > 0 and transitions[i - 1] != "cut" and overlap[i - 1] > 0:
            head = min((k for k in sc.cuts if k >= overlap[i - 1]), default=n)
        if i < last and transitions[i] != "cut" and overlap[i] > 0:
            tail = max(k for k in sc.cuts if k <= n - overlap[i])
        if head < tail:
            if head > 0:
                run.append((i, 0, head))
            if run:
                pieces.append(_Piece(False, run))
            pieces.append(_Piece(True, [(i, head, tail)]))
            run = [(i, tail, n)] if tail < n else []
        else:  # the windows at both ends meet: the whole clip is re-encoded
            run.append((i, 0, n))
    if run:
        pieces.append(_Piece(False, run))
    return _Splice(scans=scans, pieces=_no_single_frames(pieces, transitions, overlap), width=width,
                   height=height)


def _piece_frames(piece: _Piece, transitions: list[str], overlap: list[int]) -> int:
    return sum(b - a for _, a, b in piece.parts) - sum(
        overlap[i] for i, _, _ in piece.parts[:-1] if transitions[i] == "crossfade")


def _no_single_frames(pieces: list[_Piece], transitions: list[str], overlap: list[int]) -> list[_Piece]:
    """Fold any one-frame piece and its neighbours into one re-encoded run.

    A one-frame piece is a lone IDR access unit, and the next piece starts with another; H.264 wants two
    consecutive IDR pictures to carry different idr_pic_id, which independently encoded pieces cannot
    promise. Only odd cases hit this (clips barely longer than two transition windows).
    """
    pieces = list(pieces)
    k = 0
    while k < len(pieces):
        if len(pieces) == 1 or _piece_frames(pieces[k], transitions, overlap) >= 2:
            k += 1
            continue
        lo, hi = max(0, k - 1), min(len(pieces), k + 2)
        parts: list[tuple[int, int, int]] = []
        for i, a, b in (part for p in pieces[lo:hi] for part in p.parts):
            if parts and parts[-1][0] == i and parts[-1][2] == a:  # two stretches of one clip: rejoin them
                parts[-1] = (i, parts[-1][1], b)
            else:
                parts.append((i, a, b))
        pieces[lo:hi] = [_Piece(False, parts)]
        k = lo
    return pieces


def _copied(clip: Path, first: int, end: int, fps: int) -> Iterator[av.Packet]:
    """Packets of frames [first, end) of a clip, both cuts, in decode order; pts in frames from `first`."""
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        j = 0
        for pkt in c.demux(s):
            if not pkt.size:
                continue
            if j >= end:
                break
            if j >= first:
                pkt.pts = _frame_index(pkt.pts, s.time_base, fps) - first
                yield pkt
            j += 1


def _slice_frames(clip: Path, first: int, end: int, fps: int) -> Iterator[av.VideoFrame]:
    """Decoded frames [first, end) of a clip, starting the decoder at the IDR packet of frame `first`."""
    want = first
    with av.open(str(clip)) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        j = 0
        for pkt in c.demux(s):
            if pkt.size:  # the empty packet at the end flushes the decoder
                j += 1
                if j <= first:
                    continue
            for frame in pkt.decode():
                if _frame_index(frame.pts, s.time_base, fps) != want:
                    raise _SpliceError(f"{clip.name}: expected frame {want}, decoded pts {frame.pts}")
                yield frame
                want += 1
                if want == end:
                    return
    raise _SpliceError(f"{clip.name}: frames {want}..{end} missing")


def _reencoded(clips: list[Path], parts: list[tuple[int, int, int]], transitions: list[str],
               overlap: list[int], sp: _Splice, fps: int) -> Iterator[av.Packet]:
    """A run of transition frames, encoded by a fresh encoder (first frame IDR) into MP4-style packets."""
    enc = _h264_encoder(sp.width, sp.height, fps)
    _, _, nal_size, param_sets = sp.scans[0].key
    if _encoder_parameter_sets(enc) != param_sets:
        raise _SpliceError("transition encoder's SPS/PPS differ from the clips'")
    sources = [_slice_frames(clips[i], a, b, fps) for i, a, b in parts]
    kinds = [transitions[i] for i, _, _ in parts[:-1]] + ["cut"]
    frames = _joined_frames(sources, kinds, [overlap[i] for i, _, _ in parts], sp.width, sp.height)

    def packets() -> Iterator[av.Packet]:
        tb = Fraction(1, fps)
        for k, frame in enumerate(frames):
            frame.pts, frame.time_base, frame.pict_type = k, tb, PictureType.NONE
            yield from enc.encode(frame)
        yield from enc.encode(None)

    for pkt in packets():
        nals = _annexb_nals(bytes(pkt))  # x264 writes Annex B; an MP4 track built on avcC wants lengths
        out = av.Packet(b"".join(len(n).to_bytes(nal_size, "big") + n for n in nals))
        out.pts, out.is_keyframe = pkt.pts, pkt.is_keyframe
        yield out


def _splice_packets(clips: list[Path], transitions: list[str], overlap: list[int], sp: _Splice, fps: int,
                    vstream, stats: dict) -> Iterator[av.Packet]:
    """The reel's video packets: copied and re-encoded pieces, retimed onto one frame-exact timeline.

    pts is the output frame slot; dts is renumbered 0, 1, 2... minus the clips' reorder delay, so it rises
    by one frame per packet across every seam (the pieces are closed GOPs with the same B-frame delay).
    """
    tb = Fraction(1, fps)
    delay = max(s.delay for s in sp.scans)
    _, _, nal_size, _ = sp.scans[0].key
    starts = [0]  # output slot of each clip's frame 0
    for i, sc in enumerate(sp.scans[:-1]):
        starts.append(starts[-1] + sc.frames - (overlap[i] if transitions[i] == "crossfade" else 0))
    done = 0  # frames (= packets) written so far
    for piece in sp.pieces:
        i, a, _ = piece.parts[0]
        if starts[i] + a != done:
            raise _SpliceError(f"piece at clip {i} frame {a} does not continue the reel at frame {done}")
        if piece.copy:
            expect = piece.parts[0][2] - a
            packets = _copied(clips[i], a, piece.parts[0][2], fps)
        else:
            expect = _piece_frames(piece, transitions, overlap)
            packets = _reencoded(clips, piece.parts, transitions, overlap, sp, fps)
            stats["reencoded_frames"] += expect
        seen = set()
        for j, pkt in enumerate(packets):
            if j == 0 and not (pkt.is_keyframe and _NAL_IDR in _nal_types(bytes(pkt), nal_size)):
                raise _SpliceError(f"piece at clip {i} frame {a} does not start with an IDR frame")
            seen.add(pkt.pts)
            pkt.pts, pkt.dts, pkt.duration = done + pkt.pts, done + j - delay, 1
            if pkt.dts > pkt.pts:
                raise _SpliceError(f"piece at clip {i} frame {a} reorders deeper than the clips")
            pkt.time_base, pkt.stream = tb, vstream
            yield pkt
        if seen != set(range(expect)):
            raise _SpliceError(f"piece at clip {i} frame {a}: {len(seen)} frames, expected {expect}")
        done += expect


# ------------------------------------------------------------------------------------------ public API


def _write_reel(tmp: Path, fps: int, add_video: Callable, audio: Path | None, n_audio: int) -> None:
    with _open_mp4(tmp, fps) as container:
        video = add_video(container)
        apk = aac_packets(add_aac_stream(container), Path(audio), n_audio) if audio is not None else None
        _mux_interleaved(container, video, apk)


def concat(clips: list[Path], transitions: list[str], out_path: Path, *, audio: Path | None = None,
           fps: int = FPS, transition_seconds: float = 0.5, mode: str = "auto") -> dict:
    """Join clips into one H.264(+AAC) MP4 with cuts, crossfades or fades through black.

    mode "auto" remuxes all-cut reels, splices clips from render_clip (re-encoding only the transition
    windows) and re-encodes everything otherwise; mode "full" always decodes and re-encodes every frame.
    Returns duration, frames, whether anything was re-encoded, how many seconds of the reel were
    re-encoded, and the method used ("remux", "splice" or "full").
    """
    clips = [Path(c) for c in clips]
    if not clips:
        raise ValueError("concat needs at least one clip")
    if len(transitions) != len(clips) - 1:
        raise ValueError(f"need {len(clips) - 1} transitions for {len(clips)} clips, got {len(transitions)}")
    for t in transitions:
        if t not in TRANSITIONS:
            raise ValueError(f"unknown transition {t!r}; expected one of {', '.join(TRANSITIONS)}")
    if transition_seconds < 0:
        raise ValueError(f"transition_seconds must be >= 0, got {transition_seconds}")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected one of {', '.join(MODES)}")
    for c in clips:
        if not c.is_file():
            raise FileNotFoundError(f"clip not found: {c}")

    transitions = list(transitions)
    out_path = Path(out_path)
    remux = mode == "auto" and all(t == "cut" for t in transitions) and _remuxable(clips, fps)
    facts = [_clip_facts(c, fps) for c in clips]  # from the MP4 headers: cheap
    counts = [f[2] for f in facts]
    if remux:
        overlap = [0] * len(clips)
    else:
        want = max(0, int(round(transition_seconds * fps)))
        # A transition never takes more than half a clip: the clip's other end may need the rest.
        overlap = [0 if t == "cut" else min(want, counts[i] // 2, counts[i + 1] // 2)
                   for i, t in enumerate(transitions)] + [0]
    frames = sum(counts) - sum(o for o, t in zip(overlap, transitions, strict=False) if t == "crossfade")
    n_audio = round(frames / fps * AUDIO_RATE)
    splice = _splice_plan(clips, transitions, overlap, counts, fps) if mode == "auto" and not remux else None

    def remuxed(container):
        with av.open(str(clips[0])) as first:
            container.add_stream_from_template(first.streams.video[0])
        return _remux_packets(clips)

    def spliced(container):
        with av.open(str(clips[0])) as first:  # its avcC: SPS/PPS equal to every clip's and every encoder's
            vstream = container.add_stream_from_template(first.streams.video[0])
        vstream.time_base = Fraction(1, fps)
        return _splice_packets(clips, transitions, overlap, splice, fps, vstream, stats)

    def reencoded(container):
        width, height = (v - v % 2 for v in facts[0][:2])  # yuv420p needs even sizes
        vstream = _add_h264(container, width, height, fps, "veryfast")
        sources = [_decoded(c, width, height, fps, n) for c, n in zip(clips, counts, strict=True)]
        seq = _joined_frames(sources, transitions + ["cut"], overlap, width, height)
        return _encode(container, vstream, seq, fps)

    stats = {"reencoded_frames": 0}
    method = "remux" if remux else "splice" if splice else "full"
    with _atomic(out_path) as tmp:
        if method == "splice":
            try:
                _write_reel(tmp, fps, spliced, audio, n_audio)
            except _SpliceError as exc:
                log.warning("concat: cannot splice %s (%s); re-encoding the whole reel", out_path.name, exc)
                method = "full"
        if method != "splice":
            _write_reel(tmp, fps, remuxed if remux else reencoded, audio, n_audio)
    seconds = {"remux": 0.0, "splice": stats["reencoded_frames"] / fps, "full": frames / fps}[method]
    return {"duration": frames / fps, "frames": frames, "reencoded": seconds > 0,
            "reencoded_seconds": seconds, "method": method}
