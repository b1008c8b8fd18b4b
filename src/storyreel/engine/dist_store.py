"""The Celery engine's bookkeeping in the database: runs and node claims.

Two tables beside the store's own, created on the store's engine (so they live in the same PostgreSQL):

``dist_runs``    one row per project: the token of its current Celery run, who holds the run (the
                 orchestrator, as in ``projects.runner``), how far it goes (``until``) and whether the
                 budget stopped it.
``dist_claims``  one row per (project, node, cache key): the run that dispatched it, its state (queued,
                 running, then done, reused, failed or dropped), the worker that claimed it, the job row it
                 runs under and the claimant's heartbeat.

The claim's primary key is the guard against doing the same work twice: a (node, key) has exactly one claim
row, and every change to a project's claims happens in a transaction that first locks the project row
(``SELECT ... FOR UPDATE``), the same lock the commit of a node's output takes. So dispatching, claiming and
committing are serialised per project while different projects proceed in parallel.

The second half holds the transactions of a node's task (claim, heartbeat, commit, failure) and the dispatch
of the nodes a commit made ready; ``distributed`` runs them.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.exc import DBAPIError

from storyreel.engine.core import JobCall, stage_index
from storyreel.errors import NotFound
from storyreel.film import versions
from storyreel.film.models import Film
from storyreel.plan.graph import KeyCache, Node, Plan
from storyreel.plan.keys import cache_key
from storyreel.steps import BY_NAME, STAGES, STEPS
from storyreel.steps.base import context_of
from storyreel.store.db import Store, jobs, owner_alive, projects

log = logging.getLogger("storyreel.engine.celery")

meta = MetaData()

runs = Table(
    "dist_runs", meta,
    Column("project", String(64), primary_key=True),
    Column("token", String(64), nullable=False),
    Column("runner", String(200), nullable=False),
    Column("until", String(32)),
    Column("started", Float, nullable=False),
    Column("budget_stop", Text),  # the BudgetExceeded message that stops further dispatch
)

claims = Table(
    "dist_claims", meta,
    Column("project", String(64), primary_key=True),
    Column("node", String(200), primary_key=True),
    Column("cache_key", String(64), primary_key=True),
    Column("run", String(64), nullable=False),
    Column("state", String(16), nullable=False),  # queued running done reused failed dropped
    Column("owner", String(200)),  # host:pid of the worker process running it
    Column("job", Integer),
    Column("heartbeat", Float),
    Column("dispatched", Float, nullable=False),
    Column("finished", Float),
    Column("deliveries", Integer, nullable=False, default=0),  # times a worker claimed it
    Column("takeovers", Integer, nullable=False, default=0),  # times it was taken from a dead worker
    Column("resent", Integer, nullable=False, default=0),  # times the orchestrator sent it again
    Column("error", Text),
    Column("error_kind", String(64)),
    Index("ix_dist_claims_run", "project", "run"),
)

ACTIVE = ("queued", "running")
FINISHED = ("done", "reused", "failed", "dropped")

# A claimant heartbeats every couple of seconds while it runs a node; one silent this long is taken for dead
# (on its own host a dead pid is noticed at once).
CLAIM_STALE_SECONDS = 30.0

_ready: set[int] = set()
_ready_lock = threading.Lock()


def ensure_tables(engine: Engine) -> None:
    with _ready_lock:
        if id(engine) in _ready:
            return
        for attempt in range(5):
            try:  # processes starting together on a fresh database race to create the tables
                meta.create_all(engine)
                break
            except DBAPIError:
                if attempt == 4:
                    raise
                time.sleep(0.2 + random.random())
        _ready.add(id(engine))


def claim_alive(row: Row | Any, now: float | None = None) -> bool:
    """Whether the worker holding a running claim is still at it: its process exists (same host) or it beat
    recently (elsewhere), and in both cases its heartbeat is not stale (a thread that died without cleaning up
    leaves a live process behind)."""
    if row.heartbeat is None or (now or time.time()) - row.heartbeat > CLAIM_STALE_SECONDS:
        return False
    return owner_alive(row.owner, row.heartbeat, stale_after=CLAIM_STALE_SECONDS)


# --- the project lock ----


def lock_project(conn: Connection, name: str) -> Row:
    """Lock the project row for the rest of the transaction and return it."""
    if conn.dialect.name == "sqlite":  # no FOR UPDATE: take SQLite's write lock up front instead
        conn.execute(update(projects).where(projects.c.name == name).values(updated=projects.c.updated))
    row = conn.execute(select(projects).where(projects.c.name == name).with_for_update()).first()
    if row is None:
        raise NotFound(f"unknown project {name!r}")
    return row


def locks_of(project_row: Row) -> set[str]:
    return set(json.loads(project_row.locks or "[]"))


# --- runs ----


def start_run(conn: Connection, project: str, token: str, runner: str, until: str | None) -> None:
    values = {"token": token, "runner": runner, "until": until, "started": time.time(), "budget_stop": None}
    if conn.execute(update(runs).where(runs.c.project == project).values(**values)).rowcount == 0:
        conn.execute(insert(runs).values(project=project, **values))


def run_row(conn: Connection, project: str) -> Row | None:
    return conn.execute(select(runs).where(runs.c.project == project)).first()


def run_problem(project_row: Row, run: Row | None, token: str) -> str:
    """Why a task of run ``token`` must not start or dispatch anything ("" when it may)."""
    if run is None or run.token != token:
        return "its run is over (another run took the project)"
    if project_row.runner != run.runner or not owner_alive(project_row.runner, project_row.heartbeat):
        return "its run is over (the orchestrator released the project or died)"
    if project_row.stop_requested:
        return "stopped on request"
    return ""


def stop_dispatch(conn: Connection, project: str, message: str) -> None:
    conn.execute(update(runs).where(runs.c.project == project).values(budget_stop=message))


# --- claims ----


def get_claim(conn: Connection, project: str, node: str, key: str) -> Row | None:
    return conn.execute(select(claims).where(and_(claims.c.project == project, claims.c.node == node,
                                                  claims.c.cache_key == key))).first()


def set_claim(conn: Connection, project: str, node: str, key: str, **values: Any) -> None:
    conn.execute(update(claims).where(and_(claims.c.project == project, claims.c.node == node,
                                           claims.c.cache_key == key)).values(**values))


def run_claims(conn: Connection, project: str, token: str) -> list[Row]:
    return list(conn.execute(select(claims).where(and_(claims.c.project == project, claims.c.run == token))
                             .order_by(claims.c.finished, claims.c.dispatched)))


def project_claims(conn: Connection, project: str, state: str | None = None) -> list[Row]:
    q = select(claims).where(claims.c.project == project)
    if state is not None:
        q = q.where(claims.c.state == state)
    return list(conn.execute(q))


def record_dispatch(conn: Connection, project: str, token: str, wanted: list[tuple[str, str]]) -> list[tuple]:
    """Claim rows ``queued`` for the ``wanted`` (node, key) pairs this run has not dispatched yet; returns
    the pairs to send. A pair already dispatched in this run (queued, running or finished) is never sent
    twice; one left by an earlier run is taken over by this one."""
    if not wanted:
        return []
    have = {(r.node, r.cache_key): r for r in conn.execute(select(claims).where(and_(
        claims.c.project == project, claims.c.node.in_(sorted({n for n, _ in wanted})))))}
    now = time.time()
    out = []
    for node, key in wanted:
        row = have.get((node, key))
        if row is not None and row.run == token:
            continue
        fresh = {"run": token, "state": "queued", "owner": None, "job": None, "heartbeat": None,
                 "dispatched": now, "finished": None, "error": None, "error_kind": None}
        if row is None:
            conn.execute(insert(claims).values(project=project, node=node, cache_key=key, deliveries=0,
                                               takeovers=0, resent=0, **fresh))
        else:
            set_claim(conn, project, node, key, **fresh)
        out.append((node, key))
    return out


# --- reads of the store's jobs within a transaction (the Store's own helpers open a second connection) ----


def cached_output(conn: Connection, project: str, step: str, key: str) -> Any | None:
    row = conn.execute(select(jobs.c.outputs).where(and_(
        jobs.c.project == project, jobs.c.step == step, jobs.c.cache_key == key, jobs.c.status == "done",
    )).order_by(jobs.c.id.desc()).limit(1)).first()
    return json.loads(row.outputs) if row and row.outputs else None


def interrupted_state(conn: Connection, project: str, node: str, key: str) -> dict:
    """As :meth:`Store.interrupted_state`: provider state left by an interrupted or failed job of the node."""
    row = conn.execute(select(jobs.c.state).where(and_(
        jobs.c.project == project, jobs.c.node == node, jobs.c.cache_key == key,
        jobs.c.status.in_(("failed", "running")),
    )).order_by(jobs.c.id.desc()).limit(1)).first()
    return json.loads(row.state) if row and row.state else {}


# --- the transactions of a node's task ----


def payload(project: str, node: str, key: str, run: str) -> dict:
    return {"project": project, "node": node, "key": key, "run": run}


def node_of(node_id: str) -> Node:
    step_name, _, item = node_id.partition(":")
    step = BY_NAME.get(step_name)
    if step is None:
        raise NotFound(f"unknown step {step_name!r} in node {node_id!r}")
    return Node(node_id, step, item or None, 0)


def node_key(node: Node, film: Film, fp) -> str:
    """The node's cache key on ``film`` (what ``Plan.key`` computes, without building the whole plan)."""
    return cache_key(node.step, context_of(node.step, film, node.item), fp(node.step))


