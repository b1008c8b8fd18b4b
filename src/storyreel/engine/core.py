"""What every engine shares: loading a project's Film, building the router, running one node, committing it.

The local engine (asyncio, one process) and the Celery engine (many workers) both run nodes through
:func:`execute_node` and build progress with :func:`progress`, so a node means the same thing on both.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storyreel.config import load_config
from storyreel.engine.events import Progress
from storyreel.film import versions
from storyreel.film.models import Film
from storyreel.plan.graph import Node, Plan
from storyreel.providers.base import Usage
from storyreel.providers.limits import Budget
from storyreel.providers.router import Router
from storyreel.steps import STAGES, STEPS
from storyreel.steps.base import context_of
from storyreel.steps.context import StepContext
from storyreel.store.db import Store


def make_router(store: Store, project: str | None, config_path: Path | None = None,
                adapters: dict[str, Any] | None = None) -> Router:
    config = load_config(store.data_dir, config_path)
    spent = store.spent(project) if project else 0.0
    return Router(config, steps={s.name: s.kind for s in STEPS}, budget=Budget(config.budget, spent),
                  adapters=adapters)


def fingerprint_fn(router: Router):
    cache: dict[str, Any] = {}

    def fp(step) -> Any:
        if step.name not in cache:
            cache[step.name] = {} if step.kind == "none" else router.fingerprint(step.name, step.kind)
        return cache[step.name]

    return fp


def stage_index(stage: str) -> int:
    return STAGES.index(stage)


class JobCall:
    """The Call handed to providers for one job: attempts and provider state go to the job row."""

    def __init__(self, store: Store, job_id: int, state: dict | None = None):
        self.store = store
        self.job_id = job_id
        self.state: dict[str, Any] = dict(state or {})
        self.attempts: list[dict] = []
        self.cost = 0.0

    def save_state(self) -> None:
        self.store.update_job(self.job_id, state=self.state)

    def attempt(self, *, model: str, ok: bool, error: str = "", usage: Usage | None = None,
                request: dict | None = None) -> None:
        cost = usage.cost if usage else 0.0
        self.cost += cost
        self.attempts.append({"model": model, "ok": ok, "error": error, "cost": cost,
                              "input_tokens": usage.input_tokens if usage else 0,
                              "output_tokens": usage.output_tokens if usage else 0,
                              "request": request, "at": time.time()})


@dataclass
class Outcome:
    node: Node
    key: str
    job_id: int
    output: dict | None = None
    error: str | None = None
    exception: BaseException | None = None
    call: JobCall | None = None
    prompts: list[dict] = field(default_factory=list)


async def execute_node(node: Node, key: str, film: Film, router: Router, call: JobCall,
                       project_dir: Path) -> tuple[dict, list[dict]]:
    """Run one node's step and return (output, prompts sent). Raises what the step raises."""
    ctx = StepContext(step=node.step, item=node.item, film=film, context=context_of(node.step, film, node.item),
                      router=router, call=call, project_dir=project_dir)
    output = await node.step.run(ctx)
    json.dumps(output)  # outputs are JSON: fail here, not at commit, if a step returns something else
    return output, ctx.prompts


def job_request(prompts: list[dict], call: JobCall, router: Router, node: Node) -> dict:
    models = [a["model"] for a in call.attempts] or [
        f"{r.provider}:{r.model}" for r in (router.routes(node.step.name, node.step.kind)
                                            if node.step.kind != "none" else [])][:1]
    return {"prompts": prompts, "attempts": call.attempts, "model": models[-1] if models else "",
            "chain": router.fingerprint(node.step.name, node.step.kind) if node.step.kind != "none" else {}}


def commit_nodes(store: Store, project: str, film: Film, applied: dict, done: list[tuple]) -> int:
    """Apply finished nodes' outputs to the Film and record them: their jobs and one new version, in one transaction.

    ``done`` holds (node, key, job_id, output, request, cost, attempts). Nodes finishing together share a version
    whose note names them all; any version reads back whole.
    """
    for node, key, job_id, output, *_ in done:
        node.step.apply(film, node.item, output)
        applied[node.id] = {"key": key, "job": job_id}
    now = time.time()
    with store.tx() as conn:
        for _node, _key, job_id, output, request, cost, attempts in done:
            store.update_job(job_id, conn, status="done", finished=now, outputs=output, request=request,
                             cost=cost, attempts=attempts, error=None)
        return store.commit_version(conn, project, film.model_dump(mode="json"), applied,
                                    ", ".join(d[0].id for d in done))


def commit_reuse(store: Store, project: str, film: Film, applied: dict, node: Node, key: str, output: dict) -> int:
    node.step.apply(film, node.item, output)
    applied[node.id] = {"key": key, "reused": True}
    with store.tx() as conn:
        store.record_reuse(conn, project, node.id, node.step.name, node.item, key, output)
        return store.commit_version(conn, project, film.model_dump(mode="json"), applied, f"{node.id} (reused)")


def load_head(store: Store, project: str) -> tuple[int, Film, dict]:
    number, data, applied = store.head(project)
    return number, versions.load(data), applied


def progress(project: str, plan: Plan, states: dict, event: str, message: str = "",
             running_now: set[str] | None = None) -> Progress:
    """Done/total, per stage, and the nodes running now (``running_now`` narrows them to confirmed ones)."""
    stages: dict[str, dict[str, int]] = {}
    done, running = 0, []
    for n in plan.nodes:
        s = states[n.id].state
        d = stages.setdefault(n.step.stage, {"done": 0, "total": 0})
        d["total"] += 1
        if s in ("done", "reused", "locked"):
            d["done"] += 1
            done += 1
        elif s == "running" and (running_now is None or n.id in running_now):
            running.append(n.id)
    return Progress(project, done, len(plan.nodes), running=running, stages=stages, event=event, message=message)
