from __future__ import annotations

import pytest

from storyreel.errors import InvariantError
from storyreel.film import versions
from storyreel.film.invariants import check_chains, check_frames_match_shots, fit_beats, max_beats
from storyreel.film.models import SCHEMA_VERSION, Beat, Film, Keyframe, Shot
from storyreel.store.files import check_project_name, inside, media_name, sanitize


def test_beats_are_truncated_to_one_per_five_seconds():
    beats = [Beat(index=i, start=0, duration=4, summary=f"b{i}") for i in range(9)]
    kept, original = fit_beats(beats, 21)
    assert original == 9 and len(kept) == max_beats(21) == 5
    assert [b.index for b in kept] == list(range(5))
    assert kept[0].start == 0
    for a, b in zip(kept, kept[1:], strict=False):
        assert b.start == pytest.approx(a.start + a.duration, abs=1e-3)
    assert sum(b.duration for b in kept) == pytest.approx(21, abs=1e-3)


def test_frames_must_match_shots_and_the_error_names_both_counts():
    film = Film(shots=[Shot(id="s01-sh01", first_frame=Keyframe(image="a.png"), last_frame=Keyframe(image="b.png")),
                       Shot(id="s01-sh02")])
    with pytest.raises(InvariantError, match=r"1 shots have both keyframes, 2 shots"):
        check_frames_match_shots(film)


def test_a_follower_with_nothing_before_it_names_the_shot():
    with pytest.raises(InvariantError, match="s01-sh01"):
        check_chains(Film(shots=[Shot(id="s01-sh01", clip_strategy="continue")]))


def test_old_projects_are_upgraded_one_step_at_a_time():
    old = {"schema_version": 1, "name": "x", "inputs": {"prompt": "p", "ratio": "9:16",
                                                         "story_rules": "be kind\nno guns\n"}}
    film = versions.load(old)
    assert film.schema_version == SCHEMA_VERSION
    assert film.inputs.aspect == "9:16"
    assert film.inputs.story_rules == ["be kind", "no guns"]


def test_media_names_never_leave_their_folder(tmp_path):
    assert sanitize("Shot 3: Café/../../etc/passwd") == "shot_3_cafetcpasswd"
    assert sanitize("../../") == "untitled"
    name = media_name("keyframe", "../../evil name", "png")
    assert "/" not in name and name.startswith("keyframe_evil_name_")
    with pytest.raises(ValueError):
        inside(tmp_path, "../outside.png")
    with pytest.raises(ValueError):
        check_project_name("../x")
    with pytest.raises(ValueError):
        check_project_name("Bad Name")
