"""What a step is: a small declared unit of work on the Film.

A step names what it reads (Film paths, with which items), what it writes, the provider kind it needs, a version,
and whether it runs once or per scene, asset or shot. From the reads, the DTO factory derives the step's context
model (the user prompt of a text step) and the plan derives the node's dependencies and cache key; from the
writes, the plan knows which node produces which field. ``run`` computes the output, ``apply`` patches the Film.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from storyreel.film import dto
from storyreel.film.models import Asset, Film, LoreOption, Scene, Shot, TreatmentOption

if TYPE_CHECKING:
    from storyreel.steps.context import StepContext

Per = Literal["once", "scene", "asset", "shot"]
Selector = Literal["self", "all", "prev", "earlier", "chain", "chosen", "scene", "derived"]

STAGES: tuple[str, ...] = ("story", "beats", "script", "assets", "scenes", "shots", "keyframes", "clips",
                           "sound", "cut")


@dataclass(frozen=True)
class Read:
    """A Film path a step reads.

    ``path`` is ``inputs.<field>``, ``lore``, ``treatment``, ``beats``, ``scenes.<field>``, ``assets``,
    ``shots`` or ``clips``; ``fields`` narrows an item to some of its fields (so reading an asset's description
    does not depend on its images). ``of`` picks the items: the node's own (``self``; a shot's scene for scene
    paths), ``all``, the previous one (``prev``), those in the node's scene (``scene``), the chosen option
    (``chosen``), or the instances the node's own instances derive from (``derived``).
    """

    path: str
    of: Selector = "self"
    fields: tuple[str, ...] = ()
    name: str | None = None
    description: str | None = None

    @property
    def key(self) -> str:
        if self.name:
            return self.name
        base = self.path.split(".")[-1]
        return {"prev": f"previous_{base}", "all": f"all_{base}", "scene": f"scene_{base}"}.get(self.of, base)

    def field_paths(self) -> list[str]:
        return [f"{self.path}.{f}" for f in self.fields] if self.fields else [self.path]


Run = Callable[["StepContext"], Awaitable[dict[str, Any]]]
Apply = Callable[[Film, "str | None", dict[str, Any]], None]


@dataclass(frozen=True)
class Step:
    name: str
    stage: str
    kind: Literal["text", "image", "video", "speech", "music", "none"]
    per: Per
    reads: tuple[Read, ...]
    writes: tuple[str, ...]
    output: type[BaseModel]
    run: Run
    apply: Apply
    version: int = 1
    system: str = ""
    doc: str = ""
    when: Callable[[Film, str | None], bool] | None = None  # the node exists only when this holds
    structural: bool = False  # its output can change the plan's nodes or dependencies (items, cast, chains)
    context_model: type[BaseModel] | None = field(default=None, compare=False)

    def node_id(self, item: str | None) -> str:
        return self.name if item is None else f"{self.name}:{item}"


# --- reading the Film ---------------------------------------------------------------------------------------


def domain_of(path: str) -> str:
    head = path.split(".")[0]
    return {"scenes": "scene", "assets": "asset", "shots": "shot", "clips": "shot"}.get(head, "once")


def scene_of(film: Film, per: str, item: str | None) -> Scene | None:
    if item is None:
        return None
    if per == "scene":
        return film.scene(item)
    if per == "shot":
        return film.scene(film.shot(item).scene_id)
    return None


def assets_in_scene(film: Film, scene: Scene) -> list[Asset]:
    """Assets present in a scene: its location, characters and props, as written in its outline and script."""
    memo = _MEMO.get(id(film))
    if memo is not None and scene.id in memo:
        return memo[scene.id]
    found = _assets_in_scene(film, scene)
    if memo is not None:
        memo[scene.id] = found
    return found


_MEMO: dict[int, dict[str, list[Asset]]] = {}


class frozen_film:  # noqa: N801 - a context manager used like a function
    """While the Film does not change (building a plan), remember which assets each scene has."""

    def __init__(self, film: Film):
        self.key = id(film)

    def __enter__(self):
        _MEMO[self.key] = {}

    def __exit__(self, *exc):
        _MEMO.pop(self.key, None)


def _assets_in_scene(film: Film, scene: Scene) -> list[Asset]:
    names = [("location", scene.outline.location)] + [("character", c) for c in scene.outline.characters]
    names += [("prop", p) for p in scene.outline.props]
    if scene.script:
        names += [("character", d.character) for d in scene.script.dialogue]
    seen: list[Asset] = []
    for kind, n in names:
        a = film.asset_named(n, kind) if n else None
        if a is not None and a not in seen:
            seen.append(a)
    if scene.instances:
        for inst in scene.instances:
            try:
                a = film.asset(inst.asset_id)
            except KeyError:
                continue
            if a not in seen:
                seen.append(a)
    return seen


def items_for(film: Film, read: Read, per: str, item: str | None) -> list[str | None]:
    """Ids of the items of ``read.path``'s domain the node (``per``, ``item``) reads."""
    dom = domain_of(read.path)
    if dom == "once":
        return [None]
    scene = scene_of(film, per, item)
    if dom == "scene":
        ids = [s.id for s in film.scenes or []]
        if read.of == "all":
            return ids
        if scene is None:
            raise ValueError(f"a {per} node cannot read {read.path} of {read.of}")
        if read.of == "self":
            return [scene.id]
        if read.of == "prev":
            i = ids.index(scene.id)
            return [ids[i - 1]] if i > 0 else []
        if read.of == "earlier":
            return ids[: ids.index(scene.id)]
        if read.of == "derived":
            earlier = ids[: ids.index(scene.id)]
            return sorted({i.derives_from for i in scene.instances or [] if i.derives_from in earlier})
    if dom == "asset":
        if read.of == "all":
            return [a.id for a in film.assets or []]
        if read.of == "self" and per == "asset":
            return [item]
        if read.of == "scene" and scene is not None:
            return [a.id for a in assets_in_scene(film, scene)]
    if dom == "shot":
        shots = film.shots or []
        if read.of == "all":
            return [s.id for s in shots]
        if read.of == "self" and per == "shot":
            return [item]
        if read.of == "scene" and scene is not None:
            return [s.id for s in shots if s.scene_id == scene.id]
        if read.of in ("prev", "chain") and per == "shot":
            ids = [s.id for s in shots]
            i = ids.index(item)
            if read.of == "chain" and shots[i].clip_strategy != "continue":
                return []
            return [ids[i - 1]] if i > 0 else []
    raise ValueError(f"a {per} node cannot read {read.path} of {read.of}")


