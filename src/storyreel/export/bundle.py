"""Exports of a project: the Film (JSON), the storyboard (PDF), the timeline (OTIO, plus a CMX 3600 EDL when
the installed OpenTimelineIO has that adapter), the subtitles (SRT) and the screenplay (Fountain).

    export(studio, name, fmt, output) -> [paths written]

``fmt`` is one of json, pdf, otio, srt, fountain or all. Without ``output`` the files go to the project's
``output/`` folder as ``{name}_film.json``, ``{name}_storyboard.pdf``, ``{name}_timeline.otio`` (+ ``.edl``),
``{name}.srt`` and ``{name}_screenplay.fountain``. With ``output`` the path is used as given (the user chose
it); an existing folder (and, for ``all``, any path) gets the default file names inside it. The SRT is written
by the cut step: without ``output`` it is returned as is, and only made here when the cut has not written it
yet.

``all`` writes every export the project can give now and skips the rest (no keyframes yet: no storyboard; no
clips yet: no timeline). Asking for one of those by name raises an :class:`InputError` saying what to run
first. Every file is written atomically: a reader never sees half of one.
"""

from __future__ import annotations

from pathlib import Path

from storyreel.errors import InputError
from storyreel.film.models import Film
from storyreel.store import files

FORMATS = ("json", "pdf", "otio", "srt", "fountain")
SUFFIX = {"json": "_film.json", "pdf": "_storyboard.pdf", "otio": "_timeline.otio", "srt": ".srt",
          "fountain": "_screenplay.fountain"}


def default_name(name: str, fmt: str) -> str:
    return f"{name}{SUFFIX[fmt]}"


def export(studio, name: str, fmt: str, output: Path | None = None) -> list[Path]:
    """Write the export(s) ``fmt`` of project ``name``; returns the paths written, in FORMATS order."""
    fmt = (fmt or "").strip().lower() if isinstance(fmt, str) else fmt
    if fmt != "all" and fmt not in FORMATS:
        raise InputError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)} or all")
    film = studio.film(name)  # raises NotFound for an unknown project
    project_dir = Path(studio.project_dir(name))
    output = Path(output) if output is not None else None
    if fmt != "all":
        return _one(studio, film, name, project_dir, fmt, _target(project_dir, name, fmt, output),
                    given=output is not None)
    if output is not None and output.exists() and not output.is_dir():
        raise InputError(f"--output {str(output)!r} is a file; 'all' writes several files: give a folder")
    written: list[Path] = []
    for f in FORMATS:
        if _missing(film, project_dir, f):  # 'all' skips what the project cannot give yet
            continue
        target = (output / default_name(name, f)) if output is not None else None
        written += _one(studio, film, name, project_dir, f, target or _target(project_dir, name, f, None),
                        given=output is not None)
    return written


# --- one format ---------------------------------------------------------------------------------------------


def _target(project_dir: Path, name: str, fmt: str, output: Path | None) -> Path:
    if output is None:
        return project_dir / "output" / default_name(name, fmt)
    if output.is_dir():
        return output / default_name(name, fmt)
    return output


def _missing(film: Film, project_dir: Path, fmt: str) -> str | None:
    """Why ``fmt`` cannot be exported yet (one line), or None when it can."""
    if fmt == "pdf":
        if not any(_exists(project_dir, k.image) for s in film.shots or []
                   for k in (s.first_frame, s.last_frame) if k is not None):
            return ("the project has no keyframes yet, so there is no storyboard: run it at least until "
                    "'keyframes' first")
    elif fmt == "otio":
        if not any(_exists(project_dir, c.path) for c in film.clips or [] if c):
            return ("the project has no clips yet, so there is no timeline: run it at least until 'clips' "
                    "first")
    elif fmt == "fountain":
        if not film.scenes:
            return ("the project has no scenes yet, so there is no screenplay: run it at least until "
                    "'script' first")
    elif fmt == "srt":
        if not _srt_file(film, project_dir) and not _has_cues(film):
            return ("the project has no dialogue timing yet, so there are no subtitles: run it at least "
                    "until 'sound' first")
    return None


def _one(studio, film: Film, name: str, project_dir: Path, fmt: str, target: Path, *,
         given: bool) -> list[Path]:
    if why := _missing(film, project_dir, fmt):
        raise InputError(why)
    if fmt == "json":
        return [files.atomic_write(target, (studio.export_json(name) + "\n").encode("utf-8"))]
    if fmt == "pdf":
        from storyreel.export import pdf

        return [files.atomic_write(target, pdf.storyboard(film, project_dir))]
    if fmt == "otio":
        from storyreel.export import otio

        return otio.write(film, project_dir, target)
    if fmt == "fountain":
        from storyreel.export import fountain

        return [files.atomic_write(target, fountain.screenplay(film).encode("utf-8"))]
    # srt: the cut step's file as is; regenerated from the Film only when the cut has not written one yet
    existing = _srt_file(film, project_dir)
    if existing is not None and (not given or existing.resolve() == target.resolve()):
        return [existing]  # the cut step's own file (a branch's keeps its parent's name until it is cut again)
    data = existing.read_bytes() if existing is not None else _srt_text(film).encode("utf-8")
    return [files.atomic_write(target, data)]


# --- helpers ------------------------------------------------------------------------------------------------


def _exists(project_dir: Path, rel: str | None) -> bool:
    if not rel:
        return False
    try:
        return files.inside(project_dir, rel).is_file()
    except InputError:
        return False


def _srt_file(film: Film, project_dir: Path) -> Path | None:
    rel = film.sound.subtitles if film.sound else None
    return files.inside(project_dir, rel) if _exists(project_dir, rel) else None


def _has_cues(film: Film) -> bool:
    return bool(film.shots) and any(s.sound and s.sound.dialogue for s in film.scenes or [])


def _srt_text(film: Film) -> str:
    """The subtitles as the cut step writes them: each cue at its shot's start in the final film."""
    from storyreel.export.srt import srt
    from storyreel.steps.cut import shot_starts

    shots = film.shots or []
    starts = dict(zip([s.id for s in shots], shot_starts([{"duration": s.duration, "transition": s.transition}
                                                         for s in shots]), strict=True))
    text = {d.id: d for d in film.dialogue_lines()}
    voiced = {v.line_id: v for sc in film.scenes or [] for v in sc.voices or []}
    cues = []
    for sc in film.scenes or []:
        for cue in sc.sound.dialogue if sc.sound else []:
            if cue.shot_id not in starts or cue.line_id not in text:
                continue
            t0 = starts[cue.shot_id] + cue.start
            v = voiced.get(cue.line_id)
            length = max(cue.duration, v.duration if v else 0.0)
            line = text[cue.line_id]
            cues.append((t0, t0 + length, line.character, line.text))
    return srt(cues)


def title_of(film: Film) -> str:
    t = film.chosen_treatment()
    return (t.title if t and t.title.strip() else "") or film.name or "Untitled"


__all__ = ["FORMATS", "export", "default_name", "title_of"]
