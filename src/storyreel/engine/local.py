"""The local engine: asyncio, one process, every ready node at once.

Each pass over the plan (in topological order) finds the nodes whose inputs are done: a node whose cache key
already has a finished job is reused without running; the others start at once, limited only by their provider's
concurrency. When any node finishes, its output is applied to the Film and committed with its job as a new
version, and the plan is looked at again. Killing the process loses nothing: finished nodes are committed, jobs
left running are found dead on the next run and run again (a remote prediction they started is resumed, not
paid for twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from pathlib import Path
from typing import Any

from storyreel.engine.core import (
    JobCall,
    Outcome,
    commit_node,
    commit_reuse,
    execute_node,
    fingerprint_fn,
    job_request,
    load_head,
    make_router,
    stage_index,
)
from storyreel.engine.events import Events, Progress
from storyreel.errors import BudgetExceeded, RunFailed, StoryreelError
from storyreel.plan.graph import Plan
from storyreel.steps import STAGES, STEPS
from storyreel.store.db import Store, owner_id

log = logging.getLogger("storyreel.engine")

HEARTBEAT_SECONDS = 2.0


class LocalEngine:
    def __init__(self, store: Store, *, events: Events | None = None, config_path: Path | None = None,
                 adapters: dict[str, Any] | None = None):
        self.store = store
        self.events = events or Events()
        self.config_path = config_path
        self.adapters = adapters

    async def run(self, project: str, *, until: str | None = None) -> dict:
        """Run the project until every node (of the stages up to ``until``) is done. Returns a summary."""
        store = self.store
        owner = owner_id()
        store.claim_run(project, owner)
        router = None
        tasks: dict[asyncio.Task, tuple] = {}
        try:
            store.abandon_dead_jobs(project)
            router = make_router(store, project, self.config_path, self.adapters)
            return await self._loop(project, owner, router, until, tasks)
        finally:
            for t in tasks:
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
                for _, (node, key, job_id, call) in tasks.items():
                    store.update_job(job_id, status="failed", error="stopped", finished=time.time())
            if router is not None:
                await router.aclose()
            store.release_run(project, owner)

    async def _loop(self, project: str, owner: str, router, until: str | None,
                    tasks: dict[asyncio.Task, tuple]) -> dict:
        store = self.store
        project_dir = store.data_dir / project
        _, film, applied = load_head(store, project)
        locked = set(store.project(project).locks)
        fp = fingerprint_fn(router)
        limit = stage_index(until) if until else len(STAGES)
        failed: dict[str, str] = {}
        errors: dict[str, str] = {}
        ran, reused = [], []
        stop_reason: str | None = None
        last_beat = time.monotonic()
        budget_stop: BudgetExceeded | None = None

        while True:
            plan = Plan(film, STEPS)
            running = {n.id for n, *_ in tasks.values()}
            states = plan.states(applied, fp, locked=locked, running=running, failed=failed)
            progressed = False
            if stop_reason is None and budget_stop is None:
                for node in plan.nodes:
                    st = states[node.id]
                    if st.key is None or st.state not in ("ready", "stale"):
                        continue
                    if stage_index(node.step.stage) > limit or node.step.stage in locked:
                        continue
                    cached = store.cached_output(project, node.step.name, st.key)
                    if cached is not None:
                        commit_reuse(store, project, film, applied, node, st.key, cached)
                        reused.append(node.id)
                        progressed = True
                        break  # the Film changed: look at the plan again
                    task, info = self._start(project, owner, node, st.key, film, router, project_dir)
                    tasks[task] = info
            self._publish(project, plan, states, "progress")
            if progressed:
                continue
            if not tasks:
                break
            done, _ = await asyncio.wait(list(tasks), timeout=HEARTBEAT_SECONDS,
                                         return_when=asyncio.FIRST_COMPLETED)
            if time.monotonic() - last_beat >= HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                if store.heartbeat(project, owner) and stop_reason is None:
                    stop_reason = "stopped on request"
                    for t in tasks:
                        t.cancel()
            for t in done:
                node, key, job_id, call = tasks.pop(t)
                outcome: Outcome = t.result()
                if outcome.error is None:
                    request = job_request(outcome.prompts, call, router, node)
                    commit_node(store, project, film, applied, node, key, job_id, outcome.output, request,
                                call.cost, len(call.attempts))
                    ran.append(node.id)
                    self.events.publish(Progress(project, 0, 0, event="node-done", node=node.id))
                else:
                    failed[node.id] = key
                    errors[node.id] = outcome.error
                    store.update_job(job_id, status="failed", error=outcome.error, finished=time.time(),
                                     request=job_request(outcome.prompts, call, router, node), cost=call.cost,
                                     attempts=len(call.attempts))
                    if isinstance(outcome.exception, BudgetExceeded):
                        budget_stop = outcome.exception
                    self.events.publish(Progress(project, 0, 0, event="node-failed", node=node.id,
                                                 message=outcome.error))
        plan = Plan(film, STEPS)
        states = plan.states(applied, fp, locked=locked, failed=failed)
        summary = {"project": project, "ran": ran, "reused": reused, "failed": errors}
        if budget_stop is not None:
            self._publish(project, plan, states, "failed", str(budget_stop))
            raise budget_stop
        if stop_reason:
            self._publish(project, plan, states, "stopped", stop_reason)
            raise RunFailed("run", stop_reason)
        if errors:
            first = next(iter(errors))
            self._publish(project, plan, states, "failed", errors[first])
            raise RunFailed(first, errors[first])
        self._publish(project, plan, states, "finished")
        return summary

    def _start(self, project: str, owner: str, node, key: str, film, router,
               project_dir: Path) -> tuple[asyncio.Task, tuple]:
        state = self.store.interrupted_state(project, node.id, key)
        with self.store.tx() as conn:
            job_id = self.store.start_job(conn, project, node.id, node.step.name, node.item, key, owner, state)
        call = JobCall(self.store, job_id, state)

        async def work() -> Outcome:
            try:
                output, prompts = await execute_node(node, key, film, router, call, project_dir)
                return Outcome(node, key, job_id, output=output, call=call, prompts=prompts)
            except asyncio.CancelledError:
                raise
            except StoryreelError as e:
                return Outcome(node, key, job_id, error=str(e), exception=e, call=call)
            except Exception as e:  # a step's bug or a provider's garbage: the node fails, the run goes on
                log.exception("node %s failed", node.id)
                return Outcome(node, key, job_id, error=f"{type(e).__name__}: {e}", exception=e, call=call)

        task = asyncio.get_running_loop().create_task(work(), name=node.id)
        return task, (node, key, job_id, call)

    def _publish(self, project: str, plan: Plan, states: dict, event: str, message: str = "") -> None:
        stages: dict[str, dict[str, int]] = {}
        done = 0
        running = []
        for n in plan.nodes:
            s = states[n.id].state
            d = stages.setdefault(n.step.stage, {"done": 0, "total": 0})
            d["total"] += 1
            if s in ("done", "reused", "locked"):
                d["done"] += 1
                done += 1
            elif s == "running":
                running.append(n.id)
        self.events.publish(Progress(project, done, len(plan.nodes), running=running, stages=stages,
                                     event=event, message=message))


def run_sync(store: Store, project: str, *, until: str | None = None, events: Events | None = None,
             config_path: Path | None = None, adapters: dict[str, Any] | None = None) -> dict:
    engine = LocalEngine(store, events=events, config_path=config_path, adapters=adapters)
    try:
        return asyncio.run(engine.run(project, until=until))
    finally:
        with contextlib.suppress(Exception):
            from storyreel.providers.local.provider import shutdown_pool

            shutdown_pool()
