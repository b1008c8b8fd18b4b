"""The Celery engine: the same plan as the local engine, its nodes run by Celery workers on many machines.

Shape. ``run_celery`` (the orchestrator, behind ``storyreel run NAME --engine celery``) claims the project's
run like the local engine, records a fresh run token, dispatches the ready nodes and then only watches: it
polls the store for progress and publishes the same :class:`Progress` events. It never waits on a task's
result, and no task waits on another: a task that commits a node computes, in the same transaction, which
nodes that made ready and dispatches them itself (continuation style; the messages are published before that
transaction commits, see ``dist_store.dispatch_ready``). So a node starts the moment its own inputs are done:
a clip from its own keyframe at once, its continue-from-previous followers the moment it is committed,
independent chains in parallel; clips are applied in shot order whatever order they finish in.

A task carries ``{project, node, key, run}``, never media. Each delivery goes through :func:`run_node`:

claim    in a transaction holding the project row lock: the run must be current; the node's claim row
         (``dist_store``, one per (node, cache key)) must be ``queued``, or ``running`` under a dead worker
         (taken over: its job is marked interrupted and its provider state resumed, so a remote call already
         paid for is not paid again). Anything else (done, reused, failed, running on a live worker) makes the
         delivery a no-op. A finished job with the same key is reused without running. Otherwise a job row
         is started, status ``running``, owner the worker (``Studio.status`` shows it running).
run      the step, as the local engine runs it (``engine.core.execute_node``), while the claim heartbeats
         every two seconds; a stop request or the end of the run cancels it.
commit   in a transaction holding the project row lock: re-read the head Film, check the claim is still
         ours and the node's key unchanged, apply the output, finish the job, write the version, then
         dispatch the nodes now ready. Concurrent commits queue on the lock: none loses another's output.

Redelivery. Messages are acknowledged late: a worker SIGKILLed mid-node never acks, and Redis hands the
message to another worker once the visibility timeout has passed; the claim's owner is dead, so that worker
takes it over. As a second line, the orchestrator sends a node again when its claimant has been dead for
``STORYREEL_REDISPATCH_AFTER`` seconds (default 60): duplicates are harmless, the claim makes them no-ops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select

from storyreel.engine import dist_store as ds
from storyreel.engine.core import JobCall, execute_node, fingerprint_fn, job_request, make_router, progress
from storyreel.engine.events import Events, Progress
from storyreel.errors import BudgetExceeded, NotFound, RunFailed, StoryreelError
from storyreel.film import versions
from storyreel.film.models import Film
from storyreel.plan.graph import Node, Plan
from storyreel.steps import STAGES, STEPS
from storyreel.store.db import Store, owner_id, projects

log = logging.getLogger("storyreel.engine.celery")

HEARTBEAT_SECONDS = 2.0
POLL_SECONDS = 0.3
STALL_SECONDS = 5.0  # ready nodes nobody dispatched for this long are dispatched by the orchestrator
LOOK_SECONDS = 1.0  # the orchestrator recomputes the plan's states at most this often while nodes run
DRAIN_SECONDS = 30.0  # after a stop, how long to wait for running nodes to notice
QUIET_WARNING_SECONDS = 30.0

Send = Callable[[list[dict]], None]


def redispatch_after() -> float:
    return float(os.environ.get("STORYREEL_REDISPATCH_AFTER") or 60.0)


# --- one delivery of a node's task ----


def run_node(store: Store, project: str, node: str, key: str, run: str, *, send: Send,
             adapters: dict[str, Any] | None = None) -> str:
    """Handle one delivery of a node's task; returns what happened: ``ran``, ``reused``, ``failed``,
    ``stopped``, ``superseded`` or ``skipped: <why>`` (a duplicate, or a message of a run that is over)."""
    ds.ensure_tables(store.engine)
    worker = owner_id()
    try:
        the_node = ds.node_of(node)
    except NotFound as e:
        return f"skipped: {e}"
    keys_router = make_router(store, project, None, adapters)
    router = None
    try:
        fp = fingerprint_fn(keys_router)
        claimed, _ = ds.claim(store, project, the_node, key, run, worker, fp, send)
        if isinstance(claimed, str):
            return claimed
        # the router that runs the node reads what the project has spent now, after the claim (whose lock
        # waited for the transaction that dispatched this node to commit its own node's cost)
        router = make_router(store, project, None, adapters)
        result, _ = asyncio.run(_execute(store, project, run, worker, claimed, key, router, fp, send))
        return result
    finally:
        _close(keys_router)
        if router is not None:
            _close(router)


async def _execute(store: Store, project: str, token: str, worker: str, claimed: ds.Claimed, key: str,
                   router, fp, send: Send) -> tuple[str, list[dict]]:
    node = claimed.node
    call = JobCall(store, claimed.job_id, claimed.state)
    project_dir = store.data_dir / project
    work = asyncio.ensure_future(execute_node(node, key, claimed.film, router, call, project_dir))
    stop = ""
    try:
        while not stop:
            done, _ = await asyncio.wait({work}, timeout=HEARTBEAT_SECONDS)
            if done:
                break
            stop = ds.beat(store, project, node.id, key, token, claimed.job_id)
        if stop:
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
    finally:
        await router.aclose()
    if stop:
        _retrying(lambda: ds.record_failure(store, project, worker, node, key, claimed.job_id, "stopped",
                                            "stopped", job_request([], call, router, node), call))
        return "stopped", []
    try:
        output, prompts = work.result()
    except StoryreelError as e:
        return _fail(store, project, worker, node, key, claimed.job_id, str(e), e, router, call)
    except Exception as e:  # a step's bug or a provider's garbage: the node fails, the run goes on
        log.exception("node %s failed", node.id)
        return _fail(store, project, worker, node, key, claimed.job_id, f"{type(e).__name__}: {e}", e, router,
                     call)
    request = job_request(prompts, call, router, node)
    return _retrying(lambda: ds.commit(store, project, token, worker, node, key, claimed.job_id, output,
                                       request, call, fp, send))


def _fail(store: Store, project: str, worker: str, node: Node, key: str, job_id: int, error: str,
          exc: BaseException, router, call: JobCall) -> tuple[str, list[dict]]:
    kind = type(exc).__name__
    _retrying(lambda: ds.record_failure(store, project, worker, node, key, job_id, error, kind,
                                        job_request([], call, router, node), call,
                                        budget=str(exc) if isinstance(exc, BudgetExceeded) else ""))
    return "failed", []


def _retrying(fn: Callable[[], Any], tries: int = 4) -> Any:
    """Run a database transaction again after a transient failure: the node's work is done, keep it."""
    from sqlalchemy.exc import DBAPIError

    for n in range(tries):
        try:
            return fn()
        except DBAPIError as e:
            if n + 1 == tries or not (e.connection_invalidated or "deadlock" in str(e).lower()
                                      or "could not serialize" in str(e).lower()
                                      or "connection" in str(e).lower()):
                raise
            log.warning("database error, trying again: %s", e)
            time.sleep(0.5 * 2 ** n)


