"""The continuity check: what a script supervisor would flag, with item ids.

- dialogue lines not carried by exactly one shot;
- characters in a shot who are not in its scene;
- keyframe prompts missing the current state of an asset in the shot;
- shot durations that do not add up to the film's duration;
- story rules absent from a step's prompt (text, image and video prompts as sent, read from the jobs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storyreel.steps.context import FPS

if TYPE_CHECKING:
    from storyreel.studio import Studio


def check(studio: Studio, name: str) -> list[dict]:
    film = studio.film(name)
    findings: list[dict] = []

    def add(kind: str, item: str, message: str) -> None:
        findings.append({"kind": kind, "item": item, "message": message})

    shots = film.shots or []
    scenes_with_shots = {s.scene_id for s in shots}
    carried: dict[str, list[str]] = {}
    for shot in shots:
        for lid in shot.dialogue:
            carried.setdefault(lid, []).append(shot.id)
    for scene in film.scenes or []:
        if scene.id not in scenes_with_shots or not scene.script:
            continue
        for line in scene.script.dialogue:
            n = len(carried.get(line.id, []))
            if n != 1:
                add("dialogue", line.id, f"carried by {n} shots" + (f" ({', '.join(carried[line.id])})" if n else ""))
    known = {d.id for d in film.dialogue_lines()}
    for lid, where in carried.items():
        if lid not in known:
            add("dialogue", lid, f"unknown line carried by {', '.join(where)}")

    for shot in shots:
        try:
            scene = film.scene(shot.scene_id)
        except KeyError:
            add("shot", shot.id, f"belongs to unknown scene {shot.scene_id}")
            continue
        cast = {c.upper() for c in scene.outline.characters}
        if scene.script:
            cast |= {d.character.upper() for d in scene.script.dialogue}
        for c in shot.characters:
            if c.upper() not in cast:
                add("character", shot.id, f"{c} is in the shot but not in scene {scene.id}")
        states = {i.asset_id: i.state for i in scene.instances or [] if i.state.strip()}
        names = {n.lower() for n in [*shot.characters, *shot.props, scene.outline.location]}
        for frame_name, frame in (("first", shot.first_frame), ("last", shot.last_frame)):
            if frame is None or not frame.prompt:
                continue
            for asset_id, state in states.items():
                try:
                    asset = film.asset(asset_id)
                except KeyError:
                    continue
                if asset.name.lower() in names and state not in frame.prompt:
                    add("state", shot.id, f"{frame_name} keyframe prompt lacks {asset.name}'s state: {state!r}")

    if shots:
        total = sum(s.duration for s in shots)
        if abs(total - film.inputs.duration) > 1.0 / FPS + 1e-6:
            add("duration", "film", f"shots add up to {total:.3f} s, the film is {film.inputs.duration:.3f} s")

    rules = film.inputs.story_rules
    if rules:
        latest: dict[str, dict] = {}
        for job in studio.store.jobs(name):
            if job["status"] == "done" and not job["reused"]:
                latest[job["node"]] = job
        for job in latest.values():
            for p in (job["request"] or {}).get("prompts", []):
                if p.get("kind") not in ("text", "image", "video"):
                    continue
                text = " ".join(str(p.get(k, "")) for k in ("system", "user", "prompt"))
                for rule in rules:
                    if rule not in text:
                        add("rules", job["node"], f"story rule {rule!r} absent from the {p['kind']} prompt")
                        break
    return findings