def _pick(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _dump(value: Any, fields: tuple[str, ...]) -> Any:
    if isinstance(value, BaseModel):
        data = value.model_dump(mode="json")
        return {k.replace(".", "_"): _pick(data, k) for k in fields} if fields else data
    if isinstance(value, list):
        return [_dump(v, fields) for v in value]
    return value


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split(".") if dotted else []:
        obj = getattr(obj, part) if obj is not None else None
    return obj


def read_value(film: Film, read: Read, per: str, item: str | None) -> Any:
    """The JSON value of one read for one node: the exact input the node's cache key is made of."""
    head, _, rest = read.path.partition(".")
    if head == "inputs":
        return _dump(_get(film.inputs, rest), read.fields)
    if head in ("lore", "treatment"):
        choice = film.lore if head == "lore" else film.treatment
        if read.of == "chosen":
            opt = film.chosen_lore() if head == "lore" else film.chosen_treatment()
            return _dump(opt, read.fields)
        return _dump(choice.options, read.fields)
    if head == "beats":
        return _dump(film.beats or [], read.fields)
    if head in ("sound", "cut"):
        return _dump(getattr(film, head), read.fields)
    ids = items_for(film, read, per, item)
    if head == "scenes":
        if read.of == "derived":
            scene = scene_of(film, per, item)
            out = []
            for inst in scene.instances or [] if scene else []:
                if inst.derives_from != "master" and any(x.id == inst.derives_from for x in film.scenes or []):
                    prior = next((i for i in film.scene(inst.derives_from).instances or []
                                  if i.asset_id == inst.asset_id), None)
                    out.append({"asset_id": inst.asset_id, "scene": inst.derives_from,
                                "image": prior.image if prior else None})
            return out
        vals = [_dump(_get(film.scene(i), rest), read.fields) for i in ids]
    elif head == "assets":
        vals = [_dump(film.asset(i), read.fields) for i in ids]
    elif head == "shots":
        vals = [_dump(film.shot(i), read.fields) for i in ids]
    elif head == "clips":
        by_shot = {c.shot_id: c for c in film.clips or []}
        vals = [_dump(by_shot.get(i), read.fields) for i in ids]
    else:
        raise ValueError(f"unknown read path {read.path}")
    if read.of in ("self", "prev", "chain"):
        return vals[0] if vals else None
    return vals


def film_type(read: Read) -> tuple[Any, str]:
    """(type, description) of a read, from the Film's own fields: the context DTO's vocabulary."""
    head, _, rest = read.path.partition(".")
    desc = read.description
    if head == "inputs":
        model, name = _walk(Film.model_fields["inputs"].annotation, rest)
        info = model.model_fields[name]
        tp = info.annotation
    elif head in ("lore", "treatment"):
        tp = LoreOption if head == "lore" else TreatmentOption
        info = Film.model_fields[head]
        if read.of != "chosen":
            tp = list[tp]
    elif head in ("beats", "sound", "cut"):
        info = Film.model_fields[head]
        tp = dto._strip_none(info.annotation)
    elif head == "scenes":
        info = Scene.model_fields[rest.split(".")[0]]
        model, name = _walk(Scene, rest)
        info = model.model_fields[name]
        tp = info.annotation
        if read.of == "derived":
            tp = list[dict[str, Any]]
    else:
        model = {"assets": Asset, "shots": Shot, "clips": __import__("storyreel.film.models",
                                                                       fromlist=["Clip"]).Clip}[head]
        info = Film.model_fields[head]
        tp = model
    if read.fields and isinstance(tp, type) and issubclass(tp, BaseModel):
        tp = _subset(tp, read.fields)
    if read.of in ("all", "scene", "earlier") and head not in ("lore", "treatment", "beats"):
        tp = list[tp]
    return tp, desc or info.description or read.path


def _subset(model: type[BaseModel], fields: tuple[str, ...]) -> type[BaseModel]:
    """A model of some of ``model``'s fields; a dotted field keeps that path of a nested model."""
    spec: dict[str, Any] = {}
    for f in fields:
        sub, name = _walk(model, f)
        info = sub.model_fields[name]
        spec[f.replace(".", "_")] = (info.annotation, info.description or f)
    return dto.make(f"{model.__name__}_{'_'.join(f.replace('.', '_') for f in fields)}", model.__doc__ or "",
                    **spec)


def _walk(model: type[BaseModel], dotted: str) -> tuple[type[BaseModel], str]:
    parts = dotted.split(".")
    for p in parts[:-1]:
        ann = dto._strip_none(model.model_fields[p].annotation)
        model = ann
    return model, parts[-1]


def context_model(step: Step) -> type[BaseModel]:
    fields = {r.key: film_type(r) for r in step.reads}
    return dto.make(f"{step.name.title().replace('_', '')}Context", step.doc or step.name, **fields)


def context_of(step: Step, film: Film, item: str | None) -> dict[str, Any]:
    return {r.key: read_value(film, r, step.per, item) for r in step.reads}
