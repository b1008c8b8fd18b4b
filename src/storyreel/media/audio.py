"""Sound for the story reel: a procedural temp score and the final music + dialogue mix.

All signals are float32 NumPy arrays shaped (samples, channels) at 48 kHz, the rate the AAC track of the
reel uses, so nothing is resampled twice. Files are plain 16-bit PCM WAV written with the stdlib `wave`
module: every tool (PyAV, browsers, espeak-ng's own output) reads it.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48000
PEAK_DBFS = -12.0
DUCK_RAMP_SECONDS = 0.15
CUE_FADE_SECONDS = 0.5

# Scale degrees (semitones above the tonic) of the chord roots, and triad qualities, per bar.
_PROGRESSIONS = {
    "major": ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),  # I - vi - IV - V
    "minor": ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),  # i - VI - III - VII
}
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
# Arpeggio orders over the chord tones (0-2 triad, 3 = root an octave up); the seed picks one.
_ARP_PATTERNS = ((0, 1, 2, 3), (0, 2, 1, 3), (0, 1, 2, 1), (3, 2, 1, 0), (0, 2, 3, 2))


# ------------------------------------------------------------------------------------------- WAV I/O


def read_wav(path: Path | str) -> tuple[np.ndarray, int]:
    """Read a WAV as float32 (samples, channels) in [-1, 1] and its sample rate.

    8/16/24/32-bit integer PCM via `wave`; anything `wave` rejects (float WAV, other containers) is
    decoded with PyAV as a fallback.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as w:
            channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return _read_with_av(path)
    if width == 1:  # 8-bit WAV is unsigned
        data = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128.0) / 128.0
    elif width == 2:
        data = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
    elif width == 3:
        b = np.frombuffer(raw, np.uint8).reshape(-1, 3).astype(np.int32)
        ints = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        ints = np.where(ints >= 1 << 23, ints - (1 << 24), ints)
        data = ints.astype(np.float32) / float(1 << 23)
    elif width == 4:
        data = (np.frombuffer(raw, "<i4").astype(np.float64) / 2147483648.0).astype(np.float32)
    else:
        raise ValueError(f"{path}: unsupported WAV sample width {width} bytes")
    return data.reshape(-1, channels), rate


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    with av.open(str(path)) as c:
        stream = c.streams.audio[0]
        rate = stream.codec_context.sample_rate
        resampler = av.AudioResampler(format="flt", layout=stream.codec_context.layout, rate=rate)
        parts = [
            f.to_ndarray().reshape(-1, stream.codec_context.layout.nb_channels)
            for frame in c.decode(stream)
            for f in resampler.resample(frame)
        ]
    channels = stream.codec_context.layout.nb_channels
    data = np.concatenate(parts) if parts else np.zeros((0, channels), np.float32)
    return data.astype(np.float32, copy=False), rate