def dispatchable(plan: Plan, states: dict, locked: set[str], until: str | None) -> list[tuple[str, str]]:
    limit = stage_index(until) if until else len(STAGES)
    out = []
    for n in plan.nodes:
        st = states[n.id]
        if st.state in ("ready", "stale") and st.key and stage_index(n.step.stage) <= limit \
                and n.step.stage not in locked:
            out.append((n.id, st.key))
    return out


class RunKeys(KeyCache):
    """Cache keys across the tasks of one run in this process. During a run a node's inputs change only when
    one of its dependencies applies an output (a running project cannot be edited), so a key stays valid
    while the outputs applied to its dependencies are the same ones (same key, same job). Saves computing
    every done node's key again at each commit."""

    def __init__(self) -> None:
        super().__init__()
        self.applied: dict[str, dict] = {}

    def key(self, plan: Plan, node: Node, fingerprint) -> str:
        stamp = tuple((d, (self.applied.get(d) or {}).get("key"), (self.applied.get(d) or {}).get("job"))
                      for d in node.deps)
        hit = self._keys.get(node.id)
        if hit is not None and hit[0] == stamp:
            return hit[1]
        key = plan.key(node, fingerprint)
        self._keys[node.id] = (stamp, key)
        return key

    def states(self, plan: Plan, applied: dict, fp, **kw) -> dict:
        self.applied = applied
        return plan.states(applied, fp, keys=self, **kw)


