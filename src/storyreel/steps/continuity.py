"""Continuity steps, per scene: each asset's state there (carried from earlier scenes until the script changes it),
its image in that state (derived from the most recent earlier instance, else the master reference), and the
stage shot (the establishing view of the location with its props)."""

from __future__ import annotations

from pydantic import model_validator

from storyreel.film import dto
from storyreel.film.models import AssetInstance, Film, StageShot
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext, rules_block
from storyreel.steps.prompts import instances as instances_prompt

InstanceOut = dto.strict(AssetInstance, exclude={"derives_from", "derives_chosen", "use_reference_as_is", "image"},
                         name="InstanceOut")
InstancesOut = dto.make("InstancesOut", "The state of every asset present in the scene.",
                        instances=(list[InstanceOut], "One entry per asset present in the scene."))
InstanceImagesOut = dto.make("InstanceImagesOut", "Images of the scene's assets in their states.",
                             images=(list[dto.make("InstanceImage", "", asset_id=(str, "Id of the asset."),
                                                   image=(str, "Path of the image."))], "One per instance."))
StageOut = dto.strict(StageShot, name="StageOut")

ASSET_LOOKS = ("id", "name", "kind", "description")


def latest_states(earlier: list[list[dict] | None], earlier_ids: list[str]) -> dict[str, dict]:
    """asset id -> {"state", "scene"}: the most recent earlier instance of each asset."""
    out: dict[str, dict] = {}
    for scene_id, insts in zip(earlier_ids, earlier, strict=True):
        for i in insts or []:
            out[i["asset_id"]] = {"state": i["state"], "scene": scene_id}
    return out


async def _instances(ctx: StepContext) -> dict:
    present = [a["id"] for a in ctx.context["scene_assets"]]

    def check(model):
        got = [i.asset_id for i in model.instances]
        missing = sorted(set(present) - set(got))
        if missing:
            raise ValueError(f"no state given for: {', '.join(missing)}")
        return model

    checked = dto.make("InstancesChecked", "The state of every asset present in the scene.",
                       validators={"all": model_validator(mode="after")(check)},
                       instances=(list[InstanceOut], "One entry per asset present in the scene."))
    answer = await ctx.ask(checked)
    states = {i.asset_id: i.state for i in answer.instances if i.asset_id in present}
    return {"instances": [{"asset_id": a, "state": states.get(a, "")} for a in present]}


def _apply_instances(film: Film, item: str, out: dict) -> None:
    scene = film.scene(item)
    earlier_ids = [s.id for s in film.scenes or []][: scene.index]
    last_seen: dict[str, str] = {}
    for sid in earlier_ids:
        for inst in film.scene(sid).instances or []:
            last_seen[inst.asset_id] = sid
    old = {i.asset_id: i for i in scene.instances or []}
    new = []
    for d in out["instances"]:
        prev = old.get(d["asset_id"])
        default = last_seen.get(d["asset_id"], "master")
        chosen = prev is not None and prev.derives_chosen and prev.derives_from in (*earlier_ids, "master")
        derives = prev.derives_from if chosen else default
        new.append(AssetInstance(asset_id=d["asset_id"], state=d["state"], derives_from=derives, derives_chosen=chosen,
                                 use_reference_as_is=prev.use_reference_as_is if prev else False,
                                 image=prev.image if prev else None))
    scene.instances = new


def master_view(kind: str) -> str:
    return {"character": "front", "location": "establishing", "prop": "object"}[kind]


