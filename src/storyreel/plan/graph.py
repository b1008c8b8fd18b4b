"""The plan: the steps expanded into item-level nodes, their dependencies, cache keys and states.

A node is a step applied to one item (a scene, an asset, a shot) or to the whole film. Its dependencies come from
its reads: the nodes that write what it reads, for the items it reads, plus the nodes that create those items.
There are no stage barriers: a node is ready the moment its own inputs are done.

A node is *done* when the output applied to the Film was made from exactly the inputs the node reads now (its
cache key is the key it was applied with). Editing a field changes the keys of exactly the nodes that read it,
and — once those re-run and change what they write — of the nodes that read those, and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from storyreel.film.models import Film
from storyreel.plan.keys import cache_key
from storyreel.steps.base import Step, context_of, domain_of, frozen_film, items_for, scene_of

CREATES = {"scene": "outline", "asset": "assets", "shot": "shot_list"}


@dataclass
class Node:
    id: str
    step: Step
    item: str | None
    order: int
    deps: list[str] = field(default_factory=list)


@dataclass
class NodeState:
    node: Node
    state: str  # done | reused | stale | pending | ready | running | failed | locked
    key: str | None = None
    applied_key: str | None = None


class Plan:
    """Nodes in a topological order (steps in declaration order, items in film order)."""

    def __init__(self, film: Film, steps: Sequence[Step]):
        self.film = film
        self.steps = list(steps)
        self.by_name = {s.name: s for s in self.steps}
        self.writers = _writers(self.steps)
        self.nodes: list[Node] = []
        for step in self.steps:
            for item in _items(film, step):
                if step.when is None or step.when(film, item):
                    self.nodes.append(Node(step.node_id(item), step, item, len(self.nodes)))
        self.index = {n.id: n for n in self.nodes}
        with frozen_film(film):
            for n in self.nodes:
                n.deps = self._deps(n)

    def _deps(self, node: Node) -> list[str]:
        step, item = node.step, node.item
        out: list[str] = []
        scene = scene_of(self.film, step.per, item)

        def add(node_id: str) -> None:
            if node_id in self.index and node_id != node.id and node_id not in out:
                out.append(node_id)

        for read in step.reads:
            dom = domain_of(read.path)
            # the nodes that create the items this read looks at
            if dom in ("scene", "asset"):
                add(CREATES[dom])
            elif dom == "shot":
                add(CREATES["scene"])
                if read.of == "all":
                    for s in self.film.scenes or []:
                        add(f"{CREATES['shot']}:{s.id}")
                elif scene is not None:
                    add(f"{CREATES['shot']}:{scene.id}")
            ids = items_for(self.film, read, step.per, item)
            for fp in read.field_paths():
                for writer in self.writers.get_matching(fp):
                    if writer.per == "once":
                        add(writer.name)
                        continue
                    for i in ids:
                        if i is None:
                            continue
                        if writer.per == dom:
                            add(writer.node_id(i))
                        elif writer.per == "scene" and dom == "shot":
                            add(writer.node_id(self.film.shot(i).scene_id))
        return out

    def key(self, node: Node, fingerprint: Callable[[Step], Any]) -> str:
        return cache_key(node.step, context_of(node.step, self.film, node.item), fingerprint(node.step))

    def states(self, applied: dict[str, dict], fingerprint: Callable[[Step], Any], *, locked: set[str] = frozenset(),
               running: set[str] = frozenset(), failed: dict[str, str] | None = None,
               keys: KeyCache | None = None) -> dict[str, NodeState]:
        """One pass in topological order: every node's state given what is applied and what is running.

        ``keys`` (an engine's KeyCache) avoids recomputing the key of a node none of whose dependencies changed.
        """
        failed = failed or {}
        out: dict[str, NodeState] = {}
        for n in self.nodes:
            app = applied.get(n.id)
            app_key = app.get("key") if app else None
            if n.step.stage in locked and app:
                out[n.id] = NodeState(n, "locked", app_key, app_key)
                continue
            blocked = any(out[d].state not in ("done", "reused", "locked") for d in n.deps)
            if n.id in running:
                out[n.id] = NodeState(n, "running", None, app_key)
                continue
            if blocked:
                out[n.id] = NodeState(n, "stale" if app else "pending", None, app_key)
                continue
            key = keys.key(self, n, fingerprint) if keys is not None else self.key(n, fingerprint)
            if app_key == key:
                out[n.id] = NodeState(n, "reused" if app.get("reused") else "done", key, app_key)
            elif failed.get(n.id) == key:
                out[n.id] = NodeState(n, "failed", key, app_key)
            else:
                out[n.id] = NodeState(n, "stale" if app else "ready", key, app_key)
        return out


def _items(film: Film, step: Step) -> list[str | None]:
    if step.per == "once":
        return [None]
    if step.per == "scene":
        return [s.id for s in film.scenes or []]
    if step.per == "asset":
        return [a.id for a in film.assets or []]
    return [s.id for s in film.shots or []]


class _Writers:
    def __init__(self, pairs: list[tuple[str, Step]]):
        self.pairs = pairs
        self._cache: dict[str, list[Step]] = {}

    def get_matching(self, path: str) -> list[Step]:
        if path not in self._cache:
            found: list[Step] = []
            for w, step in self.pairs:
                if (w == path or path.startswith(w + ".") or w.startswith(path + ".")) and step not in found:
                    found.append(step)
            self._cache[path] = found
        return self._cache[path]

    def of(self, path: str) -> list[Step]:
        return self.get_matching(path)


def _writers(steps: Sequence[Step]) -> _Writers:
    return _Writers([(w, s) for s in steps for w in s.writes])


class KeyCache:
    """Cache keys that stay valid until one of the node's dependencies is applied again.

    A node's key is a function of what it reads; within a run, what it reads changes only when a node it depends
    on applies an output (inputs and choices do not change during a run). ``touch(node)`` records such an apply.
    """

    def __init__(self) -> None:
        self.version: dict[str, int] = {}
        self._keys: dict[str, tuple[tuple, str]] = {}

    def touch(self, node_id: str) -> None:
        self.version[node_id] = self.version.get(node_id, 0) + 1

    def key(self, plan: Plan, node: Node, fingerprint: Callable[[Step], Any]) -> str:
        stamp = tuple((d, self.version.get(d, 0)) for d in node.deps)
        hit = self._keys.get(node.id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        key = plan.key(node, fingerprint)
        self._keys[node.id] = (stamp, key)
        return key