_run_keys: OrderedDict[tuple[str, str], RunKeys] = OrderedDict()


def run_keys(project: str, token: str) -> RunKeys:
    """This process's key cache for a run (used under the project lock, so one thread at a time)."""
    with _ready_lock:
        keys = _run_keys.pop((project, token), None) or RunKeys()
        _run_keys[(project, token)] = keys
        while len(_run_keys) > 64:
            _run_keys.popitem(last=False)
        return keys


def dispatch_ready(conn, project: str, token: str, film: Film, applied: dict, fp, project_row,
                   send) -> list[dict]:
    """Within the project lock: record the nodes now ready that this run has not dispatched as queued, and
    send their messages (returned too).

    The messages go out before the transaction commits, while it still holds the project lock: a worker
    that receives one waits on that lock to claim it, so it always finds the claim row; a dispatcher that
    dies before committing leaves messages without claims (dropped on arrival) and a node to be taken over,
    never a claim without a message. A failed send is marked (``dispatched`` = 0) for the orchestrator to
    send again."""
    run = run_row(conn, project)
    if run_problem(project_row, run, token) or run.budget_stop:
        return []
    locked = locks_of(project_row)
    plan = Plan(film, STEPS)
    states = run_keys(project, token).states(plan, applied, fp, locked=locked)
    pairs = record_dispatch(conn, project, token, dispatchable(plan, states, locked, run.until))
    payloads = [payload(project, n, k, token) for n, k in pairs]
    if payloads:
        try:
            send(payloads)
        except Exception:
            log.exception("%s: sending %d node(s) failed; the orchestrator will send them", project,
                          len(payloads))
            for n, k in pairs:
                set_claim(conn, project, n, k, dispatched=0.0)
    return payloads


@dataclass
class Claimed:
    node: Node
    film: Film
    job_id: int
    state: dict


