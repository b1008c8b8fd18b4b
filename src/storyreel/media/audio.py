"""Sound for the story reel: a procedural temp score and the final music + dialogue mix.

All signals are float32 NumPy arrays shaped (samples, channels) at 48 kHz, the rate the AAC track of the
reel uses, so nothing is resampled twice. Files are plain 16-bit PCM WAV written with the stdlib `wave`
module: every tool (PyAV, browsers, espeak-ng's own output) reads it.

The score and the mix are made and written in blocks of BLOCK_SECONDS, so their memory does not grow with the
film: every sample is computed from its absolute index, and the files do not depend on the block size.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import tempfile
import wave
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 48000
PEAK_DBFS = -12.0
DUCK_RAMP_SECONDS = 0.15
CUE_FADE_SECONDS = 0.5
BLOCK_SECONDS = 10.0  # the score and the mix are made and written this much at a time
_BLOCK = int(BLOCK_SECONDS * SAMPLE_RATE)

# Scale degrees (semitones above the tonic) of the chord roots, and triad qualities, per bar.
_PROGRESSIONS = {
    "major": ((0, "maj"), (9, "min"), (5, "maj"), (7, "maj")),  # I - vi - IV - V
    "minor": ((0, "min"), (8, "maj"), (3, "maj"), (10, "maj")),  # i - VI - III - VII
}
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7)}
# Arpeggio orders over the chord tones (0-2 triad, 3 = root an octave up); the seed picks one.
_ARP_PATTERNS = ((0, 1, 2, 3), (0, 2, 1, 3), (0, 1, 2, 1), (3, 2, 1, 0), (0, 2, 3, 2))


# ------------------------------------------------------------------------------------------- WAV I/O


def _pcm_to_float(raw: bytes, width: int, channels: int, path: Path) -> np.ndarray:
    """Integer PCM bytes as float32 (samples, channels) in [-1, 1]."""
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
    return data.reshape(-1, channels)


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
    return _pcm_to_float(raw, width, channels, path), rate


def _read_with_av(path: Path) -> tuple[np.ndarray, int]:
    rate, channels, blocks = _av_blocks(path)
    parts = list(blocks)
    data = np.concatenate(parts) if parts else np.zeros((0, channels), np.float32)
    return data.astype(np.float32, copy=False), rate


def _av_blocks(path: Path) -> tuple[int, int, Iterator[np.ndarray]]:
    container = av.open(str(path))
    try:
        stream = container.streams.audio[0]
        rate, layout = stream.codec_context.sample_rate, stream.codec_context.layout
    except BaseException:
        container.close()
        raise
    channels = layout.nb_channels

    def blocks() -> Iterator[np.ndarray]:
        with container:
            resampler = av.AudioResampler(format="flt", layout=layout, rate=rate)
            for frame in container.decode(stream):
                for f in resampler.resample(frame):
                    yield f.to_ndarray().reshape(-1, channels).astype(np.float32, copy=False)

    return rate, channels, blocks()


def _read_blocks(path: Path, block: int) -> tuple[int, int, Iterator[np.ndarray]]:
    """A sound file's sample rate, channel count and its samples as float32 (k, channels) blocks decoded as
    they are consumed (k <= block for a WAV): the samples read_wav returns, never all of them in memory."""
    try:
        w = wave.open(str(path), "rb")
    except (wave.Error, EOFError):
        return _av_blocks(path)
    channels, width, rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
    if width not in (1, 2, 3, 4):
        w.close()
        raise ValueError(f"{path}: unsupported WAV sample width {width} bytes")

    def blocks() -> Iterator[np.ndarray]:
        with w:
            while raw := w.readframes(block):
                yield _pcm_to_float(raw, width, channels, path)

    return rate, channels, blocks()


def _pcm16(block: np.ndarray) -> np.ndarray:
    """float32 (k, channels), nominal [-1, 1] -> little-endian int16, clamped (NaN to a rail) and rounded."""
    # fmax/fmin clamp and also map NaN to a rail (nan_to_num costs more than the whole conversion).
    pcm = np.multiply(block, np.float32(32767.0), dtype=np.float32)
    np.fmin(np.fmax(pcm, -32767.0, out=pcm), 32767.0, out=pcm)
    return np.rint(pcm, out=pcm).astype("<i2")


@contextlib.contextmanager
def _wav_writer(path: Path, channels: int, rate: int, frames: int = 0) -> Iterator[Callable[[np.ndarray], None]]:
    """Write a 16-bit PCM WAV block by block; the file appears, complete, only when the block of code ends
    without an exception (temporary file + rename). Yields put(samples (k, channels) float32)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        with wave.open(tmp, "wb") as w:
            w.setnchannels(channels)
            w.setsampwidth(2)
            w.setframerate(int(rate))
            w.setnframes(frames)  # the expected length: the header is written once, not patched per block

            def put(samples: np.ndarray) -> None:
                if samples.ndim != 2 or samples.shape[1] != channels:
                    raise ValueError(f"expected (k, {channels}) samples, got shape {samples.shape}")
                w.writeframes(_pcm16(samples))

            yield put
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_wav(path: Path | str, samples: np.ndarray, rate: int) -> Path:
    """Write float samples ((n,) or (n, channels), nominal [-1, 1]) as 16-bit PCM, atomically."""
    path = Path(path)
    data = np.asarray(samples, dtype=np.float32)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] < 1:
        raise ValueError(f"samples must be (n,) or (n, channels), got shape {data.shape}")
    with _wav_writer(path, data.shape[1], rate, len(data)) as put:
        for a in range(0, len(data), _BLOCK):  # converted a block at a time: no full-length int16 copy
            put(data[a : a + _BLOCK])
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