async def _instance_images(ctx: StepContext) -> dict:
    assets = {a["id"]: a for a in ctx.context["scene_assets"]}
    derived = {d["asset_id"]: d["image"] for d in ctx.context["derived_instances"]}
    style = ctx.context["style"]["description"]
    rules = ctx.context["story_rules"]
    images = []
    for inst in ctx.context["instances"] or []:
        a = assets.get(inst["asset_id"])
        if a is None:
            continue
        view = master_view(a["kind"])
        master = next((r["path"] for r in a["references"] if r["view"] == view), None)
        base = derived.get(a["id"]) if inst["derives_from"] != "master" else None
        base = base or master
        if inst["use_reference_as_is"] or not inst["state"].strip() or a["kind"] == "location":
            if base:
                images.append({"asset_id": a["id"], "image": base})
            continue
        prompt = (f"{a['kind'].title()} '{a['name']}' ({a['description']}) as seen in this scene: {inst['state']}. "
                  f"Same identity as the reference. {('Style: ' + style + '. ') if style else ''}"
                  f"{rules_block(rules)}")
        spec = {"sheet": True, "kind": a["kind"], "view": view, "name": a["name"], "description": a["description"],
                "state": inst["state"]}
        path = await ctx.image(prompt=prompt, spec=spec, kind=f"{a['kind']}-state", name=f"{ctx.item}_{a['name']}",
                               references=[base] if base else [], size=(1024, 1024))
        images.append({"asset_id": a["id"], "image": path})
    return {"images": images}


def _apply_instance_images(film: Film, item: str, out: dict) -> None:
    by_id = {d["asset_id"]: d["image"] for d in out["images"]}
    for inst in film.scene(item).instances or []:
        inst.image = by_id.get(inst.asset_id, inst.image)


async def _stage(ctx: StepContext) -> dict:
    o = ctx.context["outline"]
    assets = ctx.context["scene_assets"]
    loc = next((a for a in assets if a["kind"] == "location"), None)
    props = [a for a in assets if a["kind"] == "prop"]
    style = ctx.context["style"]["description"]
    prompt = (f"Establishing wide shot of {o['location']} ({loc['description'] if loc else o['heading']}), "
              f"{o['time_of_day'].lower() or 'day'}, no people"
              + (f", with {', '.join(p['name'] + ' (' + p['description'] + ')' for p in props)}" if props else "")
              + (f". Style: {style}" if style else "") + (f"\n{rules_block(ctx.context['story_rules'])}"
                                                            if ctx.context["story_rules"] else ""))
    refs = [r["path"] for a in assets if a["kind"] in ("location", "prop") for r in a["references"]][:4]
    spec = {"establishing": True, "framing": "wide", "location": {"name": o["location"], "time_of_day":
            o["time_of_day"], "description": loc["description"] if loc else ""},
            "props": [p["name"] for p in props], "characters": [], "caption": o["heading"],
            "shot_number": 0, "moment": "first", "camera_move": "static"}
    path = await ctx.image(prompt=prompt, spec=spec, kind="stage", name=f"{ctx.item}_{o['location']}",
                           references=refs)
    return {"prompt": prompt, "image": path}


def _apply_stage(film: Film, item: str, out: dict) -> None:
    film.scene(item).stage = StageShot(**out)


STYLE_AND_RULES = (Read("inputs.style", fields=("description",)), Read("inputs.story_rules"))

STEPS = [
    Step("instances", "scenes", "text", "scene",
         (Read("scenes.outline"), Read("scenes.script"), Read("assets", of="scene", fields=ASSET_LOOKS),
          Read("scenes.instances", of="earlier", fields=("asset_id", "state"), name="earlier_instances"),
          Read("inputs.story_rules")),
         ("scenes.instances.asset_id", "scenes.instances.state", "scenes.instances.derives_from"),
         InstancesOut, _instances, _apply_instances, system=instances_prompt.SYSTEM,
         structural=True, doc="Each asset present in the scene, in its state there."),
    Step("instance_images", "scenes", "image", "scene",
         (Read("scenes.instances", fields=("asset_id", "state", "derives_from", "use_reference_as_is")),
          Read("assets", of="scene", fields=(*ASSET_LOOKS, "references")),
          Read("scenes.instances", of="derived", name="derived_instances"), *STYLE_AND_RULES),
         ("scenes.instances.image",), InstanceImagesOut, _instance_images, _apply_instance_images,
         doc="Images of the scene's assets in their state, derived from the earlier instance or the master."),
    Step("stage_shot", "scenes", "image", "scene",
         (Read("scenes.outline"), Read("assets", of="scene", fields=(*ASSET_LOOKS, "references")),
          *STYLE_AND_RULES, Read("inputs.aspect")),
         ("scenes.stage",), StageOut, _stage, _apply_stage,
         doc="The establishing view of the scene's location with its props."),
]