def claim(store: Store, project: str, node: Node, key: str, token: str, worker: str, fp,
          send) -> tuple[Claimed | str, list[dict]]:
    """Claim (node, key) for ``worker``: a started job and the Film to run it on, or why this delivery is a
    no-op (with the follow-ups sent when a cached output was reused instead)."""
    with store.tx() as conn:
        prow = lock_project(conn, project)
        why = run_problem(prow, run_row(conn, project), token)
        if why:
            return f"skipped: {why}", []
        row = get_claim(conn, project, node.id, key)
        if row is None or row.run != token:
            return "skipped: not dispatched by this run", []
        if row.state in FINISHED:
            return f"skipped: already {row.state}", []
        if row.state == "running" and claim_alive(row):
            return "skipped: running on a live worker", []
        takeover = row.state == "running"
        now = time.time()
        _, data, applied = store.head(project, conn)
        if (applied.get(node.id) or {}).get("key") == key:
            set_claim(conn, project, node.id, key, state="done", finished=now)
            return "skipped: already applied", []
        film = versions.load(data)
        if node_key(node, film, fp) != key:
            set_claim(conn, project, node.id, key, state="dropped", finished=now,
                      error="its inputs changed after it was dispatched")
            return "skipped: its inputs changed", []
        if takeover and row.job is not None:
            store.update_job(row.job, conn, status="failed", finished=now,
                             error="interrupted: the worker running it died")
        counts = {"deliveries": row.deliveries + 1, "takeovers": row.takeovers + int(takeover)}
        cached = cached_output(conn, project, node.step.name, key)
        if cached is not None:
            node.step.apply(film, node.item, cached)
            applied[node.id] = {"key": key, "reused": True}
            store.record_reuse(conn, project, node.id, node.step.name, node.item, key, cached)
            store.commit_version(conn, project, film.model_dump(mode="json"), applied, f"{node.id} (reused)")
            set_claim(conn, project, node.id, key, state="reused", owner=worker, finished=now, **counts)
            return "reused", dispatch_ready(conn, project, token, film, applied, fp, prow, send)
        state = interrupted_state(conn, project, node.id, key)
        job_id = store.start_job(conn, project, node.id, node.step.name, node.item, key, worker, state)
        set_claim(conn, project, node.id, key, state="running", owner=worker, job=job_id, heartbeat=now,
                  **counts)
    return Claimed(node, film, job_id, state), []


def beat(store: Store, project: str, node: str, key: str, token: str, job_id: int) -> str:
    """Refresh the claim's heartbeat; returns why the node must stop ("" to go on)."""
    try:
        with store.tx() as conn:
            conn.execute(claims.update().where(
                (claims.c.project == project) & (claims.c.node == node) & (claims.c.cache_key == key)
                & (claims.c.job == job_id)).values(heartbeat=time.time()))
            prow = conn.execute(select(projects).where(projects.c.name == project)).first()
            return run_problem(prow, run_row(conn, project), token) if prow is not None else "deleted"
    except Exception:  # a blip of the database must not kill a node that is otherwise fine
        log.warning("heartbeat of %s failed", node, exc_info=True)
        return ""


def _owned(row, worker: str, job_id: int) -> bool:
    return row is not None and row.state == "running" and row.owner == worker and row.job == job_id


def commit(store: Store, project: str, token: str, worker: str, node: Node, key: str, job_id: int,
           output: dict, request: dict, call: JobCall, fp, send) -> tuple[str, list[dict]]:
    """Apply a finished node's output to the head Film under the project lock, write the version, and
    dispatch the nodes that made ready (see :func:`dispatch_ready`)."""
    done = {"request": request, "cost": call.cost, "attempts": len(call.attempts)}
    with store.tx() as conn:
        prow = lock_project(conn, project)
        now = time.time()
        if not _owned(get_claim(conn, project, node.id, key), worker, job_id):
            store.update_job(job_id, conn, status="failed", finished=now,
                             error="superseded: another worker took the node over", **done)
            return "superseded", []
        _, data, applied = store.head(project, conn)
        film = versions.load(data)
        error = ""
        if node_key(node, film, fp) != key:
            error = "its inputs changed while it ran"
        else:
            try:
                node.step.apply(film, node.item, output)
            except Exception as e:
                error = f"{type(e).__name__}: {e}"
        if error:
            store.update_job(job_id, conn, status="failed", finished=now, error=error, **done)
            set_claim(conn, project, node.id, key, state="failed", finished=now, error=error,
                      error_kind="commit")
            return "failed", []
        applied[node.id] = {"key": key, "job": job_id}
        store.update_job(job_id, conn, status="done", finished=now, outputs=output, error=None, **done)
        store.commit_version(conn, project, film.model_dump(mode="json"), applied, node.id)
        set_claim(conn, project, node.id, key, state="done", finished=now)
        return "ran", dispatch_ready(conn, project, token, film, applied, fp, prow, send)


def record_failure(store: Store, project: str, worker: str, node: Node, key: str, job_id: int, error: str,
                   kind: str, request: dict, call: JobCall, budget: str = "") -> tuple[str, list]:
    with store.tx() as conn:
        lock_project(conn, project)
        now = time.time()
        store.update_job(job_id, conn, status="failed", error=error, finished=now, request=request,
                         cost=call.cost, attempts=len(call.attempts))
        if _owned(get_claim(conn, project, node.id, key), worker, job_id):
            set_claim(conn, project, node.id, key, state="failed", finished=now, error=error,
                      error_kind=kind)
            if budget:
                stop_dispatch(conn, project, budget)
    return "failed", []
