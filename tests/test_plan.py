"""The step graph and its cache: what runs, what is reused, what goes stale — asserted node by node."""

from __future__ import annotations

import pytest

from storyreel import Studio
from storyreel.errors import InputError, LockedError, NotFound
from storyreel.plan.graph import Plan
from storyreel.steps import STEPS


def _states(studio, name):
    return {n["node"]: n["state"] for n in studio.plan(name)}


def test_a_second_run_runs_nothing(made_film):
    studio, name = made_film
    b = studio.branch(name, "again")
    result = studio.run(b)
    assert result["ran"] == [] and result["reused"] == []
    assert set(_states(studio, b).values()) <= {"done", "reused"}


def test_editing_one_shot_reruns_exactly_what_reads_it(made_film):
    studio, name = made_film
    b = studio.branch(name, "edit-shot")
    film = studio.film(b)
    shot = film.shots[1]
    follower = film.shots[2] if len(film.shots) > 2 and film.shots[2].clip_strategy == "continue" \
        and film.shots[2].scene_id == shot.scene_id else None
    studio.edit(b, f"shots.{shot.id}.action", "The keeper slams the door against the wind.")
    expected = {f"keyframe_prompts:{shot.id}", f"keyframes:{shot.id}", f"clip:{shot.id}", "cut"}
    if follower:
        expected.add(f"clip:{follower.id}")
    stale = {n for n, s in _states(studio, b).items() if s in ("stale", "pending")}
    assert stale == expected  # the readers, and what waits on them; nothing else
    result = studio.run(b)
    assert set(result["ran"]) == expected
    assert result["reused"] == []
    new = studio.film(b)
    assert new.shot(shot.id).first_frame.image != shot.first_frame.image
    assert new.shots[0].first_frame.image == film.shots[0].first_frame.image  # untouched shots keep their frames


def test_choosing_another_treatment_makes_downstream_stale_and_back_is_free(made_film):
    studio, name = made_film
    b = studio.branch(name, "choose")
    studio.choose(b, "treatment", 2)
    states = _states(studio, b)
    assert states["lore"] == "done" and states["treatment"] == "done"
    assert states["beats"] == "stale" and states["outline"] == "stale"
    studio.run(b, until="beats")
    assert studio.film(b).beats != studio.film(name).beats
    studio.choose(b, "treatment", 1)  # back to the first: every key is one already made
    result = studio.run(b)
    assert result["ran"] == [] and "beats" in result["reused"]


def test_no_stage_barrier_keyframes_of_scene_one_do_not_wait_for_later_scenes(made_film):
    studio, name = made_film
    film = studio.film(name)
    plan = Plan(film, STEPS)
    first_shot = film.shots[0].id
    deps: set[str] = set()
    todo = [f"keyframes:{first_shot}"]
    while todo:  # every node the keyframes of the first shot transitively wait for
        n = todo.pop()
        for d in plan.index[n].deps:
            if d not in deps:
                deps.add(d)
                todo.append(d)
    later = {s.id for s in film.scenes[1:]}
    assert not any(d.split(":")[-1] in later and d.startswith(("screenplay", "shot_list", "visual_script"))
                   for d in deps), deps


def test_clip_chains_wait_only_for_their_own_previous_clip(made_film):
    studio, name = made_film
    film = studio.film(name)
    plan = Plan(film, STEPS)
    for i, shot in enumerate(film.shots):
        clip_deps = [d for d in plan.index[f"clip:{shot.id}"].deps if d.startswith("clip:")]
        if shot.clip_strategy == "continue":
            assert clip_deps == [f"clip:{film.shots[i - 1].id}"]
        else:
            assert clip_deps == []


def test_plan_json_has_every_node_with_state_and_key(made_film):
    studio, name = made_film
    nodes = studio.plan(name)
    film = studio.film(name)
    assert sum(1 for n in nodes if n["step"] == "keyframes") == len(film.shots)
    assert all(n["key"] and len(n["key"]) == 32 for n in nodes)
    assert {n["state"] for n in nodes} <= {"done", "reused"}


def test_locks_branches_and_versions(made_film):
    studio, name = made_film
    b = studio.branch(name, "locks")
    with pytest.raises(LockedError, match="lock 'story' before 'beats'"):
        studio.lock(b, "beats")
    studio.lock(b, "story")
    with pytest.raises(LockedError):
        studio.choose(b, "treatment", 2)
    with pytest.raises(LockedError):
        studio.edit(b, "inputs.prompt", "something else")
    child = studio.unlock(b, "story")
    assert studio.store.project(b).locks == ["story"]  # the original is intact
    assert studio.store.project(child).locks == []
    assert {p["name"] for p in studio.branches(b)} == {child}
    v = studio.edit(child, "inputs.prompt", "A keeper and a gale")
    assert studio.film(child, v).inputs.prompt == "A keeper and a gale"
    assert studio.film(child, v - 1).inputs.prompt == "A lighthouse keeper befriends a storm"
    early = studio.branch(name, "early", at=3)
    assert studio.film(early).model_dump() == {**studio.film(name, 3).model_dump(), "name": "early"}
    with pytest.raises(NotFound):
        studio.edit(child, "inputs.nope", "x")
    with pytest.raises(NotFound):
        studio.lock(child, "nostage")
    with pytest.raises(InputError):
        studio.choose(child, "treatment", 7)


def test_run_until_a_stage_stops_there(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("until", "A fox steals a lantern", duration=10)
    studio.run(name, until="beats")
    states = _states(studio, name)
    assert states["lore"] == states["treatment"] == states["beats"] == "done"
    assert states["outline"] == "pending"
    st = studio.status(name)
    assert st["stage"] == "script" and 0 < st["progress"] < 100
