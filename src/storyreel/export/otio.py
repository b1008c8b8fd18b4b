"""The cut as an OpenTimelineIO timeline (``{name}_timeline.otio``), plus a CMX 3600 EDL next to it when the
installed OpenTimelineIO has the ``cmx_3600`` adapter (since OTIO 0.17 it is a separate plugin; without it the
EDL is skipped silently).

Video track ``V1``: one Clip per shot, in order, at 24 fps. Each clip's media reference is an
ExternalReference whose ``target_url`` is the clip file's absolute ``file://`` URL: editors (Resolve,
Premiere, Avid via the EDL) resolve absolute URLs wherever the .otio is opened on this machine, while a path
relative to the .otio would break as soon as the file is moved or imported from another folder. Move the
project and re-link (or rewrite the URLs). ``available_range`` is the whole rendered clip (the shot's frames);
``source_range`` is the part that plays outside transitions.

Crossfades are ``SMPTE_Dissolve`` Transitions modelled exactly as ``media.video.concat`` joins the clips: the
outgoing clip's last ``o`` frames are blended with the incoming clip's first ``o`` frames over ``o`` frames of
the film (``o`` = 0.5 s = 12 frames, at most half of either clip), so the film is ``o`` frames shorter per
crossfade. In OTIO terms the cut point sits in the middle of the dissolve: ``in_offset`` = ``o // 2`` (0.25 s)
and ``out_offset`` = the rest (0.25 s); the outgoing clip's ``source_range`` stops ``out_offset`` before the
end of its media and the incoming clip's starts ``in_offset`` into its media, the trimmed frames being the
handles the dissolve plays. The track's duration is therefore the final film's. Fades through black have no
OTIO schema: they are recorded on both clips' metadata (``storyreel.fade_out`` / ``fade_in``, in frames), and
take no time, as in the film.

Each clip carries a marker (name: the shot's action; comment: label, framing, move and dialogue) and metadata
``{"storyreel": {shot_id, scene_id, label, framing, camera_move, duration, transition_out, clip_strategy}}``.

Audio: ``A1 mix`` holds the cut's mix (dialogue + music: the newest ``audio/mix_*.wav`` as long as the film)
when the cut has run; ``A2 music`` holds the music bed alone, disabled when the mix is there (the mix already
contains it).
"""

from __future__ import annotations

import wave
from pathlib import Path

import opentimelineio as otio

from storyreel.film.models import Film, Shot
from storyreel.store import files

RATE = 24
TRANSITION_SECONDS = 0.5  # as steps.cut / media.video.concat


def frames(seconds: float) -> int:
    """A length in seconds as whole frames, as media.video.render_clip rounds it."""
    return max(1, int(round(seconds * RATE)))


def _t(n: int | float, rate: float = RATE) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(n, rate)


def _range(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_t(start), _t(duration))


