"""The film's steps as a user meets them: continuity carried across scenes, script edits, dropped assets, beats."""

from __future__ import annotations

import logging

from storyreel import Studio
from storyreel.providers.base import TextResult
from storyreel.providers.local.provider import LocalProvider

SCRIPT = """Title: Disguise

INT. HALL - DAY

MARA waits by the door.

MARA
Hello?

INT. VESTRY - DAY

MARA puts on a fake beard and a monk's hood.

MARA
Now nobody knows me.

EXT. STREET - NIGHT

MARA walks past the guards.

MARA
Still hidden.
"""


def test_a_disguise_put_on_in_one_scene_carries_into_the_next(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("disguise", "", script=SCRIPT, duration=15)
    studio.run(name, until="keyframes")
    film = studio.film(name)
    mara = film.asset_named("MARA")
    states = [next(i.state for i in s.instances if i.asset_id == mara.id) for s in film.scenes]
    assert "fake beard" not in states[0]
    assert "fake beard" in states[1] and "monk's hood" in states[1]
    assert states[2] == states[1]
    derives = [next(i.derives_from for i in s.instances if i.asset_id == mara.id) for s in film.scenes]
    assert derives == ["master", "s01", "s02"]
    street = [s for s in film.shots if s.scene_id == "s03" and "MARA" in s.characters]
    assert street and all("fake beard" in s.first_frame.prompt for s in street)
    state_images = {i.image for s in film.scenes[1:] for i in s.instances if i.asset_id == mara.id}
    assert all(p and (studio.project_dir(name) / p).is_file() for p in state_images)


def test_script_edit_adds_new_assets_flags_removed_and_keeps_the_rest(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("edits", "", script=SCRIPT, duration=15)
    studio.run(name, until="assets")
    before = studio.film(name)
    mara = before.asset_named("MARA")
    studio.edit(name, "inputs.screenplay", SCRIPT.replace("Still hidden.", "Still hidden.\n\nJON\nWho goes there?"))
    studio.run(name, until="assets")
    film = studio.film(name)
    assert film.asset_named("JON") is not None and not film.asset_named("JON").removed
    assert film.asset(mara.id).description == mara.description
    assert film.asset(mara.id).history == mara.history  # still standing: not redrawn
    job = studio.show(name, "assets")
    asked = job["prompts"][0]["user"]
    assert "JON" in asked and '"MARA"' not in asked.split("describe_these")[1]
    studio.edit(name, "inputs.screenplay", SCRIPT)
    studio.run(name, until="assets")
    film = studio.film(name)
    assert film.asset_named("JON").removed and not film.asset(mara.id).removed


def test_a_dropped_asset_gets_no_sheet_but_is_still_described(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("drop", "A lighthouse keeper befriends a storm", duration=10)
    studio.run(name, until="assets")
    film = studio.film(name)
    prop = next(a for a in film.assets if a.kind == "prop")
    studio.edit(name, f"assets.{prop.id}.dropped", "true")
    nodes = {n["node"] for n in studio.plan(name)}
    assert f"reference_sheet:{prop.id}" not in nodes
    studio.run(name, until="keyframes")
    film = studio.film(name)
    seen = [s for s in film.shots if prop.name in s.props]
    for s in seen:
        assert prop.description.split(".")[0] in s.first_frame.prompt


class TooManyBeats(LocalProvider):
    async def text(self, req, route=None, call=None):
        if req.step != "beats":
            return await super().text(req, route, call)
        out = req.output.model_validate({"beats": [{"duration": 5.0, "summary": f"beat {i}"} for i in range(9)]})
        return TextResult(output=out, model="test:too-many-beats")


def test_extra_beats_are_truncated_logged_and_written_to_the_project_log(tmp_path, caplog):
    studio = Studio(tmp_path)
    name = studio.create("beats", "A fox steals a lantern", duration=20)
    with caplog.at_level(logging.WARNING):
        studio.run(name, until="beats", adapters={"local": TooManyBeats()})
    film = studio.film(name)
    assert len(film.beats) == 4
    assert [b.start for b in film.beats] == [0.0, 5.0, 10.0, 15.0]
    assert any("beats truncated" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    log = (studio.project_dir(name) / "logs" / "beat_truncation.log").read_text()
    assert "project=beats" in log and "original=9" in log and "new=4" in log
