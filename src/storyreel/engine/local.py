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
    commit_nodes,
    commit_reuse,
    execute_node,
    fingerprint_fn,
    job_request,
    load_head,
    make_router,
    progress,
    stage_index,
)
from storyreel.engine.events import Events, Progress
from storyreel.errors import BudgetExceeded, RunFailed, StoryreelError
from storyreel.plan.graph import KeyCache, Plan
from storyreel.steps import STAGES, STEPS
from storyreel.store.db import Store, owner_id

log = logging.getLogger("storyreel.engine")

HEARTBEAT_SECONDS = 2.0


class LocalEngine:
    def __init__(self, store: Store, *, events: Events | None = None, config_path: Path | None = None,
                 adapters: dict[str, Any] | None = None, barriers: bool = False):
        """``barriers`` makes each step wait for the whole previous step (a plain sequential pipeline):
        only for measuring what the graph saves (bench/scheduler.py)."""
        self.barriers = barriers
        self.bookkeeping = 0.0  # seconds spent in the engine's own work (plan, keys, jobs, versions)
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
                for _node, _key, job_id, _call in tasks.values():
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
        order = {st.name: i for i, st in enumerate(STEPS)}
        keys = KeyCache()
        failed: dict[str, str] = {}
        errors: dict[str, str] = {}
        ran, reused = [], []
        stop_reason: str | None = None
        last_beat = time.monotonic()
        budget_stop: BudgetExceeded | None = None
        plan: Plan | None = None

        clock = time.perf_counter
        while True:
            t0 = clock()
            if plan is None:  # rebuilt only when an output may have changed the nodes or their dependencies
                plan = Plan(film, STEPS)
            running = {info[0].id for info in tasks.values()}
            states = plan.states(applied, fp, locked=locked, running=running, failed=failed, keys=keys)
            if stop_reason is None and budget_stop is None:
                open_step = min((order[n.step.name] for n in plan.nodes
                                 if states[n.id].state not in ("done", "reused", "locked")), default=len(STEPS))
                ready = [n for n in plan.nodes if states[n.id].key is not None
                         and states[n.id].state in ("ready", "stale")
                         and stage_index(n.step.stage) <= limit and n.step.stage not in locked
                         and not (self.barriers and order[n.step.name] > open_step)]
                cached = store.cached_outputs(project, [(n.step.name, states[n.id].key) for n in ready])
                hit = next((n for n in ready if (n.step.name, states[n.id].key) in cached), None)
                if hit is not None:
                    key = states[hit.id].key
                    commit_reuse(store, project, film, applied, hit, key, cached[(hit.step.name, key)])
                    keys.touch(hit.id)
                    reused.append(hit.id)
                    if hit.step.structural:
                        plan = None
                    self.bookkeeping += clock() - t0
                    continue  # the Film changed: look at the plan again
                for task, info in self._start_many(project, owner, ready, states, film, router, project_dir):
                    tasks[task] = info
            self._publish(project, plan, states, "progress")
            self.bookkeeping += clock() - t0
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
            t0 = clock()
            finished = []
            for t in done:
                node, key, job_id, call = tasks.pop(t)
                outcome: Outcome = t.result()
                if outcome.error is None:
                    finished.append((node, key, job_id, outcome.output, job_request(outcome.prompts, call, router,
                                                                                     node), call.cost,
                                     len(call.attempts)))
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
            if finished:
                commit_nodes(store, project, film, applied, finished)
                for node, *_ in finished:
                    keys.touch(node.id)
                    ran.append(node.id)
                    if node.step.structural:
                        plan = None
            self.bookkeeping += clock() - t0
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

    def _start_many(self, project: str, owner: str, nodes: list, states: dict, film, router,
                    project_dir: Path) -> list[tuple[asyncio.Task, tuple]]:
        """Record the nodes' jobs as running (one transaction), then start them."""
        if not nodes:
            return []
        store = self.store
        resumable = store.interrupted_states(project, [(n.id, states[n.id].key) for n in nodes])
        with store.tx() as conn:
            ids = [store.start_job(conn, project, n.id, n.step.name, n.item, states[n.id].key, owner,
                                   resumable.get(n.id)) for n in nodes]
        return [self._task(n, states[n.id].key, job_id, JobCall(store, job_id, resumable.get(n.id)), film, router,
                           project_dir) for n, job_id in zip(nodes, ids, strict=True)]

    def _task(self, node, key: str, job_id: int, call: JobCall, film, router,
              project_dir: Path) -> tuple[asyncio.Task, tuple]:
        async def work() -> Outcome:
            try:
                output, prompts = await execute_node(node, key, film, router, call, project_dir)
                return Outcome(node, key, job_id, output=output, call=call, prompts=prompts)
            except asyncio.CancelledError:
                raise
            except StoryreelError as e:
                return Outcome(node, key, job_id, error=str(e), exception=e, call=call, prompts=[])
            except Exception as e:  # a step's bug or a provider's garbage: the node fails, the run goes on
                log.exception("node %s failed", node.id)
                return Outcome(node, key, job_id, error=f"{type(e).__name__}: {e}", exception=e, call=call)

        task = asyncio.get_running_loop().create_task(work(), name=node.id)
        return task, (node, key, job_id, call)

    def _publish(self, project: str, plan: Plan, states: dict, event: str, message: str = "") -> None:
        self.events.publish(progress(project, plan, states, event, message))


def run_sync(store: Store, project: str, *, until: str | None = None, events: Events | None = None,
             config_path: Path | None = None, adapters: dict[str, Any] | None = None) -> dict:
    engine = LocalEngine(store, events=events, config_path=config_path, adapters=adapters)
    try:
        return asyncio.run(engine.run(project, until=until))
    finally:
        with contextlib.suppress(Exception):
            from storyreel.providers.local.provider import shutdown_pool

            shutdown_pool()
