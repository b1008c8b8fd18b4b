"""Where a project stands, in production terms: the state of each stage, the position ("Scene 3 · Keyframes"),
progress and thumbnail. Built on ``Studio.plan`` and ``Studio.film``; shared by the pages, the API and the SSE
stream.

Stage states (one legend everywhere: colour + icon + word):

* **locked** — the stage is locked (wins over everything else);
* **failed** — a node of the stage failed at its current inputs;
* **running** — a node of the stage is running;
* **stale** — a node was done but its inputs changed since (an edit or choice upstream);
* **needs review** — *story only*: every story node is done, lore or treatment options exist, the story stage
  is not locked, and the user has neither picked an option nor pressed "Keep these choices" for the options as
  they are now (the studio remembers a fingerprint of the options it last saw confirmed, in web_state.json;
  new options — after a re-run — need a new review);
* **done** — every node of the stage is done;
* **partly done** — some nodes are done, others wait (a run was stopped, or not run that far yet);
* **not started** — nothing of the stage is done (or the stage has no nodes yet).
"""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime
from pathlib import Path

from storyreel.film.models import Film
from storyreel.steps import BY_NAME, STAGES
from storyreel.studio import Studio
from storyreel.web import state as web_state
from storyreel.web.runner import Runner

DONE = ("done", "reused", "locked")
TITLES = {
    "story": "Story",
    "beats": "Beats",
    "script": "Script",
    "assets": "Assets",
    "scenes": "Scenes",
    "shots": "Shots",
    "keyframes": "Keyframes",
    "clips": "Clips",
    "sound": "Sound",
    "cut": "Final cut",
}
TAB_OF = {
    "story": "review",
    "beats": "review",
    "script": "review",
    "assets": "assets",
    "scenes": "scenes",
    "shots": "storyboard",
    "keyframes": "storyboard",
    "clips": "storyboard",
    "sound": "storyboard",
    "cut": "storyboard",
}
LEGEND = [
    ("not-started", "Not started"),
    ("partial", "Partly done"),
    ("running", "Running"),
    ("review", "Needs review"),
    ("done", "Done"),
    ("stale", "Stale"),
    ("locked", "Locked"),
    ("failed", "Failed"),
]
WORDS = dict(LEGEND)
TABS = [
    ("overview", "Pipeline"),
    ("review", "Story & script"),
    ("assets", "Assets"),
    ("scenes", "Scenes"),
    ("storyboard", "Storyboard"),
    ("branches", "Branches"),
]
TAB_NAMES = tuple(t for t, _ in TABS)


def options_fingerprint(film: Film) -> str:
    data = [[o.model_dump() for o in film.lore.options], [o.model_dump() for o in film.treatment.options]]
    return hashlib.sha1(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]


def story_needs_review(film: Film, locks: list[str], wstate: dict) -> bool:
    if "story" in locks or not (film.lore.options or film.treatment.options):
        return False
    return wstate.get("reviewed") != options_fingerprint(film)


def stage_states(plan: list[dict], film: Film, locks: list[str], wstate: dict) -> list[dict]:
    by: dict[str, list[str]] = {s: [] for s in STAGES}
    for n in plan:
        by.setdefault(n["stage"], []).append(n["state"])
    review = story_needs_review(film, locks, wstate)
    out = []
    for stage in STAGES:
        states = by[stage]
        done = sum(1 for s in states if s in DONE)
        total = len(states)
        if stage in locks:
            st = "locked"
        elif "failed" in states:
            st = "failed"
        elif "running" in states:
            st = "running"
        elif "stale" in states:
            st = "stale"
        elif total and done == total:
            st = "review" if stage == "story" and review else "done"
        elif done:
            st = "partial"
        else:
            st = "not-started"
        out.append(
            {
                "stage": stage,
                "title": TITLES[stage],
                "state": st,
                "word": WORDS[st],
                "done": done,
                "total": total,
                "tab": TAB_OF[stage],
            }
        )
    return out