def overlaps(film: Film) -> list[int]:
    """Frames each transition after shot i takes (0 for a cut), with concat's rule: at most half a clip."""
    shots = film.shots or []
    n = [frames(s.duration) for s in shots]
    want = int(round(TRANSITION_SECONDS * RATE))
    return [0 if s.transition == "cut" or i == len(shots) - 1 else min(want, n[i] // 2, n[i + 1] // 2)
            for i, s in enumerate(shots)]


def timeline(film: Film, project_dir: Path) -> otio.schema.Timeline:
    from storyreel.export.bundle import title_of

    project_dir = Path(project_dir)
    shots = film.shots or []
    clip_of = {c.shot_id: c for c in film.clips or [] if c}
    scene_no = {sc.id: sc.index + 1 for sc in film.scenes or []}
    lines = {d.id: d for d in film.dialogue_lines()}
    ov = overlaps(film)
    tl = otio.schema.Timeline(name=title_of(film))
    tl.global_start_time = _t(0)
    tl.metadata["storyreel"] = {"project": film.name, "fps": RATE, "aspect": film.inputs.aspect,
                                "transition_seconds": TRANSITION_SECONDS}
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, shot in enumerate(shots):
        n = frames(shot.duration)
        head = ov[i - 1] // 2 if i > 0 and shots[i - 1].transition == "crossfade" else 0  # prev in_offset
        tail = ov[i] - ov[i] // 2 if shot.transition == "crossfade" else 0  # this dissolve's out_offset
        label = f"{scene_no.get(shot.scene_id, 0)}.{shot.index + 1}"
        clip = otio.schema.Clip(name=shot.id, source_range=_range(head, n - head - tail))
        clip.media_reference = _reference(project_dir, clip_of.get(shot.id), n)
        meta = {"shot_id": shot.id, "scene_id": shot.scene_id, "label": label, "number": shot.number,
                "framing": shot.framing, "camera_move": shot.camera_move, "duration": shot.duration,
                "frames": n, "transition_out": shot.transition, "clip_strategy": shot.clip_strategy}
        if shot.transition == "fade-to-black" and ov[i]:
            meta["fade_out"] = ov[i]
        if i > 0 and shots[i - 1].transition == "fade-to-black" and ov[i - 1]:
            meta["fade_in"] = ov[i - 1]
        clip.metadata["storyreel"] = meta
        clip.markers.append(otio.schema.Marker(
            name=" ".join(shot.action.split()) or shot.id, marked_range=_range(head, n - head - tail),
            color=otio.schema.MarkerColor.PINK if shot.dialogue else otio.schema.MarkerColor.CYAN,
            comment=_comment(label, shot, lines)))
        video.append(clip)
        if shot.transition == "crossfade" and ov[i] and i < len(shots) - 1:
            video.append(otio.schema.Transition(
                name=f"{shot.id} dissolve", transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=_t(ov[i] // 2), out_offset=_t(ov[i] - ov[i] // 2)))
    tl.tracks.append(video)
    total = sum(frames(s.duration) for s in shots) - sum(o for o, s in zip(ov, shots, strict=True)
                                                          if s.transition == "crossfade")
    mix = _mix(project_dir, total)
    music = files.inside(project_dir, film.sound.music) if film.sound and film.sound.music else None
    if mix is not None:
        tl.tracks.append(_audio_track("A1 mix", mix, total, enabled=True))
    if music is not None and music.is_file():
        tl.tracks.append(_audio_track("A2 music", music, total, enabled=mix is None))
    return tl


def write(film: Film, project_dir: Path, target: Path) -> list[Path]:
    """Write the .otio (and the .edl beside it when the cmx_3600 adapter is installed); returns the paths."""
    tl = timeline(film, project_dir)
    target = Path(target)
    out = [files.atomic_write(target, otio.adapters.write_to_string(tl, "otio_json").encode("utf-8"))]
    if "cmx_3600" in otio.adapters.available_adapter_names():
        try:  # an EDL holds one video track; the audio tracks stay in the .otio
            edl_tl = otio.schema.Timeline(name=tl.name)
            edl_tl.tracks.append(tl.video_tracks()[0].deepcopy())
            edl = otio.adapters.write_to_string(edl_tl, "cmx_3600")
        except Exception:  # noqa: BLE001 - the EDL is a convenience; the .otio is the export
            return out
        out.append(files.atomic_write(target.with_suffix(".edl"), edl.encode("ascii", "replace")))
    return out


# --- helpers ------------------------------------------------------------------------------------------------


def _reference(project_dir: Path, clip, n: int):
    available = _range(0, n)
    if clip is None or not clip.path:
        return otio.schema.MissingReference(available_range=available)
    path = files.inside(project_dir, clip.path)
    if not path.is_file():
        return otio.schema.MissingReference(name=path.name, available_range=available)
    return otio.schema.ExternalReference(target_url=path.resolve().as_uri(), available_range=available)


def _comment(label: str, shot: Shot, lines: dict) -> str:
    parts = [f"{label} {shot.framing}, {shot.camera_move}, {shot.duration:.2f} s"]
    for lid in shot.dialogue:
        d = lines.get(lid)
        if d is not None:
            parts.append(f"{d.character}: {' '.join(d.text.split())}")
    return "\n".join(parts)


def _seconds(path: Path) -> float | None:
    try:
        with wave.open(str(path), "rb") as w:
            return w.getnframes() / float(w.getframerate())
    except (wave.Error, OSError, EOFError):
        return None


def _mix(project_dir: Path, total_frames: int) -> Path | None:
    """The cut's mix: the newest ``audio/mix_*.wav`` as long as the film (a branch keeps its parent's name in
    the file name until it is cut again; an older cut of another length is not this film's mix)."""
    found = [p for p in (project_dir / "audio").glob("mix_*.wav") if p.is_file()]
    for p in sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True):
        s = _seconds(p)
        if s is not None and abs(s * RATE - total_frames) <= 1:
            return p
    return None


def _audio_track(name: str, path: Path, total_frames: int, *, enabled: bool) -> otio.schema.Track:
    track = otio.schema.Track(name=name, kind=otio.schema.TrackKind.Audio)
    seconds = _seconds(path) or total_frames / RATE
    length = max(1, int(round(seconds * RATE)))
    clip = otio.schema.Clip(name=path.stem, source_range=_range(0, min(length, total_frames)))
    clip.media_reference = otio.schema.ExternalReference(target_url=path.resolve().as_uri(),
                                                         available_range=_range(0, length))
    track.append(clip)
    track.enabled = enabled
    return track


__all__ = ["timeline", "write", "overlaps", "frames", "RATE"]
