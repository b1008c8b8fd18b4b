"""What the studio's buttons do, on top of :class:`Studio` (nothing here reaches past its public methods and
its ``store``): branch-on-lock, choosing and confirming story options, the asset checklist and its images,
and the scene continuity controls. Ids coming from a request are checked against the Film before they
become part of a field path, so a request can never address another field.
"""

from __future__ import annotations

from datetime import datetime

from storyreel.errors import InputError, NotFound, ProjectBusy
from storyreel.film.models import VIEWS_BY_KIND, Asset, AssetImage, Film
from storyreel.steps import STAGES
from storyreel.store import files
from storyreel.studio import Studio
from storyreel.web import state as web_state
from storyreel.web.errors import LockedEdit
from storyreel.web.overview import TITLES, options_fingerprint
from storyreel.web.uploads import check_image


def target(studio: Studio, name: str, stage: str, branch: bool) -> str:
    """The project an edit of ``stage`` goes to: ``name``, or — when the stage is locked and the user agreed —
    a new branch with the stage unlocked (``Studio.unlock``). Locked without consent: LockedEdit (409)."""
    locks = studio.store.project(name).locks
    if stage not in locks:
        return name
    if not branch:
        raise LockedEdit(
            stage,
            f"the {TITLES.get(stage, stage)} stage of {name!r} is locked: create a branch to "
            "edit it (the original stays as it is)",
        )
    return studio.unlock(name, stage)


def not_running(studio: Studio, name: str) -> None:
    if studio.store.running_owner(name):
        raise ProjectBusy(f"project {name!r} is running; stop the run before changing it")


def edit(studio: Studio, name: str, path: str, value, *, branch: bool = False) -> dict:
    """A generic field edit (``Studio.edit``), offering a branch when the field's stage is locked."""
    from storyreel.studio import stage_of

    stage = stage_of(path)
    proj = target(studio, name, stage, branch)
    version = studio.edit(proj, path, value)
    return {"project": proj, "version": version}


# --- story review -------------------------------------------------------------------------------------------


def choose(studio: Studio, name: str, step: str, option: int, *, branch: bool = False) -> dict:
    proj = target(studio, name, "story", branch)
    version = studio.choose(proj, step, option)
    mark_reviewed(studio, proj)
    return {"project": proj, "version": version}


def mark_reviewed(studio: Studio, name: str) -> dict:
    film = studio.film(name)
    if not (film.lore.options or film.treatment.options):
        raise InputError("there are no story options to review yet: run the project first")
    web_state.update(studio.project_dir(name), reviewed=options_fingerprint(film))
    return {"project": name}


def remember_tab(studio: Studio, name: str, tab: str) -> None:
    web_state.update(studio.project_dir(name), tab=tab)


# --- assets -------------------------------------------------------------------------------------------------


def asset_of(film: Film, asset_id: str) -> Asset:
    for a in film.assets or []:
        if a.id == asset_id:
            return a
    raise NotFound(f"unknown asset {asset_id!r}")


def set_dropped(studio: Studio, name: str, asset_id: str, dropped: bool, *, branch: bool = False) -> dict:
    asset = asset_of(studio.film(name), asset_id)
    proj = target(studio, name, "assets", branch)
    version = studio.edit(proj, f"assets.{asset.id}.dropped", bool(dropped))
    return {"project": proj, "version": version}


def set_favourite(studio: Studio, name: str, asset_id: str, path: str, *, branch: bool = False) -> dict:
    """Make one image of the asset's history the reference of its view."""
    asset = asset_of(studio.film(name), asset_id)
    pick = next((h for h in asset.history if h.path == path), None)
    if pick is None:
        raise NotFound(f"{path!r} is not in the history of {asset.name!r}")
    refs = [r for r in asset.references if r.view != pick.view] + [pick]
    proj = target(studio, name, "assets", branch)
    version = studio.edit(proj, f"assets.{asset.id}.references", [r.model_dump(mode="json") for r in refs])
    return {"project": proj, "version": version}


def regenerate(studio: Studio, runner, name: str, asset_id: str, note: str, *, branch: bool = False) -> dict:
    """Set the asset's guidance note (a new generation of its views) and start a run."""
    asset = asset_of(studio.film(name), asset_id)
    note = " ".join((note or "").split())[:2000]
    if asset.dropped:
        raise InputError(f"{asset.name!r} is dropped (no reference sheet): tick it in the checklist first")
    if note == asset.guidance:
        raise InputError("the note is the same as the last generation's: change it to get new images")
    not_running(studio, name)
    proj = target(studio, name, "assets", branch)
    version = studio.edit(proj, f"assets.{asset.id}.guidance", note)
    runner.start(studio, proj)
    return {"project": proj, "version": version, "running": True}


