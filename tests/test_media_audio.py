"""Audio, voice and subtitle tests: real WAV files in, real WAV/SRT files out."""

from __future__ import annotations

import os
import time
import tracemalloc
import wave

import numpy as np
import pytest

from storyreel.export.srt import srt, write_srt
from storyreel.media import audio as A
from storyreel.media import voice as VO

SR = A.SAMPLE_RATE


def _sine(freq: float, seconds: float, rate: int = SR, amp: float = 0.5, channels: int = 2) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.repeat((amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)[:, None], channels, axis=1)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


# --------------------------------------------------------------------------------------------- WAV


def test_wav_round_trip(tmp_path):
    x = _sine(440, 0.5)
    path = A.write_wav(tmp_path / "a.wav", x, SR)
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (2, 2, SR)
    y, rate = A.read_wav(path)
    assert rate == SR and y.dtype == np.float32 and y.shape == x.shape
    assert np.abs(y - x).max() < 2 / 32767
    mono, _ = A.read_wav(A.write_wav(tmp_path / "m.wav", x[:, 0], 22050))
    assert mono.shape == (len(x), 1)


# ------------------------------------------------------------------------------------------- score


def test_music_bed_is_deterministic_stereo_and_normalised(tmp_path):
    cues = [(0.0, 4.0, 96, "major"), (4.0, 4.0, 128, "minor")]
    a = A.music_bed(cues, 9.0, tmp_path / "a.wav", seed=7)
    b = A.music_bed(cues, 9.0, tmp_path / "b.wav", seed=7)
    c = A.music_bed(cues, 9.0, tmp_path / "c.wav", seed=8)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    x, rate = A.read_wav(a)
    assert rate == SR and x.shape == (9 * SR, 2)
    assert 20 * np.log10(np.abs(x).max()) == pytest.approx(-12.0, abs=0.3)
    assert np.abs(x[:, 0] - x[:, 1]).max() > 1e-3  # genuinely stereo
    assert np.abs(x[int(8.5 * SR) :]).max() == 0  # after the last cue: silence
    assert np.abs(x[: int(0.01 * SR)]).max() < 0.02  # cues fade in rather than click in


def _chroma(x: np.ndarray) -> np.ndarray:
    """Energy per pitch class (C=0) from an FFT of the mono signal."""
    mono = x.mean(axis=1)
    spec = np.abs(np.fft.rfft(mono * np.hanning(len(mono))))
    freqs = np.fft.rfftfreq(len(mono), 1 / SR)
    keep = (freqs > 60) & (freqs < 2000)
    pcs = np.round(12 * np.log2(freqs[keep] / 440.0) + 69).astype(int) % 12
    return np.bincount(pcs, weights=spec[keep] ** 2, minlength=12)


def test_major_and_minor_sound_different(tmp_path):
    maj, _ = A.read_wav(A.music_bed([(0.0, 8.0, 100, "major")], 8.0, tmp_path / "maj.wav", seed=3))
    mnr, _ = A.read_wav(A.music_bed([(0.0, 8.0, 100, "minor")], 8.0, tmp_path / "min.wav", seed=3))
    assert _rms(maj - mnr) > 0.5 * _rms(maj)
    # same seed -> same tonic; the tonic triad's third is major (4 semitones) or minor (3)
    cm, cn = _chroma(maj), _chroma(mnr)
    tonic = int(np.argmax(cm + cn))
    assert cm[(tonic + 4) % 12] > cm[(tonic + 3) % 12]
    assert cn[(tonic + 3) % 12] > cn[(tonic + 4) % 12]