def _close(router) -> None:
    with contextlib.suppress(Exception):
        asyncio.run(router.aclose())


# --- the orchestrator ----


def run_celery(data_dir: Path | str, project: str, *, until: str | None = None, events: Events | None = None,
               timeout: float | None = None) -> dict:
    """Run ``project`` on the Celery workers until every node (of the stages up to ``until``) is done.

    Returns ``{project, ran, reused, failed}`` like the local engine and raises :class:`RunFailed` /
    :class:`BudgetExceeded` the same way; ``timeout`` (seconds) stops the run and raises :class:`RunFailed`.
    """
    from storyreel.engine import celery_app

    if until is not None and until not in STAGES:
        raise NotFound(f"unknown stage {until!r}; stages: {', '.join(STAGES)}")
    store = Store(Path(data_dir))
    if not store.exists(project):
        raise NotFound(f"unknown project {project!r}")
    ds.ensure_tables(store.engine)
    app = celery_app.app_for_env()
    owner = owner_id()
    store.claim_run(project, owner)
    router = None
    try:
        router = make_router(store, project, None, celery_app.adapters())
        orchestrator = _Orchestrator(store, project, owner, until, events or Events(),
                                     lambda p: celery_app.send(app, p), fingerprint_fn(router), timeout,
                                     celery_app.visibility_timeout())
        return orchestrator.run()
    finally:
        store.release_run(project, owner)
        if router is not None:
            _close(router)