def upload_reference(
    studio: Studio,
    name: str,
    asset_id: str,
    view: str,
    data: bytes,
    content_type: str | None,
    filename: str = "",
    *,
    branch: bool = False,
) -> dict:
    """Check an uploaded image, save it in the project's images/ and make it the reference of ``view``."""
    film = studio.film(name)
    asset = asset_of(film, asset_id)
    views = VIEWS_BY_KIND[asset.kind]
    view = view or views[0]
    if view not in views:
        raise InputError(f"a {asset.kind} has the views {', '.join(views)}, not {view!r}")
    ext = check_image(data, content_type, filename)
    not_running(studio, name)
    proj = target(studio, name, "assets", branch)
    pdir = studio.project_dir(proj)
    path = files.unique_path(pdir / "images", "upload", f"{asset.name}_{view}", ext)
    files.atomic_write(path, data)
    rel = path.relative_to(pdir).as_posix()
    image = AssetImage(
        view=view,
        path=rel,
        prompt="",
        created=datetime.now().isoformat(timespec="seconds"),
        note=f"uploaded: {filename}"[:200] if filename else "uploaded",
        uploaded=True,
    )
    new = asset_of(studio.film(proj), asset_id).model_copy(deep=True)
    new.references = [r for r in new.references if r.view != view] + [image]
    new.history = [*new.history, image]
    try:
        version = studio.edit(proj, f"assets.{new.id}", new.model_dump(mode="json"))
    except Exception:
        path.unlink(missing_ok=True)
        raise
    return {"project": proj, "version": version, "path": rel}


# --- scenes -------------------------------------------------------------------------------------------------


def derive_choices(film: Film, scene_id: str, asset_id: str) -> list[str]:
    """Where an instance may take its look from: 'master', or an earlier scene where the asset appears."""
    out = ["master"]
    for s in film.scenes or []:
        if s.id == scene_id:
            break
        if any(i.asset_id == asset_id for i in s.instances or []):
            out.append(s.id)
    return out


def default_derive(film: Film, scene_id: str, asset_id: str) -> str:
    return derive_choices(film, scene_id, asset_id)[-1]


def set_instance(
    studio: Studio,
    name: str,
    scene_id: str,
    asset_id: str,
    *,
    derives_from: str | None = None,
    use_reference_as_is: bool | None = None,
    state: str | None = None,
    branch: bool = False,
) -> dict:
    film = studio.film(name)
    scene = next((s for s in film.scenes or [] if s.id == scene_id), None)
    if scene is None:
        raise NotFound(f"unknown scene {scene_id!r}")
    inst = next((i for i in scene.instances or [] if i.asset_id == asset_id), None)
    if inst is None:
        raise NotFound(f"scene {scene_id} has no instance of {asset_id!r}")
    new = inst.model_copy()
    if derives_from is not None:
        if derives_from == "default":
            new.derives_from, new.derives_chosen = default_derive(film, scene_id, asset_id), False
        elif derives_from in derive_choices(film, scene_id, asset_id):
            new.derives_from, new.derives_chosen = derives_from, True
        else:
            raise InputError(
                f"{asset_id} in {scene_id} can derive from the master or an earlier scene where it "
                f"appears ({', '.join(derive_choices(film, scene_id, asset_id))}), not {derives_from!r}"
            )
    if use_reference_as_is is not None:
        new.use_reference_as_is = bool(use_reference_as_is)
    if state is not None:
        new.state = " ".join(state.split())[:2000]
    if new == inst:
        return {"project": name, "changed": False}
    proj = target(studio, name, "scenes", branch)
    version = studio.edit(proj, f"scenes.{scene.id}.instances.{inst.asset_id}", new.model_dump(mode="json"))
    return {"project": proj, "version": version, "changed": True}


# --- locks --------------------------------------------------------------------------------------------------


def check_stage(stage: str) -> str:
    if stage not in STAGES:
        raise NotFound(f"unknown stage {stage!r}; stages: {', '.join(STAGES)}")
    return stage
