"""The Python API: ``storyreel.Studio(data_dir)``.

Every surface (CLI, web studio, Celery tasks) goes through this class: create a project, run it, read its status
and plan, choose an option, edit a field, lock and unlock stages, branch, read the Film and its versions.
Bad input raises an :class:`InputError` with one clear line and changes nothing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from storyreel.engine.core import fingerprint_fn, load_head, make_router
from storyreel.engine.events import Events
from storyreel.errors import InputError, LockedError, NotFound, ProjectBusy
from storyreel.film import versions
from storyreel.film.models import Film, Inputs, SourceDocument, Style
from storyreel.plan.graph import Plan
from storyreel.steps import BY_NAME, STAGES, STEPS
from storyreel.store import files
from storyreel.store.db import Store

MAX_PROMPT = 100_000
MAX_DURATION = 3 * 3600
ASPECTS = ("16:9", "9:16", "1:1")
SECTION_STAGE = {"inputs": "story", "lore": "story", "treatment": "story", "beats": "beats", "scenes": "scenes",
                 "assets": "assets", "shots": "shots", "clips": "clips", "sound": "sound", "cut": "cut"}


def default_data_dir() -> Path:
    return Path(os.environ.get("STORYREEL_DATA") or "data")


class Studio:
    def __init__(self, data_dir: Path | str | None = None, *, database_url: str | None = None,
                 config_path: Path | None = None):
        self.data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        self.store = Store(self.data_dir, database_url)
        self.config_path = config_path

    # --- projects ------------------------------------------------------------------------------------------

    def project_dir(self, name: str) -> Path:
        return self.data_dir / files.check_project_name(name)

    def create(self, name: str | None, prompt: str = "", *, script: str | None = None,
               documents: list[tuple[str, str]] = (), duration: float | None = None, aspect: str = "16:9",
               style: str = "", rules: list[str] = (), folder: str = "") -> str:
        """Create a project; returns its name. ``script`` is Fountain text (skip to script)."""
        from storyreel.inputs import documents as docs_mod
        from storyreel.inputs import fountain

        prompt = prompt if isinstance(prompt, str) else ""
        if len(prompt) > MAX_PROMPT:
            raise InputError(f"the prompt is {len(prompt):,} characters; the limit is {MAX_PROMPT:,}")
        sections = docs_mod.merge([docs_mod.parse_sections(t) for _, t in documents]) if documents else None
        if sections and sections.script and not script:
            script = sections.script
        parsed = None
        if script is not None:
            if len(script) > 5_000_000:
                raise InputError("the screenplay is over 5 MB")
            try:
                parsed = fountain.parse(script)
            except fountain.FountainError as e:
                raise InputError(f"the screenplay cannot be read: {e}") from None
        if not prompt.strip():
            if parsed is not None:
                prompt = parsed.title_page.get("title", "").replace("\n", " ").strip() or "A film from a screenplay"
            elif sections and (sections.plot or sections.other).strip():
                prompt = (sections.plot or sections.other).strip()[:2000]
            else:
                raise InputError("the prompt is empty: say what the film is about")
        if duration is None:
            duration = _script_duration(parsed) if parsed else 30.0
        try:
            duration = float(duration)
        except (TypeError, ValueError):
            raise InputError(f"duration {duration!r} is not a number of seconds") from None
        if not (0 < duration <= MAX_DURATION) or duration != duration:
            raise InputError(f"duration must be more than 0 and at most {MAX_DURATION} seconds (3 hours), "
                             f"got {duration:g}")
        if aspect not in ASPECTS:
            raise InputError(f"aspect must be one of {', '.join(ASPECTS)}, got {aspect!r}")
        rules = [r.strip() for r in rules if r and r.strip()]
        name = files.check_project_name(name or self._free_name(files.project_name_from(prompt)))
        if self.store.exists(name):
            raise InputError(f"project {name!r} already exists")
        inputs = Inputs(prompt=prompt, duration=duration, aspect=aspect, style=Style(description=style),
                        story_rules=rules, screenplay=script,
                        documents=[SourceDocument(name=files.sanitize(n, max_len=80), text=t) for n, t in documents])
        if sections:
            inputs.plot, inputs.characters_notes = sections.plot, sections.characters
            inputs.dialogue_rules, inputs.vibe, inputs.shot_style = (sections.dialogue_rules, sections.vibe,
                                                                     sections.shot_style)
            inputs.story_rules = list(dict.fromkeys([*inputs.story_rules, *sections.story_rules]))
            if sections.shot_style and not style:
                inputs.style.description = sections.shot_style
        film = Film(name=name, inputs=inputs)
        folder_path = self.data_dir / name
        for sub in files.FOLDERS:
            (folder_path / sub).mkdir(parents=True, exist_ok=True)
        with self.store.tx() as conn:
            self.store.create_project(conn, name, film.model_dump(mode="json"), folder=folder[:128])
        return name

    def _free_name(self, base: str) -> str:
        base = files.sanitize(base, max_len=48).replace("_", "-") or "film"
        name, n = base, 2
        while self.store.exists(name):
            name, n = f"{base}-{n}", n + 1
        return name

    def projects(self) -> list[dict]:
        return [{"name": p.name, "parent": p.parent, "parent_version": p.parent_version, "folder": p.folder,
                 "updated": p.updated, "created": p.created, "locks": p.locks, "head": p.head}
                for p in self.store.list_projects()]

    def film(self, name: str, version: int | None = None) -> Film:
        self._known(name)
        _, data, _ = self.store.version(name, version)
        return versions.load(data)

    def versions(self, name: str) -> list[dict]:
        self._known(name)
        return self.store.list_versions(name)

    def _known(self, name: str) -> None:
        files.check_project_name(name)
        if not self.store.exists(name):
            raise NotFound(f"unknown project {name!r}")

    # --- running -------------------------------------------------------------------------------------------

    def run(self, name: str, *, until: str | None = None, events: Events | None = None,
            adapters: dict[str, Any] | None = None) -> dict:
        from storyreel.engine.local import run_sync

        self._known(name)
        if until is not None and until not in STAGES:
            raise NotFound(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
        return run_sync(self.store, name, until=until, events=events, config_path=self.config_path,
                        adapters=adapters)

    def stop(self, name: str) -> bool:
        self._known(name)
        if not self.store.running_owner(name):
            return False
        self.store.set_project(name, stop_requested=True)
        return True

    def _not_running(self, name: str) -> None:
        owner = self.store.running_owner(name)
        if owner:
            raise ProjectBusy(f"project {name!r} is running; stop the run before changing it")

    # --- reading the plan ----------------------------------------------------------------------------------

    def plan(self, name: str) -> list[dict]:
        self._known(name)
        _, film, applied = load_head(self.store, name)
        project = self.store.project(name)
        latest = self.store.latest_jobs(name)
        running = {n for n, j in latest.items() if j["status"] == "running"} if self.store.running_owner(name) \
            else set()
        failed = {n: j["cache_key"] for n, j in latest.items() if j["status"] == "failed"}
        router = make_router(self.store, name, self.config_path)
        plan = Plan(film, STEPS)
        states = plan.states(applied, fingerprint_fn(router), locked=set(project.locks), running=running,
                             failed=failed)
        out = []
        for n in plan.nodes:
            st = states[n.id]
            state = {"ready": "pending"}.get(st.state, st.state)
            if state == "failed":
                state = "failed"
            out.append({"node": n.id, "step": n.step.name, "item": n.item, "stage": n.step.stage, "state": state,
                        "key": st.key or st.applied_key, "deps": n.deps,
                        "error": latest.get(n.id, {}).get("error") if state == "failed" else None})
        return out

    def status(self, name: str) -> dict:
        nodes = self.plan(name)
        film = self.film(name)
        counts = {k: 0 for k in ("total", "done", "running", "pending", "failed", "stale")}
        for n in nodes:
            counts["total"] += 1
            s = n["state"]
            key = "done" if s in ("done", "reused", "locked") else s
            counts[key] = counts.get(key, 0) + 1
        stage = next((n["stage"] for n in nodes if n["state"] not in ("done", "reused", "locked")), "done")
        assets = film.assets or []
        outputs: dict[str, str] = {}
        pdir = self.project_dir(name)
        if film.cut and film.cut.final:
            outputs["final"] = str(pdir / film.cut.final)
        if film.sound and film.sound.subtitles:
            outputs["subtitles"] = str(pdir / film.sound.subtitles)
        for extra in ("storyboard.pdf", "timeline.otio", "film.json", "screenplay.fountain"):
            p = pdir / "output" / f"{name}_{extra}"
            if p.exists():
                outputs[extra.split(".")[0]] = str(p)
        project = self.store.project(name)
        return {
            "project": name, "stage": stage,
            "progress": round(100.0 * counts["done"] / counts["total"], 1) if counts["total"] else 0.0,
            "nodes": counts,
            "counts": {"scenes": len(film.scenes or []),
                       "characters": sum(1 for a in assets if a.kind == "character" and not a.removed),
                       "locations": sum(1 for a in assets if a.kind == "location" and not a.removed),
                       "props": sum(1 for a in assets if a.kind == "prop" and not a.removed),
                       "shots": len(film.shots or []), "dialogue_lines": len(film.dialogue_lines())},
            "outputs": outputs, "locks": project.locks, "parent": project.parent, "version": project.head,
            "running": bool(self.store.running_owner(name)),
            "failed": [{"node": n["node"], "error": n["error"]} for n in nodes if n["state"] == "failed"],
        }

    def show(self, name: str, node: str) -> dict:
        self._known(name)
        jobs = self.store.jobs(name, node)
        if not jobs:
            known = {n["node"] for n in self.plan(name)}
            if node not in known:
                raise NotFound(f"unknown node {node!r} in project {name!r}")
            return {"node": node, "state": "pending", "jobs": 0}
        ran = [j for j in jobs if not j["reused"]] or jobs
        j = ran[-1]
        req = j["request"] or {}
        return {"node": node, "step": j["step"], "item": j["item"], "status": j["status"], "reused": j["reused"],
                "model": req.get("model", ""), "prompts": req.get("prompts", []), "attempts": req.get("attempts", []),
                "cost": j["cost"], "error": j["error"], "output": j["outputs"], "cache_key": j["cache_key"],
                "started": j["started"], "finished": j["finished"], "jobs": len(jobs)}

    # --- changing the Film ---------------------------------------------------------------------------------

    def _commit(self, name: str, film: Film, applied: dict, note: str) -> int:
        Film.model_validate(film.model_dump())
        with self.store.tx() as conn:
            return self.store.commit_version(conn, name, film.model_dump(mode="json"), applied, note)

    def _check_unlocked(self, name: str, stage: str) -> None:
        locks = self.store.project(name).locks
        if stage in locks:
            raise LockedError(f"stage {stage!r} of {name!r} is locked; unlock it (which creates a branch) "
                              "or edit on a branch")

    def choose(self, name: str, step: str, option: int) -> int:
        """Choose option ``option`` (1-based) of ``step`` (lore or treatment)."""
        self._known(name)
        if step not in ("lore", "treatment"):
            raise InputError(f"only lore and treatment have options, not {step!r}")
        self._not_running(name)
        self._check_unlocked(name, "story")
        _, film, applied = load_head(self.store, name)
        choice = film.lore if step == "lore" else film.treatment
        if not choice.options:
            raise InputError(f"{step} has no options yet: run the project first")
        if not isinstance(option, int) or not 1 <= option <= len(choice.options):
            raise InputError(f"option must be between 1 and {len(choice.options)}, got {option!r}")
        choice.chosen = option - 1
        return self._commit(name, film, applied, f"choose {step} {option}")

    def edit(self, name: str, path: str, value: Any) -> int:
        """Set one field of the Film. ``value`` may be JSON text; otherwise it is taken as a string."""
        self._known(name)
        self._not_running(name)
        _, film, applied = load_head(self.store, name)
        stage = stage_of(path)
        self._check_unlocked(name, stage)
        data = film.model_dump(mode="json")
        set_path(data, path, _parse_value(value))
        try:
            new = Film.model_validate(data)
        except Exception as e:
            err = e
            first = getattr(err, "errors", lambda: [{"msg": str(err)}])()[0]
            raise InputError(f"invalid value for {path}: {first.get('msg')}") from None
        return self._commit(name, new, applied, f"edit {path}")

    def lock(self, name: str, stage: str) -> list[str]:
        self._known(name)
        if stage not in STAGES:
            raise NotFound(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        locks = self.store.project(name).locks
        i = STAGES.index(stage)
        if i > 0 and STAGES[i - 1] not in locks:
            raise LockedError(f"lock {STAGES[i - 1]!r} before {stage!r}")
        undone = [n["node"] for n in self.plan(name) if n["stage"] == stage and n["state"] not in
                  ("done", "reused", "locked")]
        if undone:
            raise InputError(f"stage {stage!r} is not done ({len(undone)} nodes left, e.g. {undone[0]}); run it "
                             "first")
        if stage not in locks:
            locks = [*locks, stage]
            self.store.set_project(name, locks=locks)
        return locks

    def unlock(self, name: str, stage: str, new_name: str | None = None) -> str:
        """Unlocking never changes the original: it creates a branch with ``stage`` and later stages unlocked."""
        self._known(name)
        if stage not in STAGES:
            raise NotFound(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
        locks = self.store.project(name).locks
        if stage not in locks:
            raise InputError(f"stage {stage!r} of {name!r} is not locked")
        keep = [s for s in locks if STAGES.index(s) < STAGES.index(stage)]
        return self.branch(name, new_name, locks=keep)

    def branch(self, name: str, new_name: str | None = None, *, at: int | None = None,
               locks: list[str] | None = None) -> str:
        self._known(name)
        number, data, applied = self.store.version(name, at)
        new_name = files.check_project_name(new_name or self._free_name(f"{name}-branch"))
        if self.store.exists(new_name):
            raise InputError(f"project {new_name!r} already exists")
        data = dict(data)
        data["name"] = new_name
        src, dst = self.project_dir(name), self.data_dir / new_name
        _link_tree(src, dst)
        parent = self.store.project(name)
        with self.store.tx() as conn:
            self.store.create_project(conn, new_name, data, parent=name, parent_version=number, applied=applied,
                                      locks=parent.locks if locks is None else locks, folder=parent.folder,
                                      note=f"branch of {name} at version {number}")
        # the branch's jobs: copy the finished ones so its cache and `show` work as in the parent
        self.store.copy_jobs(name, new_name)
        return new_name

    def branches(self, name: str) -> list[dict]:
        self._known(name)
        return [p for p in self.projects() if p["parent"] == name]

    def set_folder(self, name: str, folder: str) -> None:
        self._known(name)
        self.store.set_project(name, folder=folder.strip()[:128])

    def export_json(self, name: str) -> str:
        return self.film(name).model_dump_json(indent=2)


# --- helpers -------------------------------------------------------------------------------------------------


def _script_duration(parsed) -> float:
    words = sum(len(s.action.split()) + sum(len(d.text.split()) for d in s.dialogue) for s in parsed.scenes)
    return float(min(600, max(20, round(words / 2.5))))


def _parse_value(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_SEG = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _segments(path: str) -> list[str | int]:
    if not isinstance(path, str) or not path.strip():
        raise NotFound("empty field path")
    segs: list[str | int] = []
    for name, idx in _SEG.findall(path):
        segs.append(int(idx) if idx else name)
    return segs


def set_path(data: dict, path: str, value: Any) -> None:
    """Set ``path`` ('inputs.prompt', 'scenes.s01.script.action', 'shots[2].duration') in Film JSON."""
    segs = _segments(path)
    node: Any = data
    for i, seg in enumerate(segs):
        last = i == len(segs) - 1
        if isinstance(node, list):
            if isinstance(seg, str) and seg.isdigit():
                seg = int(seg)
            if isinstance(seg, int):
                if not 0 <= seg < len(node):
                    raise NotFound(f"unknown field path {path!r}: index {seg} out of range")
                idx = seg
            else:
                idx = next((k for k, v in enumerate(node) if isinstance(v, dict) and seg in
                            (v.get("id"), v.get("shot_id"), v.get("asset_id"), v.get("line_id"))), None)
                if idx is None:
                    raise NotFound(f"unknown field path {path!r}: no item {seg!r}")
            if last:
                node[idx] = value
                return
            node = node[idx]
        elif isinstance(node, dict):
            if seg not in node:
                raise NotFound(f"unknown field path {path!r}: no field {seg!r}")
            if last:
                node[seg] = value
                return
            node = node[seg]
        else:
            raise NotFound(f"unknown field path {path!r}")


def stage_of(path: str) -> str:
    """The stage a field belongs to: its writer's stage, else its section's."""
    segs = [s for s in _segments(path) if isinstance(s, str) and not re.match(r"^(s\d+|[a-z]+-)", s)]
    generic = ".".join(segs)
    head = segs[0] if segs else ""
    if head not in SECTION_STAGE:
        raise NotFound(f"unknown field path {path!r}")
    for step in STEPS:
        for w in step.writes:
            if generic == w or generic.startswith(w + "."):
                return step.stage
    return SECTION_STAGE[head]


def _link_tree(src: Path, dst: Path) -> None:
    """Give a branch its own folder with the parent's media, hard-linked where the filesystem allows."""
    for sub in files.FOLDERS:
        (dst / sub).mkdir(parents=True, exist_ok=True)
    if not src.exists():
        return
    for path in src.rglob("*"):
        if path.is_file() and not path.name.startswith(".tmp-"):
            target = dst / path.relative_to(src)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                continue
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)


__all__ = ["Studio", "BY_NAME"]