class _StreamResampler:
    """resample() over a signal that arrives in blocks: the same output samples, computed as the input
    needed for them arrives (output sample o sits at input position o * src/dst, between two input samples)."""

    def __init__(self, src_rate: int, dst_rate: int):
        self.src, self.dst = src_rate, dst_rate
        self.ratio = src_rate / dst_rate
        self.buf: np.ndarray | None = None  # input samples from index self.off on
        self.off = 0
        self.n_in = 0  # input samples seen
        self.o = 0  # next output sample

    def _n_out(self) -> int:
        return int(round(self.n_in * self.dst / self.src))  # resample()'s length for the input seen so far

    def _emit(self, o_end: int) -> np.ndarray:
        buf = self.buf
        if buf is None or o_end <= self.o:
            return np.zeros((0, 0 if buf is None else buf.shape[1]), np.float32)
        x = np.arange(self.o, o_end, dtype=np.float64) * self.ratio
        xp = np.arange(self.off, self.off + len(buf), dtype=np.float64)
        out = np.empty((o_end - self.o, buf.shape[1]), np.float32)
        for ch in range(buf.shape[1]):
            out[:, ch] = np.interp(x, xp, buf[:, ch])
        self.o = o_end
        drop = min(int(self.o * self.ratio) - self.off, len(buf) - 1)  # keep the next output's left neighbour
        if drop > 0:
            self.buf, self.off = buf[drop:], self.off + drop
        return out

    def feed(self, block: np.ndarray) -> np.ndarray:
        self.buf = block if self.buf is None else np.concatenate([self.buf, block])
        self.n_in += len(block)
        last = self.off + len(self.buf) - 1  # the newest input sample's index
        # Outputs strictly before the newest input sample (both neighbours present) and surely within the final
        # length (round() is monotone in the input length, which only grows).
        hi = min(self._n_out(), int(last / self.ratio) + 2)
        if hi <= self.o:
            return self._emit(self.o)
        x = np.arange(self.o, hi, dtype=np.float64) * self.ratio
        return self._emit(self.o + int(np.searchsorted(x, float(last), side="left")))

    def finish(self) -> np.ndarray:
        return self._emit(self._n_out())