def test_tempo_changes_the_pulse(tmp_path):
    def onsets_per_second(bpm):
        x, _ = A.read_wav(A.music_bed([(0.0, 8.0, bpm, "major")], 8.0, tmp_path / f"{bpm}.wav", seed=1))
        env = np.abs(x.mean(axis=1))[SR : 7 * SR].reshape(-1, SR // 100).max(axis=1)  # 10 ms envelope
        env = env - env.mean()
        ac = np.correlate(env, env, "full")[len(env) - 1 :]
        lag = np.argmax(ac[15:120]) + 15  # strongest repetition between 0.15 s and 1.2 s
        return 100.0 / lag

    slow, fast = onsets_per_second(70), onsets_per_second(150)
    assert fast > slow * 1.5


def test_music_bed_five_minutes_is_fast(tmp_path):
    cues = [(0.0, 100.0, 90, "major"), (100.0, 100.0, 140, "minor"), (200.0, 100.0, 110, "major")]
    t0 = time.perf_counter()
    A.music_bed(cues, 300.0, tmp_path / "long.wav")
    assert time.perf_counter() - t0 < 3.0  # vectorised: ~0.5 s on a 2-core box


def test_music_bed_rejects_bad_mode(tmp_path):
    with pytest.raises(ValueError, match="lydian"):
        A.music_bed([(0.0, 2.0, 100, "lydian")], 2.0, tmp_path / "x.wav")


# --------------------------------------------------------------------------------------------- mix


def test_mix_ducks_music_under_dialogue(tmp_path):
    music = A.write_wav(tmp_path / "music.wav", _sine(220, 10.0, amp=0.3), SR)
    # silent "dialogue" at espeak's rate: whatever is left under the line is ducked music only
    line = A.write_wav(tmp_path / "line.wav", np.zeros((22050 * 2, 1), np.float32), 22050)
    out = A.mix(10.0, tmp_path / "mix.wav", music=music, dialogue=[(4.0, line)], duck_db=-12.0)
    x, rate = A.read_wav(out)
    assert rate == SR and x.shape == (10 * SR, 2)
    before, under, after = x[1 * SR : 3 * SR], x[int(4.3 * SR) : int(5.7 * SR)], x[7 * SR : 9 * SR]
    assert 20 * np.log10(_rms(under) / _rms(before)) == pytest.approx(-12.0, abs=0.5)
    assert _rms(after) == pytest.approx(_rms(before), rel=0.02)
    # ramps, not steps: halfway down the 0.15 s ramp the level is in between
    ramp = x[int((4.0 - 0.075) * SR) - 240 : int((4.0 - 0.075) * SR) + 240]
    assert _rms(under) * 1.3 < _rms(ramp) < _rms(before) * 0.9


def test_mix_resamples_and_centres_dialogue(tmp_path):
    line = A.write_wav(tmp_path / "line.wav", _sine(500, 1.0, rate=22050, amp=0.4, channels=1), 22050)
    out = A.mix(3.0, tmp_path / "mix.wav", music=None, dialogue=[(1.0, line)])
    x, _ = A.read_wav(out)
    assert np.array_equal(x[:, 0], x[:, 1])  # centred
    voiced = np.nonzero(np.abs(x[:, 0]) > 0.01)[0]
    assert voiced[0] / SR == pytest.approx(1.0, abs=0.01)
    assert voiced[-1] / SR == pytest.approx(2.0, abs=0.01)  # 1 s of 22.05 kHz -> 1 s at 48 kHz
    spec = np.abs(np.fft.rfft(x[SR : 2 * SR, 0]))
    assert np.argmax(spec) == pytest.approx(500, abs=2)  # pitch preserved by the resampler


def test_mix_soft_clips_instead_of_wrapping(tmp_path):
    music = A.write_wav(tmp_path / "m.wav", _sine(110, 3.0, amp=0.9), SR)
    line = A.write_wav(tmp_path / "l.wav", _sine(110, 1.0, amp=0.95, channels=1), SR)
    x, _ = A.read_wav(A.mix(3.0, tmp_path / "mix.wav", music=music, dialogue=[(1.0, line)], duck_db=0.0))
    assert np.abs(x).max() <= 1.0
    seg = x[int(1.2 * SR) : int(1.8 * SR), 0]
    ref = _sine(110, 3.0)[int(1.2 * SR) : int(1.8 * SR), 0]
    assert np.all(np.sign(seg[np.abs(ref) > 0.1]) == np.sign(ref[np.abs(ref) > 0.1]))  # no wrap-around


# ------------------------------------------------------------------------- streaming (block by block)
#
# music_bed and mix work in blocks of A.BLOCK_SECONDS and write as they go. The reference below is the
# whole-buffer algorithm they replaced, kept verbatim (every buffer as long as the film): the streamed files
# must be byte-identical to it, whatever the block size.


def _ref_render_cue(out, start, length, tempo, mode, key, pattern, rng):
    beat = 60.0 / tempo
    bar = int(round(4 * beat * SR))
    beat_n = int(round(beat * SR))
    eighth = beat_n // 2
    seg = np.zeros((length, 2), np.float32)
    arp = np.zeros(length, np.float32)
    bass = np.zeros(length, np.float32)
    release = int(0.35 * SR)
    cache = {}
    prog = A._PROGRESSIONS[mode]
    bright = 0.35 if mode == "major" else 0.15
    for b_i, b_start in enumerate(range(0, length, bar)):
        degree, quality = prog[b_i % len(prog)]
        root = key + degree
        triad = [root + iv for iv in A._TRIADS[quality]]
        pad_key = ("pad", tuple(triad))
        if pad_key not in cache:
            cache[pad_key] = A._pad_chord([A._midi_hz(m) for m in triad], bar + release, bar // 4, release, 6.0)
        _ref_add(seg, b_start, cache[pad_key])
        bass_note = root - 12 if root - 12 >= 36 else root
        for k in range(4):
            bk = ("bass", bass_note)
            if bk not in cache:
                cache[bk] = A._pluck(A._midi_hz(bass_note), int(beat_n * 0.9), 0.1)
            _ref_add(bass, b_start + k * beat_n, cache[bk] * (1.0 if k == 0 else 0.6))
        tones = [*triad, root + 12]
        for k in range(8):
            note = tones[pattern[k % len(pattern)]] + 12
            ak = ("arp", note)
            if ak not in cache:
                cache[ak] = A._pluck(A._midi_hz(note), int(SR * 0.4), bright)
            vel = 0.55 + 0.15 * float(rng.random())
            _ref_add(arp, b_start + k * eighth, cache[ak] * vel)
    echo = arp.copy()
    delay = int(eighth * 1.5)
    for tap, gain in ((1, 0.35), (2, 0.15)):
        d = delay * tap
        if d < length:
            echo[d:] += arp[: length - d] * gain
    seg[:, 0] += 0.22 * bass + 0.30 * echo
    seg[:, 1] += 0.22 * bass + 0.30 * np.roll(echo, int(0.011 * SR))
    fade = min(int(A.CUE_FADE_SECONDS * SR), length // 4)
    if fade > 0:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)[:, None]
        seg[:fade] *= ramp
        seg[length - fade :] *= ramp[::-1]
    _ref_add(out, start, seg)


def _ref_add(buf, start, sig):
    if start >= len(buf) or start + len(sig) <= 0:
        return
    a, b = max(0, start), min(len(buf), start + len(sig))
    buf[a:b] += sig[a - start : b - start]


def _ref_music_bed(cues, duration, out_wav, *, seed=0):
    n = int(round(duration * SR))
    out = np.zeros((n, 2), np.float32)
    rng = np.random.default_rng(seed)
    key = 48 + int(rng.integers(0, 12))
    pattern = A._ARP_PATTERNS[int(rng.integers(0, len(A._ARP_PATTERNS)))]
    for i, (start_s, length_s, tempo, mode) in enumerate(cues):
        start = int(round(max(0.0, start_s) * SR))
        length = min(int(round(length_s * SR)), n - start)
        if length > 0:
            _ref_render_cue(out, start, length, int(tempo), mode, key, pattern, np.random.default_rng([seed, i]))
    peak = float(np.max(np.abs(out))) if n else 0.0
    if peak > 0:
        out *= (10.0 ** (A.PEAK_DBFS / 20.0)) / peak
    return A.write_wav(out_wav, out, SR)


def _ref_mix(duration, out_wav, *, music, dialogue, duck_db=-12.0):
    n = int(round(max(0.0, duration) * SR))
    out = np.zeros((n, 2), np.float32)
    gain = np.ones(n, np.float32)
    duck = np.float32(10.0 ** (duck_db / 20.0))
    ramp = max(1, int(round(A.DUCK_RAMP_SECONDS * SR)))
    voice = np.zeros((n, 2), np.float32)
    for start_s, path in dialogue:
        data, rate = A.read_wav(path)
        mono = A.resample(data.mean(axis=1, keepdims=True), rate, SR)
        start = int(round(max(0.0, start_s) * SR))
        _ref_add(voice, start, np.repeat(mono, 2, axis=1))
        end = start + len(mono)
        a, b = max(0, start - ramp), min(n, end + ramp)
        if a >= b:
            continue
        idx = np.arange(a, b, dtype=np.float32)
        down = np.clip((start - idx) / ramp, 0.0, 1.0)
        up = np.clip((idx - end) / ramp, 0.0, 1.0)
        g = duck + (1.0 - duck) * np.maximum(down, up)
        np.minimum(gain[a:b], g, out=gain[a:b])
    if music is not None:
        data, rate = A.read_wav(music)
        out += A._fit(A._stereo(A.resample(data, rate, SR)), n) * gain[:, None]
    out += voice
    return A.write_wav(out_wav, A._soft_clip(out), SR)


@pytest.mark.parametrize("block", [A._BLOCK, 4801, 3 * SR + 17])
def test_music_bed_streamed_equals_whole_buffer(tmp_path, monkeypatch, block):
    # overlapping cues, a very slow and a very fast one, one shorter than the Haas delay, one running past the end
    cues = [(0.0, 5.0, 20, "major"), (4.5, 6.0, 300, "minor"), (10.49, 0.005, 100, "major"), (10.0, 9.0, 97, "minor")]
    ref = _ref_music_bed(cues, 12.0, tmp_path / "ref.wav", seed=5)
    monkeypatch.setattr(A, "_BLOCK", block)
    out = A.music_bed(cues, 12.0, tmp_path / "out.wav", seed=5)
    assert out.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize("block", [A._BLOCK, 4801, 3 * SR + 17])
@pytest.mark.parametrize("music_rate,music_channels", [(SR, 2), (22050, 1), (44100, 2), (96000, 3)])
def test_mix_streamed_equals_whole_buffer(tmp_path, monkeypatch, block, music_rate, music_channels):
    rng = np.random.default_rng(music_rate + music_channels)

    def noise(seconds, rate, channels, amp):
        return np.clip(amp * rng.standard_normal((int(seconds * rate), channels)), -1, 1).astype(np.float32)

    # loud enough that the soft clipper works; shorter than the mix, so the end is silence-padded
    music = A.write_wav(tmp_path / "m.wav", noise(9.3, music_rate, music_channels, 0.5), music_rate)
    lines = [A.write_wav(tmp_path / f"l{i}.wav", noise(s, 22050, 1, 0.3), 22050) for i, s in enumerate((1.3, 2.0))]
    stereo48 = A.write_wav(tmp_path / "l48.wav", noise(0.5, SR, 2, 0.9), SR)
    # overlapping lines, one before 0, ramps across block edges (4801 samples = 0.1 s), one line past the end
    dialogue = [(1.0, lines[0]), (1.5, lines[1]), (-0.3, stereo48), (6.04, lines[0]), (11.9, lines[1]),
                (30.0, lines[0])]
    ref = _ref_mix(12.0, tmp_path / "ref.wav", music=music, dialogue=dialogue)
    monkeypatch.setattr(A, "_BLOCK", block)
    out = A.mix(12.0, tmp_path / "out.wav", music=music, dialogue=dialogue)
    assert out.read_bytes() == ref.read_bytes()
    assert A.mix(12.0, tmp_path / "v.wav", music=None, dialogue=dialogue).read_bytes() == _ref_mix(
        12.0, tmp_path / "vref.wav", music=None, dialogue=dialogue).read_bytes()


def _traced_peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_music_bed_and_mix_memory_does_not_grow_with_duration(tmp_path):
    """NumPy reports its buffers to tracemalloc: the peak for a 10x longer film stays about the same (the
    whole-buffer algorithm needed ~0.9 MB (bed) and ~2.2 MB (mix) per film second: 0.27 and 0.66 GB at 300 s)."""
    line = A.write_wav(tmp_path / "line.wav", _sine(300, 2.0, rate=22050, amp=0.3, channels=1), 22050)
    peaks = {}
    for seconds in (30.0, 300.0):
        cues = [(t, 31.0, 70 + int(t) % 80, "minor" if int(t) % 90 else "major") for t in np.arange(0, seconds, 30)]
        spoken = [(float(t), line) for t in np.arange(0.5, seconds, 7.3)]
        bed, mixed = tmp_path / f"bed{seconds:.0f}.wav", tmp_path / f"mix{seconds:.0f}.wav"
        peak_bed = _traced_peak(lambda: A.music_bed(cues, seconds, bed, seed=2))  # noqa: B023
        peak_mix = _traced_peak(lambda: A.mix(seconds, mixed, music=bed, dialogue=spoken))  # noqa: B023
        peaks[seconds] = (peak_bed, peak_mix)
        with wave.open(str(mixed)) as w:
            assert w.getnframes() == int(seconds * SR)
    for short, long in zip(peaks[30.0], peaks[300.0], strict=True):
        assert long < 1.25 * short + 2**20, peaks
        assert long < 60 * 2**20, peaks  # a few 10 s blocks and the note waveforms, not the film


# ------------------------------------------------------------------------------------------- voice


def test_voice_for_is_stable_and_distinct():
    names = ["ANNA", "MARCO", "DETECTIVE RUIZ", "THE STRANGER", "OLD MAN"]
    voices = [VO.voice_for(n) for n in names]
    assert voices == [VO.voice_for(n) for n in names]
    assert VO.voice_for("Anna") == VO.voice_for(" anna ")
    assert len({tuple(sorted(v.items())) for v in voices}) == len(names)
    for v in voices:
        assert v["voice"].startswith("en+") and 0 <= v["pitch"] <= 99 and 80 <= v["speed"] <= 450


def test_estimate_duration():
    assert VO.estimate_duration("Hi.") == 1.0
    short, long = VO.estimate_duration("Where were you?"), VO.estimate_duration("word " * 60)
    assert long > short and long == pytest.approx(60 / (165 * 1.3 / 60), rel=0.05)
    assert VO.estimate_duration("word " * 60, speed=330) < long


def test_speak_returns_none_without_espeak(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert VO.espeak_available() is False
    assert VO.speak("Hello.", tmp_path / "x.wav") is None
    assert not (tmp_path / "x.wav").exists()


def _need_espeak():
    if not VO.espeak_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("espeak-ng must be installed in CI (apt-get install espeak-ng)")
        pytest.skip("espeak-ng is not installed on this machine")


def test_speak_with_espeak(tmp_path):
    _need_espeak()
    out = tmp_path / "lines" / "anna.wav"
    seconds = VO.speak('-- Where were you last night? "Out."', out, **VO.voice_for("ANNA"))
    x, rate = A.read_wav(out)
    assert seconds == pytest.approx(len(x) / rate, abs=1e-6)
    assert 0.8 < seconds < 6.0 and _rms(x) > 0.01
    fast = VO.speak('-- Where were you last night? "Out."', tmp_path / "fast.wav", speed=300)
    assert fast < seconds
    # the line feeds straight into the mix
    mixed, _ = A.read_wav(A.mix(4.0, tmp_path / "mix.wav", music=None, dialogue=[(0.5, out)]))
    assert _rms(mixed) > 0.005


def test_speak_failure_is_one_line(tmp_path):
    _need_espeak()
    with pytest.raises(RuntimeError) as exc:
        VO.speak("Hello.", tmp_path / "x.wav", voice="zz-no-such-voice")
    assert "\n" not in str(exc.value) and "espeak-ng" in str(exc.value)
    assert not list(tmp_path.iterdir())
    with pytest.raises(ValueError):
        VO.speak("Hello.", tmp_path / "x.wav", voice="en; rm -rf /")


# --------------------------------------------------------------------------------------------- srt


def test_srt_format():
    cues = [
        (3661.5, 3663.0, "marco", "Then we go tonight."),
        (1.0, 2.25, "Anna", "Where were you?"),
        (2.5, 4.0, "", "(a door slams)"),
    ]
    assert srt(cues) == (
        "1\n00:00:01,000 --> 00:00:02,250\nANNA: Where were you?\n"
        "\n"
        "2\n00:00:02,500 --> 00:00:04,000\n(a door slams)\n"
        "\n"
        "3\n01:01:01,500 --> 01:01:03,000\nMARCO: Then we go tonight.\n"
    )
    assert srt([]) == ""
    # blank lines would end a cue early; an end before the start is repaired
    text = srt([(5.0, 4.0, "Anna", "One.\n\nTwo.")])
    assert text == "1\n00:00:05,000 --> 00:00:05,001\nANNA: One.\nTwo.\n"


def test_write_srt(tmp_path):
    path = write_srt(tmp_path / "sub" / "reel.srt", [(0.0, 1.0, "Zoë", "Ça va?")])
    assert path.read_text(encoding="utf-8") == "1\n00:00:00,000 --> 00:00:01,000\nZOË: Ça va?\n"
    assert [p.name for p in path.parent.iterdir()] == ["reel.srt"]


def test_srt_rounds_milliseconds():
    assert "00:00:59,999 --> 00:01:00,000" in srt([(59.9994, 59.9996, "A", "x")])