def write_wav(path: Path | str, samples: np.ndarray, rate: int) -> Path:
    """Write float samples ((n,) or (n, channels), nominal [-1, 1]) as 16-bit PCM, atomically."""
    path = Path(path)
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] < 1:
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {data.shape}")
    # fmax/fmin clamp and also map NaN to a rail (nan_to_num costs more than the whole conversion).
    pcm = np.multiply(data, np.float32(32767.0), dtype=np.float32)
    np.fmin(np.fmax(pcm, -32767.0, out=pcm), 32767.0, out=pcm)
    pcm = np.rint(pcm, out=pcm).astype("<i2")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(data.shape[1])
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.writeframes(pcm.tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def resample(samples: np.ndarray, src_rate: int, dst_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Linear-interpolation resampling of (n, channels) audio.

    Good enough for speech going up (espeak's 22.05 kHz -> 48 kHz) and cheap; not a mastering resampler.
    """
    if src_rate == dst_rate or len(samples) == 0:
        return samples.astype(np.float32, copy=False)
    n_out = int(round(len(samples) * dst_rate / src_rate))
    x_out = np.arange(n_out, dtype=np.float64) * (src_rate / dst_rate)
    x_in = np.arange(len(samples), dtype=np.float64)
    out = np.empty((n_out, samples.shape[1]), np.float32)
    for ch in range(samples.shape[1]):
        out[:, ch] = np.interp(x_out, x_in, samples[:, ch])
    return out


def _stereo(samples: np.ndarray) -> np.ndarray:
    if samples.shape[1] == 2:
        return samples
    mono = samples.mean(axis=1, keepdims=True) if samples.shape[1] > 2 else samples[:, :1]
    return np.repeat(mono, 2, axis=1)


def _fit(samples: np.ndarray, n: int) -> np.ndarray:
    """Trim or zero-pad to exactly n samples."""
    if len(samples) >= n:
        return samples[:n]
    return np.concatenate([samples, np.zeros((n - len(samples), samples.shape[1]), samples.dtype)])


# -------------------------------------------------------------------------------------------- score


def _midi_hz(note: float) -> float:
    return 440.0 * 2.0 ** ((note - 69.0) / 12.0)


def _pad_chord(freqs: list[float], n: int, attack: int, release: int, detune: float) -> np.ndarray:
    """A sustained chord of detuned triangle-ish voices spread in stereo, enveloped to zero at both ends."""
    t = np.arange(n, dtype=np.float32) / np.float32(SAMPLE_RATE)
    out = np.zeros((n, 2), np.float32)
    for k, f in enumerate(freqs):
        for side, cents in ((0, -detune), (1, detune)):
            ph = np.float32(2.0 * np.pi * f * 2.0 ** (cents / 1200.0)) * t + np.float32(k)
            s1, c1 = np.sin(ph), np.cos(ph)
            # fundamental + soft 2nd/3rd partials (sin 2x = 2 s c, sin 3x = s (3 - 4 s^2)): warmer than
            # a sine, still gentle, and one sin/cos pair per voice
            out[:, side] += s1 * (1.0 + 0.5 * c1 + 0.1 * (3.0 - 4.0 * s1 * s1))
    env = np.ones(n, np.float32)
    attack, release = min(attack, n // 2), min(release, n // 2)
    env[:attack] = np.linspace(0.0, 1.0, attack, dtype=np.float32)
    env[n - release :] = np.linspace(1.0, 0.0, release, dtype=np.float32)
    return out * env[:, None] / (2.0 * len(freqs))


def _pluck(freq: float, n: int, bright: float) -> np.ndarray:
    """A short decaying note (arpeggio / bass pulse), mono."""
    t = np.arange(n, dtype=np.float64) / SAMPLE_RATE
    ph = 2.0 * np.pi * freq * t
    v = np.sin(ph) + bright * np.sin(2.0 * ph) + 0.5 * bright * np.sin(3.0 * ph)
    env = np.exp(-t * 6.0) * np.minimum(1.0, t * 400.0)  # 2.5 ms attack: no click
    env[-min(n, 64) :] *= np.linspace(1.0, 0.0, min(n, 64))
    return (v * env).astype(np.float32)


def _add(buf: np.ndarray, start: int, sig: np.ndarray) -> None:
    """Mix sig into buf at sample start, clipped to buf's bounds."""
    if start >= len(buf) or start + len(sig) <= 0:
        return
    a, b = max(0, start), min(len(buf), start + len(sig))
    buf[a:b] += sig[a - start : b - start]


def _render_cue(
    out: np.ndarray,
    start: int,
    length: int,
    tempo: int,
    mode: str,
    key: int,
    pattern: tuple[int, ...],
    rng: np.random.Generator,
) -> None:
    """Mix one cue into out: chords per bar, bass pulse per beat, 8th-note arpeggio with echoes.

    Each distinct note waveform is synthesised once and then added at every onset (slice adds), so the
    cost grows with the number of distinct pitches, not with the length of the cue.
    """
    beat = 60.0 / tempo
    bar = int(round(4 * beat * SAMPLE_RATE))
    beat_n = int(round(beat * SAMPLE_RATE))
    eighth = beat_n // 2
    seg = np.zeros((length, 2), np.float32)
    arp = np.zeros(length, np.float32)
    bass = np.zeros(length, np.float32)
    release = int(0.35 * SAMPLE_RATE)
    cache: dict[tuple, np.ndarray] = {}
    prog = _PROGRESSIONS[mode]
    bright = 0.35 if mode == "major" else 0.15  # minor cues a little darker in timbre too
    for b_i, b_start in enumerate(range(0, length, bar)):
        degree, quality = prog[b_i % len(prog)]
        root = key + degree
        triad = [root + iv for iv in _TRIADS[quality]]
        pad_key = ("pad", tuple(triad))
        if pad_key not in cache:
            cache[pad_key] = _pad_chord([_midi_hz(m) for m in triad], bar + release, bar // 4, release, 6.0)
        _add(seg, b_start, cache[pad_key])
        bass_note = root - 12 if root - 12 >= 36 else root
        for k in range(4):
            bk = ("bass", bass_note)
            if bk not in cache:
                cache[bk] = _pluck(_midi_hz(bass_note), int(beat_n * 0.9), 0.1)
            _add(bass, b_start + k * beat_n, cache[bk] * (1.0 if k == 0 else 0.6))
        tones = [*triad, root + 12]
        for k in range(8):
            note = tones[pattern[k % len(pattern)]] + 12
            ak = ("arp", note)
            if ak not in cache:
                cache[ak] = _pluck(_midi_hz(note), int(SAMPLE_RATE * 0.4), bright)
            vel = 0.55 + 0.15 * float(rng.random())
            _add(arp, b_start + k * eighth, cache[ak] * vel)
    # dotted-eighth echo taps: a cheap sense of space, fully vectorised
    echo = arp.copy()
    delay = int(eighth * 1.5)
    for tap, gain in ((1, 0.35), (2, 0.15)):
        d = delay * tap
        if d < length:
            echo[d:] += arp[: length - d] * gain
    seg[:, 0] += 0.22 * bass + 0.30 * echo
    seg[:, 1] += 0.22 * bass + 0.30 * np.roll(echo, int(0.011 * SAMPLE_RATE))  # Haas widening
    fade = min(int(CUE_FADE_SECONDS * SAMPLE_RATE), length // 4)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
        seg[:fade] *= ramp
        seg[length - fade :] *= ramp[::-1]
    _add(out, start, seg)


def music_bed(
    cues: list[tuple[float, float, int, str]], duration: float, out_wav: Path, *, seed: int = 0
) -> Path:
    """Render a procedural temp score for the reel to a 48 kHz stereo WAV.

    cues: (start_s, length_s, tempo_bpm, "major"|"minor"). The key and arpeggio shape come from seed,
    so the same cues and seed always give the same file. Peak normalised to PEAK_DBFS.
    """
    if duration < 0:
        raise ValueError(f"duration must be >= 0, got {duration}")
    n = int(round(duration * SAMPLE_RATE))
    out = np.zeros((n, 2), np.float32)
    rng = np.random.default_rng(seed)
    key = 48 + int(rng.integers(0, 12))  # tonic between C3 and B3
    pattern = _ARP_PATTERNS[int(rng.integers(0, len(_ARP_PATTERNS)))]
    for i, cue in enumerate(cues):
        start_s, length_s, tempo, mode = cue
        if mode not in _PROGRESSIONS:
            raise ValueError(f"cue {i}: mode must be 'major' or 'minor', got {mode!r}")
        if not 20 <= tempo <= 300:
            raise ValueError(f"cue {i}: tempo must be 20-300 bpm, got {tempo}")
        start = int(round(max(0.0, start_s) * SAMPLE_RATE))
        length = min(int(round(length_s * SAMPLE_RATE)), n - start)
        if length <= 0:
            continue
        cue_rng = np.random.default_rng([seed, i])
        _render_cue(out, start, length, int(tempo), mode, key, pattern, cue_rng)
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0:
        out *= (10.0 ** (PEAK_DBFS / 20.0)) / peak
    return write_wav(out_wav, out, SAMPLE_RATE)


# ---------------------------------------------------------------------------------------------- mix


def _soft_clip(x: np.ndarray, knee: float = 0.8) -> np.ndarray:
    """Linear below the knee, tanh-compressed above it towards +-1: no wrap-around, no hard edges."""
    mag = np.abs(x)
    over = mag > knee
    if not over.any():
        return x
    out = x.copy()
    room = 1.0 - knee
    out[over] = np.sign(x[over]) * (knee + room * np.tanh((mag[over] - knee) / room))
    return out


def mix(
    duration: float,
    out_wav: Path,
    *,
    music: Path | None,
    dialogue: list[tuple[float, Path]],
    duck_db: float = -12.0,
) -> Path:
    """Mix the score and the dialogue lines into one 48 kHz stereo WAV of exactly `duration` seconds.

    Music is ducked by duck_db under each line (ramping over DUCK_RAMP_SECONDS on both sides, so the
    music dips before the first word rather than on it); lines are resampled to 48 kHz and centred.
    """
    n = int(round(max(0.0, duration) * SAMPLE_RATE))
    out = np.zeros((n, 2), np.float32)
    gain = np.ones(n, np.float32)
    duck = np.float32(10.0 ** (duck_db / 20.0))
    ramp = max(1, int(round(DUCK_RAMP_SECONDS * SAMPLE_RATE)))
    voice = np.zeros((n, 2), np.float32)
    for start_s, path in dialogue:
        data, rate = read_wav(path)
        mono = resample(data.mean(axis=1, keepdims=True), rate, SAMPLE_RATE)
        start = int(round(max(0.0, start_s) * SAMPLE_RATE))
        _add(voice, start, np.repeat(mono, 2, axis=1))
        end = start + len(mono)
        # Envelope for this line: 1 -> duck over the ramp before it, duck during, back to 1 after.
        a, b = max(0, start - ramp), min(n, end + ramp)
        if a >= b:
            continue
        idx = np.arange(a, b, dtype=np.float32)
        down = np.clip((start - idx) / ramp, 0.0, 1.0)  # 1 well before the line, 0 from its start
        up = np.clip((idx - end) / ramp, 0.0, 1.0)  # 0 until its end, 1 a ramp later
        g = duck + (1.0 - duck) * np.maximum(down, up)
        np.minimum(gain[a:b], g, out=gain[a:b])
    if music is not None:
        data, rate = read_wav(music)
        out += _fit(_stereo(resample(data, rate, SAMPLE_RATE)), n) * gain[:, None]
    out += voice
    return write_wav(out_wav, _soft_clip(out), SAMPLE_RATE)


# ------------------------------------------------------------------------------ AAC for the reel's MP4


def add_aac_stream(container):
    """Add a 48 kHz stereo AAC-LC track (what browsers play in MP4) to an output container."""
    stream = container.add_stream("aac", rate=SAMPLE_RATE)
    stream.layout = "stereo"
    stream.format = "fltp"
    stream.bit_rate = 160_000
    return stream


def _blocks_48k_stereo(wav: Path) -> Iterator[np.ndarray]:
    """(2, k) float32 blocks of a sound file converted to 48 kHz stereo, decoded as they are needed."""
    resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
    with av.open(str(wav)) as src:
        for frame in src.decode(audio=0):
            for rf in resampler.resample(frame):
                yield rf.to_ndarray().astype(np.float32, copy=False)
        for rf in resampler.resample(None):
            yield rf.to_ndarray().astype(np.float32, copy=False)


def aac_packets(stream, wav: Path, n_samples: int) -> Iterator[av.Packet]:
    """Encode a sound file on `stream`, trimmed or padded with silence to exactly n_samples at 48 kHz.

    Lazy, so the muxer can interleave audio with video without the whole track in memory. The AAC
    encoder takes exactly frame_size (1024) samples per frame except the last, so samples are re-chunked
    here rather than fed in whatever block size the WAV demuxer returns.
    """
    size = stream.codec_context.frame_size or 1024
    tb = Fraction(1, SAMPLE_RATE)
    blocks = _blocks_48k_stereo(wav)
    buf = np.zeros((2, 0), np.float32)
    sent = 0
    try:
        while sent < n_samples:
            k = min(size, n_samples - sent)
            while buf.shape[1] < k:
                block = next(blocks, None)
                if block is None:  # source ended: pad with silence to the video's length
                    block = np.zeros((2, k - buf.shape[1]), np.float32)
                buf = np.concatenate([buf, block], axis=1)
            chunk, buf = np.ascontiguousarray(buf[:, :k]), buf[:, k:]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="stereo")
            frame.sample_rate, frame.pts, frame.time_base = SAMPLE_RATE, sent, tb
            sent += k
            yield from stream.encode(frame)
    finally:
        blocks.close()  # trimming: close the source without reading the rest
    yield from stream.encode(None)