class _Track48k:
    """A sound file as 48 kHz stereo float32, read k samples at a time, silence after its end: the samples of
    _stereo(resample(*read_wav(path))) without ever holding the whole file."""

    def __init__(self, path: Path):
        rate, _, self._blocks = _read_blocks(Path(path), _BLOCK)
        self._rs = None if rate == SAMPLE_RATE else _StreamResampler(rate, SAMPLE_RATE)
        self._pending: list[np.ndarray] = []
        self._have = 0
        self._ended = False

    def read(self, k: int) -> np.ndarray:
        while self._have < k and not self._ended:
            block = next(self._blocks, None)
            if block is None:
                self._ended = True
                got = self._rs.finish() if self._rs is not None else None
            else:
                got = self._rs.feed(block) if self._rs is not None else block
            if got is not None and len(got):
                self._pending.append(_stereo(got))
                self._have += len(got)
        data = (
            self._pending[0]
            if len(self._pending) == 1
            else np.concatenate(self._pending or [np.zeros((0, 2), np.float32)])
        )
        out, rest = data[:k], data[k:]
        self._pending, self._have = ([rest] if len(rest) else []), len(rest)
        return _fit(out, k)

    def close(self) -> None:
        self._blocks.close()


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


class _Cue:
    """One cue of the score (chords per bar, bass pulse per beat, 8th-note arpeggio with echoes), rendered
    over any stretch of its own samples on demand.

    The notes are laid out once (onsets, pitches, velocities from the cue's own generator) and each distinct
    note waveform is synthesised once; a stretch is the sum of the notes sounding in it, added in the order
    they were laid out, so rendering the cue block by block gives exactly the samples of rendering it whole.
    """

    def __init__(
        self, length: int, tempo: int, mode: str, key: int, pattern: tuple[int, ...], rng: np.random.Generator
    ):
        beat = 60.0 / tempo
        self.bar = int(round(4 * beat * SAMPLE_RATE))
        beat_n = int(round(beat * SAMPLE_RATE))
        eighth = beat_n // 2
        self.length = length
        self.release = int(0.35 * SAMPLE_RATE)
        self.bright = 0.35 if mode == "major" else 0.15  # minor cues a little darker in timbre too
        # (onset, note(s), gain) in onset order, per voice
        self.notes: dict[str, list[tuple[int, object, float]]] = {"pad": [], "bass": [], "arp": []}
        prog = _PROGRESSIONS[mode]
        for b_i, b_start in enumerate(range(0, length, self.bar)):
            degree, quality = prog[b_i % len(prog)]
            root = key + degree
            triad = tuple(root + iv for iv in _TRIADS[quality])
            self.notes["pad"].append((b_start, triad, 1.0))
            bass_note = root - 12 if root - 12 >= 36 else root
            for k in range(4):
                self.notes["bass"].append((b_start + k * beat_n, bass_note, 1.0 if k == 0 else 0.6))
            tones = [*triad, root + 12]
            for k in range(8):
                vel = 0.55 + 0.15 * float(rng.random())
                self.notes["arp"].append((b_start + k * eighth, tones[pattern[k % len(pattern)]] + 12, vel))
        self.onsets = {v: [on for on, _, _ in notes] for v, notes in self.notes.items()}
        self.sizes = {"pad": self.bar + self.release, "bass": int(beat_n * 0.9), "arp": int(SAMPLE_RATE * 0.4)}
        self.delay = int(eighth * 1.5)  # dotted-eighth echo taps
        self.haas = int(0.011 * SAMPLE_RATE) % length  # the right channel's echo comes this much later
        fade = min(int(CUE_FADE_SECONDS * SAMPLE_RATE), length // 4)
        self.ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None] if fade > 0 else None
        self._waves: dict[tuple[str, object], np.ndarray] = {}

    def _wave(self, voice: str, note) -> np.ndarray:
        w = self._waves.get((voice, note))
        if w is None:
            n = self.sizes[voice]
            if voice == "pad":
                w = _pad_chord([_midi_hz(m) for m in note], n, self.bar // 4, self.release, 6.0)
            else:
                w = _pluck(_midi_hz(note), n, 0.1 if voice == "bass" else self.bright)
            self._waves[(voice, note)] = w
        return w

    def _voice(self, voice: str, lo: int, hi: int) -> np.ndarray:
        """One voice (pad: stereo, else mono) over cue samples [lo, hi), lo >= 0."""
        n = self.sizes[voice]
        buf = np.zeros((hi - lo, 2) if voice == "pad" else hi - lo, np.float32)
        on = self.onsets[voice]
        for onset, note, gain in self.notes[voice][bisect.bisect_right(on, lo - n) : bisect.bisect_left(on, hi)]:
            a, b = max(lo, onset), min(hi, onset + n, self.length)
            if a < b:
                w = self._wave(voice, note)[a - onset : b - onset]
                buf[a - lo : b - lo] += w if voice == "pad" else w * gain
        return buf

    def _echo(self, lo: int, hi: int) -> np.ndarray:
        """The arpeggio with its echo taps over cue samples [lo, hi)."""
        base = max(0, lo - 2 * self.delay)
        arp = self._voice("arp", base, hi)
        echo = arp[lo - base :].copy()
        for tap, gain in ((1, 0.35), (2, 0.15)):
            d = self.delay * tap
            if d < self.length:
                a = max(lo, d)
                if a < hi:
                    echo[a - lo :] += arp[a - d - base : hi - d - base] * gain
        return echo

    def render(self, lo: int, hi: int) -> np.ndarray:
        """Cue samples [lo, hi), 0 <= lo < hi <= length, as float32 (hi - lo, 2)."""
        length, h = self.length, self.haas
        seg = self._voice("pad", lo, hi)
        bass = self._voice("bass", lo, hi)
        # Haas widening: the right channel's echo is the left's rotated by h samples over the whole cue (its
        # first h samples are the cue's last ones).
        if lo >= h:
            both = self._echo(lo - h, hi)
            echo, late = both[h:], both[: hi - lo]
        else:
            ahead = self._echo(0, hi)
            echo = ahead[lo:]
            late = self._echo(length - h + lo, length - h + min(hi, h))
            if hi > h:
                late = np.concatenate([late, ahead[: hi - h]])
        seg[:, 0] += 0.22 * bass + 0.30 * echo
        seg[:, 1] += 0.22 * bass + 0.30 * late
        if self.ramp is not None:  # fade in and out
            fade = len(self.ramp)
            if lo < fade:
                seg[: min(hi, fade) - lo] *= self.ramp[lo : min(hi, fade)]
            if hi > length - fade:
                a = max(lo, length - fade)
                seg[a - lo :] *= self.ramp[::-1][a - (length - fade) : hi - (length - fade)]
        return seg


def _cue_spans(cues: list[tuple[float, float, int, str]], n: int) -> list[tuple[int, int, int, int, str]]:
    """Validated cues as (index, start sample, length in samples, tempo, mode), those that sound only."""
    spans = []
    for i, cue in enumerate(cues):
        start_s, length_s, tempo, mode = cue
        if mode not in _PROGRESSIONS:
            raise ValueError(f"cue {i}: mode must be 'major' or 'minor', got {mode!r}")
        if not 20 <= tempo <= 300:
            raise ValueError(f"cue {i}: tempo must be 20-300 bpm, got {tempo}")
        start = int(round(max(0.0, start_s) * SAMPLE_RATE))
        length = min(int(round(length_s * SAMPLE_RATE)), n - start)
        if length > 0:
            spans.append((i, start, length, int(tempo), mode))
    return spans


def _score_blocks(spans: list[tuple[int, int, int, int, str]], n: int, seed: int, block: int) -> Iterator[np.ndarray]:
    """The unnormalised score, (k, 2) float32 blocks of `block` samples (the last one shorter)."""
    rng = np.random.default_rng(seed)
    key = 48 + int(rng.integers(0, 12))  # tonic between C3 and B3
    pattern = _ARP_PATTERNS[int(rng.integers(0, len(_ARP_PATTERNS)))]
    live: dict[int, _Cue] = {}  # the cues sounding in this block (made when first needed, dropped after)
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        out = np.zeros((b1 - b0, 2), np.float32)
        for i, start, length, tempo, mode in spans:  # in the order given: overlapping cues add up alike
            lo, hi = max(b0, start), min(b1, start + length)
            if lo >= hi:
                continue
            cue = live.get(i)
            if cue is None:
                cue = live[i] = _Cue(length, tempo, mode, key, pattern, np.random.default_rng([seed, i]))
            out[lo - b0 : hi - b0] += cue.render(lo - start, hi - start)
            if start + length <= b1:
                del live[i]
        yield out


def music_bed(cues: list[tuple[float, float, int, str]], duration: float, out_wav: Path, *, seed: int = 0) -> Path:
    """Render a procedural temp score for the reel to a 48 kHz stereo WAV.

    cues: (start_s, length_s, tempo_bpm, "major"|"minor"). The key and arpeggio shape come from seed,
    so the same cues and seed always give the same file. Peak normalised to PEAK_DBFS.

    Made in blocks, twice over (the peak first, then the normalised samples written as they come), so the
    memory it takes does not grow with the duration; each sample is computed from its absolute index, so the
    file does not depend on the block size.
    """
    if duration < 0:
        raise ValueError(f"duration must be >= 0, got {duration}")
    n = int(round(duration * SAMPLE_RATE))
    spans = _cue_spans(cues, n)
    peak = 0.0
    for block in _score_blocks(spans, n, seed, _BLOCK):
        peak = max(peak, float(np.max(np.abs(block))))
    gain = np.float32((10.0 ** (PEAK_DBFS / 20.0)) / peak) if peak > 0 else None
    with _wav_writer(Path(out_wav), 2, SAMPLE_RATE, n) as put:
        for block in _score_blocks(spans, n, seed, _BLOCK):
            if gain is not None:
                block *= gain
            put(block)
    return Path(out_wav)


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


def _load_line(path: Path) -> np.ndarray:
    """A dialogue line as mono float32 (n,) at 48 kHz."""
    data, rate = read_wav(path)
    return resample(data.mean(axis=1, keepdims=True), rate, SAMPLE_RATE)[:, 0]


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

    Streamed in blocks of BLOCK_SECONDS: the music is read, ducked, mixed and written a block at a time, and
    each line is loaded (once) when the block its ducking ramp starts in comes and dropped after its last,
    so the memory it takes does not grow with the duration.
    """
    out_wav = Path(out_wav)
    n = int(round(max(0.0, duration) * SAMPLE_RATE))
    duck = np.float32(10.0 ** (duck_db / 20.0))
    ramp = max(1, int(round(DUCK_RAMP_SECONDS * SAMPLE_RATE)))
    starts = [int(round(max(0.0, start_s) * SAMPLE_RATE)) for start_s, _ in dialogue]
    queue = sorted(range(len(dialogue)), key=lambda i: starts[i])  # lines to load, by start
    lines: dict[int, np.ndarray] = {}  # loaded lines, by their index in `dialogue`
    track = _Track48k(Path(music)) if music is not None else None
    try:
        with _wav_writer(out_wav, 2, SAMPLE_RATE, n) as put:
            for b0 in range(0, n, _BLOCK):
                b1 = min(n, b0 + _BLOCK)
                while queue and starts[queue[0]] - ramp < b1:  # its ducking ramp begins before this block ends
                    i = queue.pop(0)
                    lines[i] = _load_line(dialogue[i][1])
                gain = np.ones(b1 - b0, np.float32)
                voice = np.zeros(b1 - b0, np.float32)
                for i in sorted(lines):  # the order given: overlapping lines add up as they always did
                    line, start = lines[i], starts[i]
                    end = start + len(line)
                    a, b = max(b0, start), min(b1, end)
                    if a < b:
                        voice[a - b0 : b - b0] += line[a - start : b - start]
                    # Envelope for this line: 1 -> duck over the ramp before it, duck during, back to 1 after.
                    a, b = max(b0, start - ramp), min(b1, end + ramp)
                    if a < b:
                        idx = np.arange(a, b, dtype=np.int64)
                        down = np.clip((start - idx).astype(np.float32) / ramp, 0.0, 1.0)  # 0 from its start on
                        up = np.clip((idx - end).astype(np.float32) / ramp, 0.0, 1.0)  # 1 a ramp after its end
                        g = duck + (1.0 - duck) * np.maximum(down, up)
                        np.minimum(gain[a - b0 : b - b0], g, out=gain[a - b0 : b - b0])
                    if end + ramp <= b1:
                        del lines[i]
                if track is not None:
                    out = track.read(b1 - b0) * gain[:, None]
                else:
                    out = np.zeros((b1 - b0, 2), np.float32)
                out += voice[:, None]
                put(_soft_clip(out))
    finally:
        if track is not None:
            track.close()
    return out_wav


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
