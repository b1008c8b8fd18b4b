"""Exports: Film JSON, storyboard PDF, OTIO timeline, SRT, Fountain screenplay (storyreel.export.bundle)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import opentimelineio as otio
import pytest
from PIL import Image, PdfParser

from conftest import fixture_path
from storyreel import Studio
from storyreel.errors import InputError, NotFound
from storyreel.export import bundle, pdf
from storyreel.export import fountain as fountain_export
from storyreel.export import otio as otio_export
from storyreel.film.models import DialogueLine, Film, Scene, SceneOutline, SceneScript, Shot, TreatmentOption
from storyreel.inputs import fountain

FPS = 24


@pytest.fixture(scope="module")
def exp(made_film):
    """A branch of the shared film, so the exports written here never touch the shared project's folder."""
    studio, name = made_film
    return studio, studio.branch(name, "reel-export")


def _frames(seconds: float) -> int:
    return max(1, round(seconds * FPS))


# --- the bundle ---------------------------------------------------------------------------------------------


def test_json_default_path_and_round_trip(exp):
    studio, name = exp
    [path] = bundle.export(studio, name, "json", None)
    assert path == studio.project_dir(name) / "output" / f"{name}_film.json"
    assert Film.model_validate_json(path.read_text()) == studio.film(name)


@pytest.mark.parametrize("fmt", ["docx", "", "PDFX", "all,pdf"])
def test_unknown_format_is_one_line_input_error(exp, fmt):
    studio, name = exp
    with pytest.raises(InputError) as e:
        bundle.export(studio, name, fmt, None)
    assert "\n" not in str(e.value) and "json, pdf, otio, srt, fountain or all" in str(e.value)


def test_unknown_project_is_not_found(exp):
    studio, _ = exp
    with pytest.raises(NotFound):
        bundle.export(studio, "no-such-film", "json", None)


def test_all_writes_every_export_with_default_names(exp):
    studio, name = exp
    paths = bundle.export(studio, name, "all", None)
    out = studio.project_dir(name) / "output"
    film = studio.film(name)
    assert [p.name for p in paths] == [f"{name}_film.json", f"{name}_storyboard.pdf", f"{name}_timeline.otio",
                                       Path(film.sound.subtitles).name, f"{name}_screenplay.fountain"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    assert all(p.parent == out for p in paths)
    assert not list(out.glob(".tmp-*"))  # atomic writes leave nothing behind


def test_all_to_a_folder_and_not_to_a_file(exp, tmp_path):
    studio, name = exp
    paths = bundle.export(studio, name, "all", tmp_path / "deliver")
    assert {p.parent for p in paths} == {tmp_path / "deliver"} and len(paths) == 5
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(InputError, match="give a folder"):
        bundle.export(studio, name, "all", tmp_path / "a-file")


def test_output_path_is_used_as_given(exp, tmp_path):
    studio, name = exp
    target = tmp_path / "mine" / "board.pdf"
    assert bundle.export(studio, name, "pdf", target) == [target]
    assert target.read_bytes().startswith(b"%PDF")
    # an existing folder gets the default name inside it
    assert bundle.export(studio, name, "fountain", tmp_path) == [tmp_path / f"{name}_screenplay.fountain"]


def test_a_project_without_media_exports_what_it_has(tmp_path):
    studio = Studio(tmp_path / "data")
    name = studio.create("fresh", "A lighthouse keeper befriends a storm", duration=12)
    with pytest.raises(InputError, match="no keyframes yet") as e:
        bundle.export(studio, name, "pdf", None)
    assert "\n" not in str(e.value)
    with pytest.raises(InputError, match="no clips yet"):
        bundle.export(studio, name, "otio", None)
    with pytest.raises(InputError, match="no scenes yet"):
        bundle.export(studio, name, "fountain", None)
    with pytest.raises(InputError, match="no dialogue timing yet"):
        bundle.export(studio, name, "srt", None)
    assert [p.name for p in bundle.export(studio, name, "all", None)] == ["fresh_film.json"]


# --- SRT ---------------------------------------------------------------------------------------------------


def test_srt_is_the_cuts_file_and_regenerates_identically(exp, tmp_path):
    studio, name = exp
    film = studio.film(name)
    cut_srt = studio.project_dir(name) / film.sound.subtitles
    assert bundle.export(studio, name, "srt", None) == [cut_srt]
    copy = tmp_path / "subs.srt"
    assert bundle.export(studio, name, "srt", copy) == [copy]
    assert copy.read_bytes() == cut_srt.read_bytes()
    assert bundle._srt_text(film) == cut_srt.read_text(encoding="utf-8")


# --- PDF ---------------------------------------------------------------------------------------------------


def test_storyboard_pdf_pages_size_and_render(exp, tmp_path):
    studio, name = exp
    film = studio.film(name)
    target = tmp_path / "board.pdf"
    bundle.export(studio, name, "pdf", target)
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    doc = PdfParser.PdfParser(str(target))
    n_pages = len(doc.pages)
    rows, cols = pdf.GRID[film.inputs.aspect]
    assert 2 <= n_pages <= 1 + len(film.shots)  # a title page, then at least one board page
    assert n_pages - 1 <= -(-len(film.shots) // cols)  # never more pages than rows of shots
    box = [float(v) for v in doc.read_indirect(doc.pages[0])[b"MediaBox"]]
    assert box[2] > box[3]  # landscape
    assert abs(box[2] - 842) < 2 and abs(box[3] - 595) < 2  # A4 in points
    assert len(data) < 60_000 + 250_000 * n_pages  # JPEG pages: a 40-shot board stays a few MB
    doc.close()
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "50", "-f", "2", "-l", "2", str(target),
                        str(tmp_path / "p")], check=True)
        [png] = tmp_path.glob("p-*.png")
        with Image.open(png) as im:
            assert im.width > im.height
            gray = im.convert("L")
            assert gray.getextrema()[0] < 60  # ink on the page, not a blank sheet