class _Orchestrator:
    def __init__(self, store: Store, project: str, owner: str, until: str | None, events: Events, send: Send,
                 fp, timeout: float | None, visibility: float):
        self.store, self.project, self.owner, self.until = store, project, owner, until
        self.events, self.send, self.fp, self.timeout = events, send, fp, timeout
        self.visibility = visibility
        self.token = uuid.uuid4().hex
        self.locked = set(store.project(project).locks)
        self.keys = ds.RunKeys()

    def run(self) -> dict:
        self._begin()
        self._kick()
        store, project = self.store, self.project
        started = last_beat = time.monotonic()
        stop_reason, stopped_at = "", 0.0
        last_sig, film_at, film, applied = None, None, None, {}
        plan = states = None
        seen: dict[tuple[str, str], str] = {}
        wanted: list[tuple[str, str]] = []
        changed_at, looked_at, dirty, warned = time.monotonic(), 0.0, True, False
        while True:
            now = time.monotonic()
            if now - last_beat >= HEARTBEAT_SECONDS:
                last_beat = now
                if store.heartbeat(project, self.owner) and not stop_reason:
                    stop_reason, stopped_at = "stopped on request", now
                if self.timeout is not None and now - started > self.timeout and not stop_reason:
                    store.set_project(project, stop_requested=True)
                    stop_reason, stopped_at = f"timed out after {self.timeout:g}s", now
            with store.engine.connect() as conn:
                rows = ds.run_claims(conn, project, self.token)
                run = ds.run_row(conn, project)
                number = conn.execute(select(projects.c.head).where(projects.c.name == project)).scalar()
                if number != film_at:
                    _, data, applied = store.head(project, conn)
                    film, film_at = versions.load(data), number
            active_rows = [r for r in rows if r.state in ds.ACTIVE]
            sig = (number, tuple(sorted((r.node, r.cache_key, r.state) for r in rows)))
            if sig != last_sig:
                last_sig, changed_at, dirty = sig, now, True
                self._node_events(rows, seen)
            # the whole plan is looked at once a second at most (it costs tens of ms), at once when idle
            if dirty and (now - looked_at >= LOOK_SECONDS or not active_rows):
                dirty, looked_at = False, now
                plan, states, wanted = self._look(film, applied, rows)
                self._publish(plan, states, rows, "progress")
            elif now - changed_at > QUIET_WARNING_SECONDS and not warned and \
                    not any(r.state == "running" for r in rows):
                warned = True
                message = (f"nothing of this run has started for {QUIET_WARNING_SECONDS:g}s: are the workers "
                           "busy, or is none running (`storyreel worker`)?")
                log.warning("%s: %s", project, message)
                self._publish(plan, states, rows, "progress", message)
            if stop_reason:
                # nothing new starts; wait for running nodes to notice (not for a dead worker's)
                if not [r for r in active_rows if r.state == "running" and ds.claim_alive(r)] \
                        or now - stopped_at > DRAIN_SECONDS:
                    break
            elif run is not None and run.budget_stop:
                if not active_rows:
                    break
            elif not dirty:
                if not active_rows and not wanted:
                    break
                if wanted and (not active_rows or now - changed_at > STALL_SECONDS):
                    self._kick()
                    changed_at = now
                self._resend(active_rows, now - changed_at)
            time.sleep(POLL_SECONDS)
        return self._finish(stop_reason)

    def _look(self, film: Film, applied: dict, rows: list) -> tuple[Plan, dict, list[tuple[str, str]]]:
        """The plan's states as this run sees them, and the ready nodes it has not dispatched."""
        active = {r.node for r in rows if r.state in ds.ACTIVE}
        failed = {r.node: r.cache_key for r in rows if r.state == "failed"}
        plan = Plan(film, STEPS)
        states = self.keys.states(plan, applied, self.fp, locked=self.locked, running=active, failed=failed)
        mine = {(r.node, r.cache_key) for r in rows}
        ready = ds.dispatchable(plan, states, self.locked, self.until)
        return plan, states, [p for p in ready if p not in mine]

    def _begin(self) -> None:
        """Record this run; settle claims left running by earlier runs (their workers stop within a heartbeat
        of seeing the run is over; a dead worker's claim and job are marked interrupted)."""
        store, project = self.store, self.project
        with store.tx() as conn:
            ds.lock_project(conn, project)
            ds.start_run(conn, project, self.token, self.owner, self.until)
        deadline = time.monotonic() + 3 * HEARTBEAT_SECONDS + 1
        while True:
            live = 0
            with store.tx() as conn:
                ds.lock_project(conn, project)
                now = time.time()
                for r in ds.project_claims(conn, project, "running"):
                    if ds.claim_alive(r, now):
                        live += 1
                        continue
                    ds.set_claim(conn, project, r.node, r.cache_key, state="failed", finished=now,
                                 error="interrupted", error_kind="interrupted")
                    if r.job is not None:
                        store.update_job(r.job, conn, status="failed", finished=now,
                                         error="interrupted: the worker running it died")
            if not live or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        store.abandon_dead_jobs(project)

    def _kick(self) -> None:
        with self.store.tx() as conn:
            prow = ds.lock_project(conn, self.project)
            _, data, applied = self.store.head(self.project, conn)
            film = versions.load(data)
            ds.dispatch_ready(conn, self.project, self.token, film, applied, self.fp, prow, self.send)

    def _send(self, payloads: list[dict]) -> None:
        try:
            self.send(payloads)
        except Exception:
            # the claims stay queued with no message: mark them to be sent again on the next poll
            log.exception("sending %d node(s) failed; will send them again", len(payloads))
            with self.store.tx() as conn:
                for p in payloads:
                    ds.set_claim(conn, self.project, p["node"], p["key"], dispatched=0.0)

    def _resend(self, active_rows: list, quiet_for: float) -> None:
        """Send again, after STORYREEL_REDISPATCH_AFTER seconds: a node whose claimant died (the broker would
        give its message back only after the visibility timeout), and, once the run has been quiet that long,
        nodes still queued (a message can be lost: Redis hands it over before the worker records it as
        unacknowledged, and a worker killed in between takes it along). A message never sent goes at once.
        Duplicates cost nothing: the claim makes them no-ops."""
        now, after = time.time(), redispatch_after()
        due = [r for r in active_rows
               if (r.state == "queued" and (r.dispatched == 0.0 or (quiet_for > after
                                                                    and now - r.dispatched > after)))
               or (r.state == "running" and not ds.claim_alive(r, now)
                   and now - max(r.heartbeat or 0.0, r.dispatched) > after)]
        if not due:
            return
        with self.store.tx() as conn:
            ds.lock_project(conn, self.project)
            for r in due:
                ds.set_claim(conn, self.project, r.node, r.cache_key, dispatched=now, resent=r.resent + 1)
        log.warning("%s: sending %d node(s) again: %s", self.project, len(due),
                    ", ".join(r.node for r in due))
        self._send([ds.payload(self.project, r.node, r.cache_key, self.token) for r in due])

    def _node_events(self, rows: list, seen: dict) -> None:
        for r in rows:
            k = (r.node, r.cache_key)
            if seen.get(k) == r.state:
                continue
            seen[k] = r.state
            if r.state == "done":
                self.events.publish(Progress(self.project, 0, 0, event="node-done", node=r.node))
            elif r.state == "failed" and r.error_kind not in ("stopped", "interrupted"):
                self.events.publish(Progress(self.project, 0, 0, event="node-failed", node=r.node,
                                             message=r.error or ""))

    def _publish(self, plan: Plan | None, states: dict | None, rows: list, event: str,
                 message: str = "") -> None:
        if plan is None or states is None:
            return
        running_now = {r.node for r in rows if r.state == "running"}
        self.events.publish(progress(self.project, plan, states, event, message, running_now))

    def _finish(self, stop_reason: str) -> dict:
        with self.store.engine.connect() as conn:
            rows = ds.run_claims(conn, self.project, self.token)
            run = ds.run_row(conn, self.project)
            _, data, applied = self.store.head(self.project, conn)
        film = versions.load(data)
        order = sorted(rows, key=lambda r: (r.finished or float("inf"), r.dispatched))
        ran = [r.node for r in order if r.state == "done"]
        reused = [r.node for r in order if r.state == "reused"]
        errors = {r.node: r.error or "failed" for r in order
                  if r.state == "failed" and r.error_kind not in ("stopped", "interrupted")}
        failed = {r.node: r.cache_key for r in rows if r.state == "failed"}
        plan = Plan(film, STEPS)
        states = plan.states(applied, self.fp, locked=self.locked, failed=failed)
        summary = {"project": self.project, "ran": ran, "reused": reused, "failed": errors}
        if run is not None and run.budget_stop:
            self._publish(plan, states, [], "failed", run.budget_stop)
            raise BudgetExceeded(run.budget_stop)
        if stop_reason:
            self._publish(plan, states, [], "stopped", stop_reason)
            raise RunFailed("run", stop_reason)
        if errors:
            first = next(iter(errors))
            self._publish(plan, states, [], "failed", errors[first])
            raise RunFailed(first, errors[first])
        self._publish(plan, states, [], "finished")
        return summary
