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
"""

from __future__ import annotations

import json
import time
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

from storyreel.errors import NotFound
from storyreel.store.db import jobs, owner_alive, projects

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


def ensure_tables(engine: Engine) -> None:
    if id(engine) not in _ready:
        meta.create_all(engine)
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
        claims.c.project == project, claims.c.node.in_({n for n, _ in wanted}))))}
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
