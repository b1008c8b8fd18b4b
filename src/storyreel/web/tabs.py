"""What each project tab shows, as plain dicts (the pages render them, the API returns them)."""

from __future__ import annotations

from datetime import datetime

from storyreel.film.models import VIEWS_BY_KIND
from storyreel.studio import Studio
from storyreel.web import overview, screenplay
from storyreel.web import state as web_state
from storyreel.web.actions import default_derive, derive_choices
from storyreel.web.context import media_url

KIND_TITLES = {"character": "Characters", "location": "Locations", "prop": "Props"}


def review_view(studio: Studio, name: str) -> dict:
    film = studio.film(name)
    row = studio.store.project(name)
    wstate = web_state.load(studio.project_dir(name))
    return {
        "lore": [o.model_dump() for o in film.lore.options],
        "lore_chosen": film.lore.chosen + 1,
        "treatment": [o.model_dump() for o in film.treatment.options],
        "treatment_chosen": film.treatment.chosen + 1,
        "needs_review": overview.story_needs_review(film, row.locks, wstate),
        "beats": [b.model_dump() for b in film.beats or []],
        "screenplay_mode": screenplay.mode_of(film),
        "screenplay": screenplay.text_of(film),
        "inputs": film.inputs.model_dump(exclude={"documents", "screenplay"}),
        "documents": [d.name for d in film.inputs.documents],
    }


def assets_view(studio: Studio, name: str) -> dict:
    film = studio.film(name)
    groups = []
    for kind, title in KIND_TITLES.items():
        items = []
        for a in film.assets or []:
            if a.kind != kind:
                continue
            refs = {r.view: r.path for r in a.references}
            views = [
                {
                    "view": v,
                    "path": refs.get(v),
                    "url": media_url(name, refs.get(v)),
                    "uploaded": next((r.uploaded for r in a.references if r.view == v), False),
                }
                for v in VIEWS_BY_KIND[kind]
            ]
            history = [
                {
                    **h.model_dump(),
                    "url": media_url(name, h.path),
                    "favourite": refs.get(h.view) == h.path,
                    "when": h.created.replace("T", " ")[:16],
                }
                for h in reversed(a.history)
            ]
            items.append(
                {
                    "id": a.id,
                    "name": a.name,
                    "description": a.description,
                    "dropped": a.dropped,
                    "removed": a.removed,
                    "guidance": a.guidance,
                    "views": views,
                    "history": history,
                    "view_names": list(VIEWS_BY_KIND[kind]),
                }
            )
        groups.append({"kind": kind, "title": title, "assets": items})
    return {"groups": groups, "count": len(film.assets or [])}


def scenes_view(studio: Studio, name: str) -> list[dict]:
    film = studio.film(name)
    assets = {a.id: a for a in film.assets or []}
    scenes = film.scenes or []
    out = []
    for scene in scenes:
        insts = []
        for inst in scene.instances or []:
            a = assets.get(inst.asset_id)
            choices = derive_choices(film, scene.id, inst.asset_id)
            default = default_derive(film, scene.id, inst.asset_id)
            earlier = []
            for s in scenes[: scene.index]:
                prior = next((i for i in s.instances or [] if i.asset_id == inst.asset_id), None)
                if prior is not None and prior.image:
                    earlier.append(
                        {
                            "scene_id": s.id,
                            "number": s.index + 1,
                            "state": prior.state,
                            "url": media_url(name, prior.image),
                        }
                    )
            master = None
            if a is not None:
                view = {"character": "front", "location": "establishing", "prop": "object"}[a.kind]
                ref = a.reference(view) or (a.references[0] if a.references else None)
                master = media_url(name, ref.path) if ref else None
            source = (
                master
                if inst.derives_from == "master"
                else next((e["url"] for e in earlier if e["scene_id"] == inst.derives_from), master)
            )
            labels = {s.id: f"Scene {s.index + 1}" for s in scenes}
            insts.append(
                {
                    "asset_id": inst.asset_id,
                    "name": a.name if a else inst.asset_id,
                    "kind": a.kind if a else "",
                    "dropped": bool(a and a.dropped),
                    "state": inst.state,
                    "image_url": media_url(name, inst.image),
                    "derives_from": inst.derives_from,
                    "derives_chosen": inst.derives_chosen,
                    "default": default,
                    "choices": [
                        {
                            "value": c,
                            "label": "Master reference" if c == "master" else labels.get(c, c),
                            "default": c == default,
                        }
                        for c in choices
                    ],
                    "use_reference_as_is": inst.use_reference_as_is,
                    "source_url": source,
                    "master_url": master,
                    "earlier": earlier[-6:],
                }
            )
        out.append(
            {
                "id": scene.id,
                "number": scene.index + 1,
                "heading": scene.outline.heading,
                "summary": scene.outline.summary,
                "stage_url": media_url(name, scene.stage.image if scene.stage else None),
                "instances": insts,
            }
        )
    return out