@pytest.mark.parametrize("aspect", sorted(pdf.GRID))
@pytest.mark.parametrize("paper", sorted(pdf.PAPER))
def test_board_layout_fits_the_page(aspect, paper):
    wi, hi = pdf.PAPER[paper]
    lay = pdf.Layout((round(wi * pdf.DPI), round(hi * pdf.DPI)), aspect)
    aw, ah = (int(v) for v in aspect.split(":"))
    assert abs(lay.thumb_w / lay.thumb_h - aw / ah) < 0.02
    assert lay.cols * lay.cell_w + (lay.cols - 1) * lay.gutter_x <= lay.content_w
    assert 2 * lay.thumb_w + lay.pad + lay.side_w <= lay.cell_w
    assert lay.label_h + lay.thumb_h + lay.pad + 4 * lay.line_h <= lay.row_h
    assert lay.rows * (lay.row_h + lay.gutter_y) + 2 * lay.band_h <= lay.bottom - lay.top
    assert min(lay.thumb_w, lay.thumb_h) >= pdf.px(70)  # thumbnails a reader can see (>= 2.5 cm a side)


@pytest.mark.parametrize("aspect", ["9:16", "1:1"])
def test_storyboard_renders_for_other_aspects_and_letter(exp, aspect):
    studio, name = exp
    film = studio.film(name)
    film.inputs.aspect = aspect
    data = pdf.storyboard(film, studio.project_dir(name), paper="letter")
    assert data.startswith(b"%PDF") and len(data) > 10_000


def test_storyboard_copes_with_missing_keyframes_and_odd_text(exp):
    studio, name = exp
    film = studio.film(name)
    film.shots[-1].last_frame = None
    film.shots[0].action = "A very long action " * 60 + "\x00\U0001F600 with an emoji"
    with pytest.raises(InputError, match="paper"):
        pdf.storyboard(film, studio.project_dir(name), paper="a3")
    assert pdf.storyboard(film, studio.project_dir(name)).startswith(b"%PDF")


