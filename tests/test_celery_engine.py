"""The Celery engine end to end: real Redis, real PostgreSQL, real workers in subprocesses.

Each test gets a fresh PostgreSQL database (CREATE DATABASE storyreel_test_<random>, dropped afterwards), its
own Redis queue and key prefix (so parallel runs never see each other's messages), its own media folder, and
workers started as `storyreel worker` in their own process groups (SIGKILL takes a worker and its render
processes down together, as a machine dying would). The broker's visibility timeout is set to 15 s through
STORYREEL_VISIBILITY_TIMEOUT so a killed worker's messages come back quickly (it must stay longer than the
longest node, or a node still running is handed to a second worker).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import av
import pytest

from conftest import require, require_service
from storyreel import Studio
from storyreel.film.invariants import check_frames_match_shots
from storyreel.store import files

pytestmark = pytest.mark.services

PG_ADMIN = os.environ.get("STORYREEL_TEST_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("STORYREEL_TEST_REDIS") or "redis://127.0.0.1:6379/0"
PROMPT = "A lighthouse keeper befriends a storm"
MEDIA = re.compile(r"^(images|videos|audio|output)/")
STAMP = re.compile(r"_\d{8}_\d{6}(-\d+)?(?=\.[a-z0-9]+$)")
ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")


# --- fixtures: a database, a broker namespace, workers ------------------------------------------------------


@pytest.fixture
def pg_url():
    require_service("PostgreSQL", 5432)
    import psycopg

    name = f"storyreel_test_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as e:
        require(False, f"cannot create a PostgreSQL test database through {PG_ADMIN}: {e}")
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    yield url
    from storyreel.store import db

    for key in [k for k in db._engines if k.endswith(f"/{name}")]:
        db._engines.pop(key).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def broker():
    require_service("Redis", 6379)
    import redis

    tag = uuid.uuid4().hex[:10]
    prefix = f"storyreel-test-{tag}:"
    yield {"url": REDIS, "queue": f"storyreel-test-{tag}", "prefix": prefix}
    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*", count=500))
    if keys:
        client.delete(*keys)
    client.close()


class Cluster:
    def __init__(self, data: Path, env: dict[str, str], logs: Path):
        self.data, self.env, self.logs = data, env, logs
        self.workers: dict[str, subprocess.Popen] = {}

    def start(self, *names: str, concurrency: int = 3) -> None:
        for name in names:
            log = open(self.logs / f"worker-{name}.log", "w")  # noqa: SIM115 - closed with the process
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-m", "storyreel.cli", "worker", "-n", f"{name}@%h", "--concurrency",
                 str(concurrency)], env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        for name in names:
            self._wait_ready(name)

    def _wait_ready(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.time() + timeout
        path = self.logs / f"worker-{name}.log"
        while time.time() < deadline:
            if " ready." in path.read_text(errors="replace"):
                return
            if self.workers[name].poll() is not None:
                pytest.fail(f"worker {name} exited: {path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        pytest.fail(f"worker {name} not ready after {timeout}s: {path.read_text(errors='replace')[-3000:]}")

    def owner(self, name: str) -> str:
        return f"{socket.gethostname()}:{self.workers[name].pid}"

    def kill(self, name: str) -> None:
        proc = self.workers[name]
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def log(self, name: str) -> str:
        return (self.logs / f"worker-{name}.log").read_text(errors="replace")

    def stop(self) -> None:
        for proc in self.workers.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.workers.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


@pytest.fixture
def cluster(tmp_path, pg_url, broker, monkeypatch):
    data = tmp_path / "data"
    logs = tmp_path / "logs"
    data.mkdir()
    logs.mkdir()
    env = {
        "STORYREEL_DATABASE_URL": pg_url,
        "STORYREEL_DATA": str(data),
        "STORYREEL_BROKER_URL": broker["url"],
        "STORYREEL_QUEUE": broker["queue"],
        "STORYREEL_BROKER_PREFIX": broker["prefix"],
        # a killed worker's messages come back after 15 s (default 6 h): still longer than any node here
        "STORYREEL_VISIBILITY_TIMEOUT": "15",
        "STORYREEL_RESTORE_INTERVAL": "1",
        "STORYREEL_RENDER_WORKERS": "1",
    }
    for k, v in env.items():  # the orchestrator (run_celery, in this process) reads the same
        monkeypatch.setenv(k, v)
    Studio(data)  # the schema, made once before the workers start
    c = Cluster(data, env, logs)
    yield c
    c.stop()


def _run_in_thread(data: Path, name: str, out: dict, **kw) -> threading.Thread:
    from storyreel.engine.distributed import run_celery

    def target() -> None:
        try:
            out["result"] = run_celery(data, name, **kw)
        except BaseException as e:  # reported by the test
            out["error"] = e

    t = threading.Thread(target=target, name=f"run-{name}", daemon=True)
    t.start()
    return t


# --- what a finished film must look like --------------------------------------------------------------------


def _normalized(value):
    """The Film as JSON with the timestamp parts of media names and ISO times taken out."""
    if isinstance(value, dict):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalized(v) for v in value]
    if isinstance(value, str):
        if ISO_TIME.match(value):
            return "<time>"
        return STAMP.sub("", value) if MEDIA.match(value) else value
    return value


def _media(value) -> list[str]:
    if isinstance(value, dict):
        return [p for v in value.values() for p in _media(v)]
    if isinstance(value, list):
        return [p for v in value for p in _media(v)]
    return [value] if isinstance(value, str) and MEDIA.match(value) else []


def _check_film(studio: Studio, name: str) -> dict:
    """Finished and consistent: every referenced file there, one file per thing, clips in shot order."""
    st = studio.status(name)
    assert st["progress"] == 100.0 and st["nodes"]["failed"] == 0, st
    assert Path(st["outputs"]["final"]).stat().st_size > 1000
    film = studio.film(name)
    check_frames_match_shots(film)
    assert [c.shot_id for c in film.clips] == [s.id for s in film.shots]
    assert film.cut.clips == [s.id for s in film.shots]
    data = film.model_dump(mode="json")
    referenced = set(_media(data))
    pdir = studio.project_dir(name)
    for rel in referenced:
        assert files.inside(pdir, rel).is_file(), f"{rel} is referenced but missing"
    kinds = Counter(STAMP.sub("", rel) for rel in referenced)
    assert max(kinds.values()) == 1, f"two files for one thing: {[k for k, n in kinds.items() if n > 1]}"
    jobs = studio.store.jobs(name)
    done = Counter((j["node"], j["cache_key"]) for j in jobs if j["status"] == "done")
    assert max(done.values()) == 1, f"a (node, key) finished twice: {[k for k, n in done.items() if n > 1]}"
    assert not [j for j in jobs if j["status"] == "running"]
    return data


def _folder_counts(pdir: Path) -> dict[str, int]:
    return {sub: sum(1 for p in (pdir / sub).iterdir() if p.is_file() and not p.name.startswith(".tmp-"))
            for sub in files.FOLDERS if (pdir / sub).exists()}


def _frames(path: Path) -> tuple[int, float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        n = sum(1 for _ in c.decode(s))
        return n, round(float(s.duration * s.time_base), 3) if s.duration else 0.0


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory):
    """The film made by the local engine into SQLite: what the Celery engine must reproduce."""
    data = tmp_path_factory.mktemp("local")
    saved = os.environ.get("STORYREEL_RENDER_WORKERS")
    os.environ["STORYREEL_RENDER_WORKERS"] = "1"
    try:
        studio = Studio(data, database_url=f"sqlite:///{data / 'storyreel.db'}")
        studio.create("same", PROMPT, duration=12)
        studio.run("same")
    finally:
        if saved is None:
            os.environ.pop("STORYREEL_RENDER_WORKERS", None)
        else:
            os.environ["STORYREEL_RENDER_WORKERS"] = saved
    return studio


# --- the tests ----------------------------------------------------------------------------------------------


def test_a_small_film_on_two_workers_through_the_cli(cluster):
    cluster.start("a", "b")
    studio = Studio(cluster.data)
    name = studio.create("small", PROMPT, duration=10)
    proc = subprocess.run([sys.executable, "-m", "storyreel.cli", "run", name, "--engine", "celery",
                           "--data-dir", str(cluster.data)], env={**os.environ, **cluster.env},
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "final:" in proc.stdout
    _check_film(studio, name)
    owners = {j["owner"] for j in studio.store.jobs(name) if j["status"] == "done"}
    assert owners == {cluster.owner("a"), cluster.owner("b")}, "both workers should have run nodes"
    # a second run finds everything done and runs nothing
    from storyreel.engine.distributed import run_celery

    again = run_celery(cluster.data, name, timeout=60)
    assert again == {"project": name, "ran": [], "reused": [], "failed": {}}


def test_a_worker_sigkilled_mid_run_is_taken_over(cluster, local_reference, monkeypatch):
    # the killed nodes must come back through the broker's redelivery (late ack, after the 15 s visibility
    # timeout), well before the orchestrator would send them again (25 s after their worker's last beat);
    # that resend stays on for a message the dead worker had fetched but not yet recorded as unacked
    monkeypatch.setenv("STORYREEL_REDISPATCH_AFTER", "25")
    cluster.start("a", "b")
    studio = Studio(cluster.data)
    name = studio.create("same", PROMPT, duration=12)
    out: dict = {}
    thread = _run_in_thread(cluster.data, name, out, timeout=240)
    victim = cluster.owner("a")
    deadline = time.time() + 120
    while time.time() < deadline:  # wait until worker a is in the middle of things, past the story
        jobs = studio.store.jobs(name)
        done = [j for j in jobs if j["status"] == "done"]
        mine = [j for j in jobs if j["status"] == "running" and j["owner"] == victim]
        if len(done) >= 8 and mine:
            break
        assert thread.is_alive(), out
        time.sleep(0.05)
    else:
        pytest.fail("worker a never ran a node")
    cluster.kill("a")
    killed = {j["node"] for j in studio.store.jobs(name) if j["status"] == "running" and j["owner"] == victim}
    assert killed, "worker a finished its nodes just before the kill; nothing to take over"
    # running nodes read as running, as with the local engine (until another worker takes them over)
    status = studio.status(name)
    assert status["running"] and status["nodes"]["running"] >= len(killed)
    assert {n["node"] for n in studio.plan(name) if n["state"] == "running"} >= killed
    thread.join(240)
    if thread.is_alive() or "error" in out:
        from storyreel.engine import dist_store

        with studio.store.engine.connect() as conn:
            left = [dict(r._mapping) for r in dist_store.project_claims(conn, name)
                    if r.state not in ("done", "reused")]
        plan = [(n["node"], n["state"]) for n in studio.plan(name) if n["state"] not in ("done", "pending")]
        pytest.fail(f"the run did not finish ({out.get('error')}); unfinished claims: {left}; plan: {plan}; "
                    f"killed: {killed}\n{cluster.log('b')[-3000:]}")
    assert set(out["result"]["ran"]) >= killed

    data = _check_film(studio, name)
    jobs = studio.store.jobs(name)
    interrupted = [j for j in jobs if j["status"] == "failed"]
    assert {j["node"] for j in interrupted} >= killed
    assert all("interrupted" in j["error"] and j["owner"] == victim for j in interrupted)
    for node in killed:
        finisher = [j for j in jobs if j["node"] == node and j["status"] == "done"]
        assert len(finisher) == 1 and finisher[0]["owner"] == cluster.owner("b")
    from storyreel.engine import dist_store

    with studio.store.engine.connect() as conn:
        claims = {r.node: r for r in dist_store.project_claims(conn, name)}
    assert all(claims[n].takeovers == 1 and claims[n].resent == 0 for n in killed), "not redelivered by Redis"
    # nothing lost, nothing doubled: the same Film as an uninterrupted local run
    assert _normalized(data) == _normalized(local_reference.film("same").model_dump(mode="json"))


def test_two_films_at_once(cluster):
    cluster.start("a", "b")
    studio = Studio(cluster.data)
    names = [studio.create("first", PROMPT, duration=10),
             studio.create("second", "A fox steals a lantern from a sleeping village", duration=10)]
    outs = [{} for _ in names]
    threads = [_run_in_thread(cluster.data, n, o, timeout=180) for n, o in zip(names, outs, strict=True)]
    for t in threads:
        t.join(200)
    for name, out in zip(names, outs, strict=True):
        assert "error" not in out, out.get("error")
        assert out["result"]["project"] == name and not out["result"]["failed"]
        _check_film(studio, name)
    assert studio.film("first").shots[0].id and studio.film("first").inputs.prompt == PROMPT


def test_the_same_film_on_both_engines(cluster, local_reference):
    cluster.start("a", "b")
    studio = Studio(cluster.data)
    name = studio.create("same", PROMPT, duration=12)
    from storyreel.engine.distributed import run_celery

    result = run_celery(cluster.data, name, timeout=180)
    local_result_nodes = {n["node"] for n in local_reference.plan("same")}
    assert set(result["ran"]) == local_result_nodes
    celery_film = _check_film(studio, name)
    local_film = _check_film(local_reference, "same")
    assert _normalized(celery_film) == _normalized(local_film)
    cdir, ldir = studio.project_dir(name), local_reference.project_dir("same")
    assert _folder_counts(cdir) == _folder_counts(ldir)
    kinds = lambda d: sorted(STAMP.sub("", p.name) for p in (d / "videos").iterdir())  # noqa: E731
    assert kinds(cdir) == kinds(ldir)
    for c_clip, l_clip in zip(studio.film(name).clips, local_reference.film("same").clips, strict=True):
        assert _frames(files.inside(cdir, c_clip.path)) == _frames(files.inside(ldir, l_clip.path))
    final = f"output/{name}_final.mp4"
    assert _frames(cdir / final) == _frames(ldir / final)