def scene_of_node(film: Film, node: dict) -> tuple[int, str] | None:
    step = BY_NAME.get(node["step"])
    item = node.get("item")
    if step is None or item is None:
        return None
    try:
        if step.per == "scene":
            s = film.scene(item)
        elif step.per == "shot":
            s = film.scene(film.shot(item).scene_id)
        else:
            return None
    except KeyError:
        return None
    return s.index + 1, s.id


def position(plan: list[dict], film: Film) -> str:
    """'Scene 3 · Keyframes': the first unfinished stage, with the scene of its first unfinished node."""
    first = next((n for n in plan if n["state"] not in DONE), None)
    if first is None:
        return "Final cut ready" if film.cut and film.cut.final else "Done"
    stage = TITLES[first["stage"]]
    sc = scene_of_node(film, first)
    return f"Scene {sc[0]} · {stage}" if sc else stage


def title_of(film: Film) -> str:
    t = film.chosen_treatment()
    if t and t.title:
        return t.title
    prompt = " ".join(film.inputs.prompt.split())
    return prompt[:80] + ("…" if len(prompt) > 80 else "") or film.name


def thumbnail(film: Film, project_dir: Path) -> str | None:
    """First keyframe, else a scene's stage image, else an asset reference; None when nothing is drawn yet."""
    candidates = [s.first_frame.image for s in film.shots or [] if s.first_frame and s.first_frame.image]
    candidates += [s.stage.image for s in film.scenes or [] if s.stage and s.stage.image]
    candidates += [r.path for a in film.assets or [] for r in a.references]
    for c in candidates:
        if c and (project_dir / c).is_file():
            return c
    return None


def ago(ts: float | None, now: float | None = None) -> str:
    if not ts:
        return ""
    d = max(0.0, (now or time.time()) - ts)
    if d < 60:
        return "just now"
    if d < 3600:
        return f"{int(d // 60)} min ago"
    if d < 86400:
        return f"{int(d // 3600)} h ago"
    if d < 7 * 86400:
        return f"{int(d // 86400)} d ago"
    return datetime.fromtimestamp(ts).strftime("%d %b %Y")


def snapshot(studio: Studio, runner: Runner, name: str) -> dict:
    """What the pages show live: stable for an unchanged project (the SSE stream sends it when it changes)."""
    plan = studio.plan(name)
    film = studio.film(name)
    row = studio.store.project(name)
    pdir = studio.project_dir(name)
    wstate = web_state.load(pdir)
    total = len(plan)
    done = sum(1 for n in plan if n["state"] in DONE)
    run = runner.info(name)
    running = bool(studio.store.running_owner(name))
    queued = run is not None and run.state == "queued"
    return {
        "project": name,
        "version": row.head,
        "locks": row.locks,
        "parent": row.parent,
        "progress": round(100.0 * done / total, 1) if total else 0.0,
        "done": done,
        "total": total,
        "position": position(plan, film),
        "stages": stage_states(plan, film, row.locks, wstate),
        "running": running,
        "queued": queued,
        "active": running or bool(run and run.active),
        "running_nodes": [n["node"] for n in plan if n["state"] == "running"],
        "failed": [{"node": n["node"], "error": n["error"]} for n in plan if n["state"] == "failed"],
        "run": run.as_dict() if run else None,
        "final": film.cut.final if film.cut and film.cut.final else None,
    }


def card(studio: Studio, runner: Runner, name: str) -> dict:
    """A dashboard card: the snapshot plus title, folder, thumbnail and last edit."""
    snap = snapshot(studio, runner, name)
    film = studio.film(name)
    row = studio.store.project(name)
    return {
        **snap,
        "title": title_of(film),
        "prompt": film.inputs.prompt,
        "folder": row.folder,
        "updated": row.updated,
        "updated_ago": ago(row.updated),
        "updated_iso": datetime.fromtimestamp(row.updated).isoformat(timespec="seconds"),
        "thumbnail": thumbnail(film, studio.project_dir(name)),
        "duration": film.inputs.duration,
        "aspect": film.inputs.aspect,
    }
