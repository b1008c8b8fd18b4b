"""The Celery engine's claims, in process, on a real PostgreSQL (no broker, no worker processes).

Deliveries of a node's task are handed straight to ``distributed.run_node``, the function a worker runs for
each message, so these tests can deliver the same message twice, from several threads at once, or as the heir
of a dead worker, and look at what reached the store.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

import pytest

from conftest import require, require_service
from storyreel import Studio
from storyreel.engine import dist_store as ds
from storyreel.engine.core import fingerprint_fn, make_router
from storyreel.engine.dist_store import dispatch_ready
from storyreel.engine.distributed import run_node
from storyreel.film import versions
from storyreel.store.db import owner_id

pytestmark = pytest.mark.services

PG_ADMIN = os.environ.get("STORYREEL_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture
def studio(tmp_path, monkeypatch):
    require_service("PostgreSQL", 5432)
    import psycopg

    monkeypatch.setenv("STORYREEL_RENDER_WORKERS", "1")
    name = f"storyreel_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        require(False, f"cannot create a PostgreSQL test database through {PG_ADMIN}: {e}")
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv("STORYREEL_DATABASE_URL", url)  # run_celery opens the store from the environment
    yield Studio(tmp_path, database_url=url)
    from storyreel.providers.local.provider import shutdown_pool
    from storyreel.store import db

    shutdown_pool()
    for key in [k for k in db._engines if k.endswith(f"/{name}")]:
        db._engines.pop(key).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _start_run(studio: Studio, name: str) -> tuple[str, list[dict]]:
    """What run_celery does before it starts watching: claim the run, record it, dispatch the ready nodes."""
    store = studio.store
    ds.ensure_tables(store.engine)
    owner = owner_id()
    store.claim_run(name, owner)
    token = uuid.uuid4().hex
    fp = fingerprint_fn(make_router(store, name))
    with store.tx() as conn:
        prow = ds.lock_project(conn, name)
        ds.start_run(conn, name, token, owner, None)
        prow = ds.lock_project(conn, name)
        _, data, applied = store.head(name, conn)
        payloads = dispatch_ready(conn, name, token, versions.load(data), applied, fp, prow, lambda _: None)
    return token, payloads


def _claim(studio: Studio, name: str, node: str):
    with studio.store.engine.connect() as conn:
        return [r for r in ds.project_claims(conn, name) if r.node == node][0]


def _dead_owner() -> str:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return owner_id().rsplit(":", 1)[0] + f":{proc.pid}"


def test_concurrent_and_repeated_deliveries_run_a_node_once(studio):
    name = studio.create("dupes", "A fox steals a lantern", duration=10)
    token, payloads = _start_run(studio, name)
    assert [p["node"] for p in payloads] == ["lore"]
    sent: list[dict] = []
    results: list[str] = []
    barrier = threading.Barrier(4)

    def deliver() -> None:
        barrier.wait()
        results.append(run_node(studio.store, **payloads[0], send=sent.extend))

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results)[0] == "ran" and results.count("ran") == 1, results
    assert all(r.startswith("skipped") for r in results if r != "ran")
    assert [p["node"] for p in sent] == ["treatment"], "the follow-up must be dispatched exactly once"
    # a late duplicate (a redelivery after the work was committed) changes nothing
    assert run_node(studio.store, **payloads[0], send=sent.extend) == "skipped: already done"
    jobs = studio.store.jobs(name, "lore")
    assert [j["status"] for j in jobs] == ["done"]
    assert len(sent) == 1


def test_a_dead_workers_claim_is_taken_over_and_its_provider_state_resumed(studio):
    name = studio.create("heir", "A fox steals a lantern", duration=10)
    token, payloads = _start_run(studio, name)
    p = payloads[0]
    store = studio.store
    with store.tx() as conn:  # a live worker holds the node
        job = store.start_job(conn, name, p["node"], "lore", None, p["key"], owner_id(),
                              {"prediction": "p-1"})
        ds.set_claim(conn, name, p["node"], p["key"], state="running", owner=owner_id(), job=job,
                     heartbeat=time.time(), deliveries=1)
    assert run_node(store, **p, send=lambda _: None) == "skipped: running on a live worker"
    dead = _dead_owner()
    with store.tx() as conn:  # ... and dies: its process is gone
        store.update_job(job, conn, owner=dead)
        ds.set_claim(conn, name, p["node"], p["key"], owner=dead)
    assert run_node(store, **p, send=lambda _: None) == "ran"
    old, new = store.jobs(name, "lore")
    assert old["status"] == "failed" and "interrupted" in old["error"]
    assert new["status"] == "done" and new["owner"] == owner_id()
    assert new["state"] == {"prediction": "p-1"}, "the provider state of the dead job must be resumed"
    claim = _claim(studio, name, "lore")
    assert (claim.state, claim.takeovers, claim.deliveries) == ("done", 1, 2)


def test_messages_of_another_run_are_ignored(studio):
    name = studio.create("stale", "A fox steals a lantern", duration=10)
    token, payloads = _start_run(studio, name)
    assert run_node(studio.store, **{**payloads[0], "run": "an-old-run"}, send=lambda _: None).startswith(
        "skipped: its run is over")
    studio.store.set_project(name, stop_requested=True)  # `storyreel stop`: nothing new starts
    assert run_node(studio.store, **payloads[0], send=lambda _: None) == "skipped: stopped on request"
    studio.store.release_run(name, owner_id())  # the orchestrator went away: its messages are void
    assert run_node(studio.store, **payloads[0], send=lambda _: None).startswith("skipped: its run is over")
    assert studio.store.jobs(name) == []


def test_tasks_dispatch_each_other_to_the_end_of_the_film(studio):
    """No orchestrator: three threads play the workers, each finished node dispatches what it made ready."""
    name = studio.create("chain", "A lighthouse keeper befriends a storm", duration=10)
    token, payloads = _start_run(studio, name)
    with ThreadPoolExecutor(3) as pool:
        pending = set()
        lock = threading.Lock()

        def submit(batch: list[dict]) -> None:
            with lock:
                for p in batch:
                    pending.add(pool.submit(run_node, studio.store, **p, send=submit))

        submit(payloads)
        results = []
        while True:
            with lock:
                waiting = list(pending)
            if not waiting:
                break
            done, _ = wait(waiting, timeout=120, return_when=FIRST_COMPLETED)
            assert done, "no node finished in two minutes"
            with lock:
                pending.difference_update(done)
            results += [f.result() for f in done]
    status = studio.status(name)
    assert status["progress"] == 100.0 and "final" in status["outputs"]
    assert set(results) == {"ran"} and len(results) == status["nodes"]["total"]
    jobs = studio.store.jobs(name)
    assert max(Counter(j["node"] for j in jobs).values()) == 1
    # each node was dispatched once all its inputs were committed, not before; chains were pipelined
    with studio.store.engine.connect() as conn:
        claims = {r.node: r for r in ds.project_claims(conn, name)}
    plan = {n["node"]: n for n in studio.plan(name)}
    for node, c in claims.items():
        for dep in plan[node]["deps"]:
            assert claims[dep].finished <= c.dispatched, f"{node} was dispatched before {dep} finished"
    film = studio.film(name)
    continuing = [s for s in film.shots if s.clip_strategy == "continue"]
    ids = [s.id for s in film.shots]
    for s in continuing:
        prev = ids[ids.index(s.id) - 1]
        assert claims[f"clip:{s.id}"].dispatched >= claims[f"clip:{prev}"].finished
    assert [c.shot_id for c in film.clips] == ids


# --- the orchestrator, with the workers played by threads of this process -----------------------------------


@pytest.fixture
def inprocess(studio, monkeypatch):
    """run_celery as it is, its messages delivered to run_node on a pool of three threads."""
    from storyreel.engine import celery_app

    pool = ThreadPoolExecutor(3)
    crashes: list[BaseException] = []
    adapters: dict = {}

    def deliver(p: dict) -> None:
        try:
            run_node(studio.store, **p, send=lambda batch: send(None, batch), adapters=adapters.get("local")
                     and adapters)
        except BaseException as e:
            crashes.append(e)

    def send(_app, batch: list[dict]) -> None:
        for p in batch:
            pool.submit(deliver, p)

    monkeypatch.setattr(celery_app, "send", send)
    monkeypatch.setattr(celery_app, "adapters", lambda: adapters.get("local") and adapters)
    yield adapters
    pool.shutdown(wait=True)
    assert not crashes, crashes


def test_run_celery_stops_at_the_budget_like_the_local_engine(studio, inprocess):
    from storyreel.engine.distributed import run_celery
    from storyreel.engine.events import Events
    from storyreel.errors import BudgetExceeded

    (studio.data_dir / "storyreel.toml").write_text('budget = 0.05\n[models."local:draft"]\ncost = 0.02\n')
    name = studio.create("budget", "A fox steals a lantern", duration=10)
    events = Events()
    seen = []
    events.subscribe(seen.append)
    with pytest.raises(BudgetExceeded) as info:
        run_celery(studio.data_dir, name, events=events, timeout=60)
    assert str(info.value) == ("budget of $0.05 reached: spent $0.04, next call ~$0.02 (local:draft); "
                               "raise it with budget = ... in storyreel.toml")
    assert [(j["node"], j["status"]) for j in studio.store.jobs(name)] == [
        ("lore", "done"), ("treatment", "done"), ("beats", "failed")]
    assert seen[-1].event == "failed" and seen[-1].done == 2
    assert [p.node for p in seen if p.event == "node-done"] == ["lore", "treatment"]
    assert not studio.status(name)["running"]


def test_run_celery_reports_a_failed_node_like_the_local_engine(studio, inprocess):
    from storyreel.engine.distributed import run_celery
    from storyreel.errors import FatalProviderError, RunFailed
    from storyreel.providers.local.provider import LocalProvider

    class BrokenBeats(LocalProvider):
        async def text(self, req, route=None, call=None):
            if req.step == "beats":
                raise FatalProviderError("beats are broken today")
            return await super().text(req, route, call)

    inprocess["local"] = BrokenBeats()
    name = studio.create("broken", "A fox steals a lantern", duration=10)
    with pytest.raises(RunFailed) as info:
        run_celery(studio.data_dir, name, timeout=60)
    assert info.value.node == "beats" and "beats are broken today" in info.value.reason
    status = studio.status(name)
    assert [f["node"] for f in status["failed"]] == ["beats"] and not status["running"]
    assert status["nodes"]["done"] == 2


def test_a_stop_request_cancels_the_running_nodes_like_the_local_engine(studio, inprocess):
    from storyreel.engine.distributed import run_celery
    from storyreel.errors import RunFailed
    from storyreel.providers.local.provider import LocalProvider

    class SlowTreatment(LocalProvider):
        async def text(self, req, route=None, call=None):
            if req.step == "treatment":
                await asyncio.sleep(30)
            return await super().text(req, route, call)

    inprocess["local"] = SlowTreatment()
    name = studio.create("stopped", "A fox steals a lantern", duration=10)
    out: dict = {}

    def run() -> None:
        try:
            out["result"] = run_celery(studio.data_dir, name, timeout=60)
        except BaseException as e:
            out["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    deadline = time.time() + 30
    while not [j for j in studio.store.jobs(name) if j["node"] == "treatment"]:
        assert time.time() < deadline, "treatment never started"
        time.sleep(0.05)
    assert studio.status(name)["nodes"]["running"] == 1
    t0 = time.time()
    assert studio.stop(name)
    thread.join(30)
    assert time.time() - t0 < 15, "the running node should be cancelled within a few heartbeats"
    assert isinstance(out.get("error"), RunFailed) and out["error"].reason == "stopped on request"
    jobs = studio.store.jobs(name)
    assert [(j["node"], j["status"], j["error"]) for j in jobs] == [
        ("lore", "done", None), ("treatment", "failed", "stopped")]
    status = studio.status(name)
    assert not status["running"] and status["nodes"]["running"] == 0
