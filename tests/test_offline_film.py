"""The offline path end to end, on real files: the draft writer, the story reel, the screenplay fixture."""

from __future__ import annotations

import json

import pytest

from conftest import fixture_path
from storyreel import Studio
from storyreel.check import check
from storyreel.media.video import probe
from storyreel.providers.local import writer
from storyreel.steps.cut import TRANSITION_SECONDS


def test_the_final_film_decodes_as_promised(made_film):
    studio, name = made_film
    film = studio.film(name)
    pdir = studio.project_dir(name)
    final = pdir / film.cut.final
    assert final.name == f"{name}_final.mp4"
    info = probe(final)
    kinds = {s["type"]: s for s in info["streams"]}
    assert kinds["video"]["codec"] == "h264" and kinds["audio"]["codec"] == "aac"
    assert kinds["video"]["fps"] == pytest.approx(24)
    assert (kinds["video"]["width"], kinds["video"]["height"]) == (1920, 1080)
    overlaps = sum(TRANSITION_SECONDS for s in film.shots[:-1] if s.transition == "crossfade")
    expected = sum(s.duration for s in film.shots) - overlaps
    assert info["duration"] == pytest.approx(expected, abs=1 / 24 + 1e-3)
    assert kinds["video"]["frames"] == pytest.approx(round(expected * 24), abs=1)


def test_n_shots_give_n_clips_and_n_pairs_of_keyframes(made_film):
    studio, name = made_film
    film = studio.film(name)
    pdir = studio.project_dir(name)
    assert len(film.clips) == len(film.shots)
    assert [c.shot_id for c in film.clips] == [s.id for s in film.shots]
    for shot, clip in zip(film.shots, film.clips, strict=True):
        assert (pdir / shot.first_frame.image).is_file() and (pdir / shot.last_frame.image).is_file()
        assert shot.first_frame.image != shot.last_frame.image
        info = probe(pdir / clip.path)
        assert info["streams"][0]["frames"] == round(shot.duration * 24)
    frames = list((pdir / "images").glob("keyframe_*.png"))
    assert len(frames) == 2 * len(film.shots)
    srt = (pdir / film.sound.subtitles).read_text()
    for line in film.dialogue_lines():
        assert line.text.splitlines()[0] in srt


def test_reference_sheets_by_view_and_history(made_film):
    studio, name = made_film
    film = studio.film(name)
    for asset in film.assets:
        views = {r.view for r in asset.references}
        expected = {"character": {"front", "side", "full-body"}, "location": {"establishing"},
                    "prop": {"object"}}[asset.kind]
        assert views == expected, asset.id
        assert {h.path for h in asset.history} >= {r.path for r in asset.references}


def test_the_offline_film_passes_its_own_continuity_check(made_film):
    studio, name = made_film
    assert check(studio, name) == []
    shots = studio.film(name).shots
    assert sum(s.duration for s in shots) == pytest.approx(12, abs=1 / 24)


def test_story_rules_reach_every_prompt(made_film):
    studio, name = made_film
    for job in studio.store.jobs(name):
        for p in (job["request"] or {}).get("prompts", []):
            if p["kind"] in ("text", "image", "video"):
                assert "all characters are eggs" in json.dumps(p), job["node"]


def test_the_draft_writer_is_deterministic_and_follows_the_prompt():
    ctx = {"prompt": "A lighthouse keeper befriends a storm", "plot": "", "vibe": "", "characters_notes": "",
           "screenplay": None, "duration": 30.0, "story_rules": []}
    a = writer.draft("lore", ctx)
    assert a == writer.draft("lore", ctx)
    b = writer.draft("lore", {**ctx, "prompt": "A baker's robot learns to sing"})
    assert a != b
    idea = writer.idea(ctx)
    assert "Keeper" in idea["cast"] and idea["place"] == "Lighthouse"


def test_the_screenplay_fixture_keeps_its_structure(tmp_path):
    script = fixture_path("screenplays", "brick_and_steel.fountain").read_text(encoding="utf-8")
    studio = Studio(tmp_path)
    name = studio.create("brick", "", script=script, duration=60)
    studio.run(name, until="keyframes")
    st = studio.status(name)
    assert st["counts"]["scenes"] == 8
    assert st["counts"]["characters"] == 7
    assert st["counts"]["dialogue_lines"] == 20
    film = studio.film(name)
    names = {a.name for a in film.assets if a.kind == "character"}
    assert names == {"STEEL", "BRICK", "JACK", "DAN", "COGNITO", "MINION", "HANDSOME MAN"}
    assert [s.outline.heading for s in film.scenes][:1] and any(
        s.outline.heading == "SNIPER SCOPE POV" for s in film.scenes)
    assert sum(1 for d in film.dialogue_lines() if d.dual) == 1
    assert check(studio, name) == []
    assert film.chosen_treatment() is not None and film.beats


def test_portrait_film_is_1080_by_1920_all_the_way(tmp_path):
    from PIL import Image

    studio = Studio(tmp_path)
    name = studio.create("tall", "A courier crosses a night market", duration=6, aspect="9:16")
    studio.run(name)
    film = studio.film(name)
    pdir = studio.project_dir(name)
    with Image.open(pdir / film.shots[0].first_frame.image) as im:
        assert im.size == (1080, 1920)
    v = next(s for s in probe(pdir / film.cut.final)["streams"] if s["type"] == "video")
    assert (v["width"], v["height"]) == (1080, 1920)


def test_square_keyframes_are_1080_square(tmp_path):
    from PIL import Image

    studio = Studio(tmp_path)
    name = studio.create("square", "A cat guards a bakery", duration=6, aspect="1:1")
    studio.run(name, until="keyframes")
    film = studio.film(name)
    for shot in film.shots:
        with Image.open(studio.project_dir(name) / shot.last_frame.image) as im:
            assert im.size == (1080, 1080)