def storyboard_view(studio: Studio, name: str) -> dict:
    film = studio.film(name)
    clips = {c.shot_id: c for c in film.clips or []}
    lines = {d.id: d for d in film.dialogue_lines()}
    by_scene: dict[str, list[dict]] = {}
    for s in film.shots or []:
        clip = clips.get(s.id)
        by_scene.setdefault(s.scene_id, []).append(
            {
                "id": s.id,
                "number": s.number,
                "framing": s.framing,
                "camera_move": s.camera_move,
                "action": s.action,
                "duration": round(s.duration, 1),
                "transition": s.transition,
                "first_url": media_url(name, s.first_frame.image if s.first_frame else None),
                "last_url": media_url(name, s.last_frame.image if s.last_frame else None),
                "clip_url": media_url(name, clip.path if clip else None),
                "clip_note": clip.note if clip else "",
                "dialogue": [f"{lines[i].character}: {lines[i].text}" for i in s.dialogue if i in lines],
            }
        )
    scenes = [
        {"id": sc.id, "number": sc.index + 1, "heading": sc.outline.heading, "shots": by_scene.get(sc.id, [])}
        for sc in film.scenes or []
        if by_scene.get(sc.id)
    ]
    final = None
    if film.cut and film.cut.final and (studio.project_dir(name) / film.cut.final).is_file():
        final = {"url": media_url(name, film.cut.final), "duration": film.cut.duration}
    return {
        "scenes": scenes,
        "shots": sum(len(s["shots"]) for s in scenes),
        "final": final,
        "aspect": film.inputs.aspect.replace(":", "-"),
        "downloads": downloads(studio, name),
    }


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(1, round(n / 1e3))} kB"


def downloads(studio: Studio, name: str) -> list[dict]:
    film = studio.film(name)
    pdir = studio.project_dir(name)
    out: list[dict] = []
    seen: set[str] = set()

    def add(label: str, rel: str | None) -> None:
        if rel and rel not in seen and (pdir / rel).is_file():
            seen.add(rel)
            out.append(
                {
                    "label": label,
                    "name": rel.rsplit("/", 1)[-1],
                    "url": media_url(name, rel) + "?download=1",
                    "size": _size((pdir / rel).stat().st_size),
                }
            )

    add("Final film (MP4)", film.cut.final if film.cut else None)
    add("Subtitles (SRT)", film.sound.subtitles if film.sound else None)
    out.append(
        {
            "label": "Film (JSON)",
            "name": f"{name}_film.json",
            "url": f"/api/projects/{name}/export.json",
            "size": "",
        }
    )
    out_dir = pdir / "output"
    if out_dir.is_dir():
        for p in sorted(out_dir.iterdir()):
            if p.is_file() and not p.name.startswith("."):
                add(p.suffix.lstrip(".").upper() or "File", f"output/{p.name}")
    return out


def branches_view(studio: Studio, name: str) -> dict:
    row = studio.store.project(name)
    projects = {p["name"]: p for p in studio.projects()}
    root = name
    while projects.get(root, {}).get("parent") in projects:
        root = projects[root]["parent"]

    def family(of: str, depth: int) -> list[dict]:
        p = projects[of]
        me = {
            "name": of,
            "parent": p["parent"],
            "parent_version": p["parent_version"],
            "depth": depth,
            "locks": p["locks"],
            "current": of == name,
            "updated": overview.ago(p["updated"]),
        }
        kids = sorted((q for q in projects.values() if q["parent"] == of), key=lambda q: q["created"])
        return [me] + [x for k in kids for x in family(k["name"], depth + 1)]

    versions = studio.versions(name)
    return {
        "project": name,
        "parent": row.parent,
        "parent_version": row.parent_version,
        "branches": studio.branches(name),
        "family": family(root, 0) if root in projects else [],
        "versions": [
            {**v, "when": datetime.fromtimestamp(v["created"]).strftime("%d %b %H:%M:%S")}
            for v in reversed(versions[-40:])
        ],
        "version_count": len(versions),
    }