def test_wrap_and_ellipsize():
    f = pdf.font(9)
    lines = pdf.wrap("word " * 200, f, 300, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(f.getlength(x) <= 300 for x in lines)
    assert pdf.wrap("x" * 500, f, 200, 2)[0]  # a word longer than the line is broken
    assert pdf.ellipsize(f, "short", 500) == "short"
    assert pdf.wrap("", f, 300, 3) == []


# --- OTIO --------------------------------------------------------------------------------------------------


def test_otio_timeline_reads_back_with_one_clip_per_shot(exp):
    studio, name = exp
    film = studio.film(name)
    pdir = studio.project_dir(name)
    paths = bundle.export(studio, name, "otio", None)
    assert paths[0] == pdir / "output" / f"{name}_timeline.otio"
    if "cmx_3600" not in otio.adapters.available_adapter_names():
        assert len(paths) == 1  # no EDL without the adapter, silently
    tl = otio.adapters.read_from_file(str(paths[0]))
    [video] = tl.video_tracks()
    clips = list(video.find_clips())
    transitions = [t for t in video if isinstance(t, otio.schema.Transition)]
    assert len(clips) == len(film.shots)
    for clip, shot, rendered in zip(clips, film.shots, film.clips, strict=True):
        n = _frames(shot.duration)
        ref = clip.media_reference
        assert ref.available_range.duration.to_frames() == n  # the whole rendered clip
        assert ref.target_url.startswith("file:///")
        assert Path(otio.url_utils.filepath_from_url(ref.target_url)) == (pdir / rendered.path).resolve()
        head = clip.source_range.start_time.to_frames()
        tail = n - head - clip.source_range.duration.to_frames()
        assert head >= 0 and tail >= 0
        meta = clip.metadata["storyreel"]
        assert {k: meta[k] for k in ("shot_id", "scene_id", "framing", "camera_move")} == {
            "shot_id": shot.id, "scene_id": shot.scene_id, "framing": shot.framing,
            "camera_move": shot.camera_move}
        [marker] = clip.markers
        assert marker.name == " ".join(shot.action.split())
    crossfades = [s.id for s in film.shots[:-1] if s.transition == "crossfade"]
    assert [t.name.split()[0] for t in transitions] == crossfades
    assert all(t.transition_type == otio.schema.TransitionTypes.SMPTE_Dissolve for t in transitions)
    # the timeline lasts exactly as long as the final film
    assert video.duration().to_frames() == round(film.cut.duration * FPS)
    audio = tl.audio_tracks()
    assert audio and audio[0].name == "A1 mix" and audio[0].enabled
    assert audio[0].duration().to_frames() == video.duration().to_frames()


def test_otio_crossfades_overlap_as_concat_does(exp, tmp_path):
    """Every transition a crossfade (one fade): the OTIO timeline is exactly as long as concat's reel."""
    from storyreel.media import video

    studio, name = exp
    film = studio.film(name)
    pdir = studio.project_dir(name)
    for i, s in enumerate(film.shots):
        s.transition = "fade-to-black" if i == 1 else "crossfade"
    tl = otio_export.timeline(film, pdir)
    [track] = tl.video_tracks()
    transitions = [t for t in track if isinstance(t, otio.schema.Transition)]
    assert len(transitions) == len(film.shots) - 2  # the fade and the last shot have none
    ov = otio_export.overlaps(film)
    for t, o in zip(transitions, [o for i, o in enumerate(ov[:-1]) if i != 1], strict=True):
        assert t.in_offset.to_frames() + t.out_offset.to_frames() == o
        assert o <= 12 and abs(t.in_offset.to_frames() - t.out_offset.to_frames()) <= 1
    assert ov[0] == 12 or ov[0] == min(_frames(film.shots[0].duration), _frames(film.shots[1].duration)) // 2
    clips = list(track.find_clips())
    assert clips[1].metadata["storyreel"]["fade_out"] == ov[1]
    assert clips[2].metadata["storyreel"]["fade_in"] == ov[1]
    info = video.concat([pdir / c.path for c in film.clips], [s.transition for s in film.shots[:-1]],
                        tmp_path / "reel.mp4", transition_seconds=0.5)
    assert track.duration().to_frames() == info["frames"]


# --- Fountain ----------------------------------------------------------------------------------------------


def test_fountain_round_trip_matches_the_film(exp):
    studio, name = exp
    film = studio.film(name)
    [path] = bundle.export(studio, name, "fountain", None)
    parsed = fountain.parse(path.read_text(encoding="utf-8"))
    assert parsed.title_page["title"] == film.chosen_treatment().title
    assert parsed.title_page["credit"] == "Written with storyreel (draft)"
    assert len(parsed.scenes) == len(film.scenes)
    assert [s.heading for s in parsed.scenes] == [s.outline.heading for s in film.scenes]
    lines = film.dialogue_lines()
    assert {c.upper() for c in parsed.speaking_characters()} == {d.character.upper() for d in lines}
    assert [(d.character, d.text) for s in parsed.scenes for d in s.dialogue] == [(d.character, d.text)
                                                                                 for d in lines]


def test_fountain_keeps_extensions_parentheticals_dual_and_transitions():
    def line(i, who, text, **kw):
        return DialogueLine(id=f"s01-d{i:02d}", character=who, text=text, **kw)

    film = Film(name="t", treatment={"options": [TreatmentOption(title="Brick & Steel")], "chosen": 0})
    film.scenes = [
        Scene(id="s01", index=0, outline=SceneOutline(heading="EXT. ROOF - NIGHT"), script=SceneScript(
            action="Rain.\n\nBRICK looks down at the *city*.\n\nSteel lights a match.",
            dialogue=[line(1, "BRICK", "Cold.", extension="V.O.", parenthetical="quietly"),
                      line(2, "STEEL", "Colder.", dual=True),
                      line(3, "McCoy", "Who said that?\nNot me.")],
            transition="SMASH CUT TO:")),
        Scene(id="s02", index=1, outline=SceneOutline(heading="the alley", summary="They run."), script=None),
    ]
    film.shots = [Shot(id="s01-sh01", scene_id="s01"), Shot(id="s02-sh01", scene_id="s02")]
    text = fountain_export.screenplay(film)
    parsed = fountain.parse(text)
    assert parsed.title_page["title"] == "Brick & Steel"
    assert len(parsed.scenes) == 2 and parsed.scenes[1].heading == "the alley"
    d = parsed.scenes[0].dialogue
    assert [(x.character, x.extension, x.parenthetical, x.text, x.dual) for x in d] == [
        ("BRICK", "V.O.", "quietly", "Cold.", False), ("STEEL", "", "", "Colder.", True),
        ("McCoy", "", "", "Who said that?\nNot me.", False)]
    assert parsed.scenes[0].transition == "SMASH CUT TO:"
    assert parsed.scenes[1].transition == "FADE OUT."
    assert parsed.scenes[1].action == "They run."  # an unwritten scene shows its outline
    assert "BRICK looks down at the *city*." in parsed.scenes[0].action
    # the first paragraph sets the scene; the dual line stays with its partner
    assert parsed.scenes[0].layout[0] == "action"
    i = parsed.scenes[0].layout.index("dialogue")
    assert parsed.scenes[0].layout[i:i + 2] == ["dialogue", "dialogue"]


def test_fountain_derives_scene_transitions_from_the_cut():
    film = Film(name="t")
    film.scenes = [Scene(id=f"s0{i}", index=i - 1, outline=SceneOutline(heading=f"INT. ROOM {i} - DAY"),
                         script=SceneScript(action="A room.")) for i in (1, 2, 3)]
    film.shots = [Shot(id="s01-sh01", scene_id="s01", transition="crossfade"),
                  Shot(id="s02-sh01", scene_id="s02", transition="fade-to-black"),
                  Shot(id="s03-sh01", scene_id="s03")]
    parsed = fountain.parse(fountain_export.screenplay(film))
    assert [s.transition for s in parsed.scenes] == ["DISSOLVE TO:", "FADE TO BLACK.", "FADE OUT."]
    assert parsed.title_page["title"] == "t"


def test_fountain_round_trip_of_a_supplied_screenplay(tmp_path):
    """Brick & Steel in, through the Film, back out: the same scenes, speakers and lines."""
    script = fixture_path("screenplays", "brick_and_steel.fountain").read_text(encoding="utf-8")
    studio = Studio(tmp_path)
    name = studio.create("brick", "", script=script, duration=60)
    studio.run(name, until="script")
    film = studio.film(name)
    source = fountain.parse(script)
    text = bundle.export(studio, name, "fountain", None)[0].read_text(encoding="utf-8")
    back = fountain.parse(text)
    assert len(back.scenes) == len(film.scenes) == len(source.scenes)
    assert [s.heading for s in back.scenes] == [s.outline.heading for s in film.scenes]

    def lines(sp):
        return [(d.character.upper(), d.extension, d.parenthetical, d.text, d.dual) for s in sp.scenes
                for d in s.dialogue]

    assert lines(back) == [(d.character.upper(), d.extension, d.parenthetical, d.text, d.dual)
                           for d in film.dialogue_lines()]
    assert [(c, t) for c, _, _, t, _ in lines(back)] == [(c, t) for c, _, _, t, _ in lines(source)]
    assert {c.upper() for c in back.speaking_characters()} == {c.upper() for c in source.speaking_characters()}
