"""Asset steps: extraction (once; creates characters, locations, props) and reference sheets (per asset).

Extraction never regenerates an asset that still stands: after a script edit it asks only about new names, adds
them, and flags the ones no longer in the script as removed (kept, so nothing is lost).
"""

from __future__ import annotations

import re
from datetime import datetime

from storyreel.film import dto
from storyreel.film.models import VIEWS_BY_KIND, Asset, AssetImage, Film
from storyreel.steps.base import Read, Step
from storyreel.steps.context import StepContext, rules_block
from storyreel.steps.prompts import assets as assets_prompt

AssetOut = dto.strict(Asset, exclude={"id", "dropped", "removed", "references", "history", "guidance"},
                      name="AssetOut")
AssetsOut = dto.make("AssetsOut", "The script breakdown.",
                     assets=(list[AssetOut], "Every character, location and prop asked about, described."))
SheetOut = dto.make("SheetOut", "Reference images of one asset.",
                    references=(list[AssetImage], "The reference image of each view."))

PREFIX = {"character": "char", "location": "loc", "prop": "prop"}


def asset_id(kind: str, name: str, taken: set[str]) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "asset"
    base = f"{PREFIX[kind]}-{slug}"
    aid, n = base, 2
    while aid in taken:
        aid, n = f"{base}-{n}", n + 1
    return aid


def wanted(film: Film) -> list[tuple[str, str]]:
    """(kind, name) of every asset the scenes name, in order of first appearance."""
    out: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for s in film.scenes or []:
        names = [("location", s.outline.location)] + [("character", c) for c in s.outline.characters]
        names += [("prop", p) for p in s.outline.props]
        for kind, name in names:
            name = (name or "").strip()
            if name and (kind, name.lower()) not in seen:
                seen.add((kind, name.lower()))
                out.append((kind, name))
    return out


async def _extract(ctx: StepContext) -> dict:
    film = ctx.film
    names = wanted(film)
    have = {(a.kind, a.name.lower()) for a in film.assets or [] if not a.removed}
    new = [(k, n) for k, n in names if (k, n.lower()) not in have]
    described: list[dict] = []
    if new:
        context = dict(ctx.context)
        context["describe_these"] = [{"kind": k, "name": n} for k, n in new]
        answer = await ctx.ask(context=context)
        by_key = {(a.kind, a.name.lower()): a for a in answer.assets}
        for k, n in new:
            got = by_key.get((k, n.lower()))
            described.append({"kind": k, "name": n, "description": got.description if got else ""})
    return {"names": [{"kind": k, "name": n} for k, n in names], "new": described}


def _apply_extract(film: Film, item, out: dict) -> None:
    assets = list(film.assets or [])
    taken = {a.id for a in assets}
    present = {(n["kind"], n["name"].lower()) for n in out["names"]}
    for a in assets:
        a.removed = (a.kind, a.name.lower()) not in present
    index = {(a.kind, a.name.lower()): a for a in assets}
    for d in out["new"]:
        key = (d["kind"], d["name"].lower())
        if key in index:
            index[key].removed = False
            if not index[key].description:
                index[key].description = d["description"]
            continue
        a = Asset(id=asset_id(d["kind"], d["name"], taken), kind=d["kind"], name=d["name"],
                  description=d["description"])
        taken.add(a.id)
        assets.append(a)
        index[key] = a
    film.assets = assets


def sheet_prompt(asset: dict, view: str, style: str, rules: list[str]) -> str:
    what = {"front": "front view, full face", "side": "side view, profile", "full-body": "full body, head to toe",
            "establishing": "establishing plate, wide, no people", "object": "object card, centred, plain"}[view]
    parts = [f"Reference sheet of {asset['kind']} '{asset['name']}': {asset['description']}",
             f"{what}, neutral background"]
    if asset.get("guidance"):
        parts.append(f"Guidance: {asset['guidance']}")
    if style:
        parts.append(f"Style: {style}")
    if rules:
        parts.append(rules_block(rules))
    return ". ".join(parts[:-1]) + ("\n" + parts[-1] if rules else f". {parts[-1]}")


async def _sheet(ctx: StepContext) -> dict:
    asset = ctx.context["asset"]
    style = ctx.context["style"]["description"]
    rules = ctx.context["story_rules"]
    refs = []
    for view in VIEWS_BY_KIND[asset["kind"]]:
        prompt = sheet_prompt(asset, view, style, rules)
        spec = {"sheet": True, "kind": asset["kind"], "view": view, "name": asset["name"],
                "description": asset["description"], "state": ""}
        size = (1024, 1024) if asset["kind"] != "location" else ctx.size
        path = await ctx.image(prompt=prompt, spec=spec, kind=f"{asset['kind']}-{view}", name=asset["name"],
                               size=size)
        refs.append({"view": view, "path": path, "prompt": prompt, "created": datetime.now().isoformat(
            timespec="seconds"), "note": asset.get("guidance", ""), "uploaded": False})
    return {"references": refs}


def _apply_sheet(film: Film, item: str, out: dict) -> None:
    asset = film.asset(item)
    images = [AssetImage(**r) for r in out["references"]]
    views = {i.view for i in images}
    asset.references = [r for r in asset.references if r.view not in views] + images
    asset.history = asset.history + [i for i in images if i.path not in {h.path for h in asset.history}]


STEPS = [
    Step("assets", "assets", "text", "once",
         (Read("scenes.outline", of="all", fields=("location", "characters", "props")),
          Read("inputs.characters_notes"), Read("inputs.story_rules"), Read("treatment", of="chosen")),
         ("assets.name", "assets.kind", "assets.description", "assets.removed"), AssetsOut, _extract,
         _apply_extract, system=assets_prompt.SYSTEM,
         structural=True, doc="The script breakdown: characters, locations, props."),
    Step("reference_sheet", "assets", "image", "asset",
         (Read("assets", name="asset", fields=("name", "kind", "description", "guidance")),
          Read("inputs.style", fields=("description",)), Read("inputs.story_rules")),
         ("assets.references", "assets.history"), SheetOut, _sheet, _apply_sheet,
         doc="Reference images of an asset by view.",
         when=lambda film, item: not film.asset(item).dropped),
]
