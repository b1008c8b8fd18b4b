"""Distributed benchmark: many films on Celery workers, against the best any scheduler could do.

FILMS films of SHOTS shots each (durations found so the draft writer plans exactly that many shots) run at
once through the real thing (`run_celery` orchestrators, `storyreel worker` processes, Redis, PostgreSQL) on
1, 2 and 4 worker processes of CONCURRENCY threads each. Every provider call takes LATENCY seconds: workers
and orchestrators run with STORYREEL_BENCH_LATENCY set, which swaps the local provider for
`celery_app.LatencyProvider` (sleep, then the draft writer for text, espeak/NumPy for speech and music, tiny
precomputed stills and still clips in the film's format, plain cuts), so the figures measure orchestration,
not rendering.

For each worker count it reports throughput (nodes/s, films/min) and the makespan against the lower bound
max(critical path, total work / total slots). Work is counted two ways: the provider time alone (calls x
LATENCY, the bench/scheduler.py convention) and as measured (each job's claim to commit, which adds the
engine's own work and the machine's contention). `ideal_s` is a zero-overhead critical-path-first list
schedule of the same graphs on the same slots, for reference.

    .venv/bin/python bench/distributed.py [--workers 1 2 4] [--films 20] [--shots 20] [--latency 1.0]
                                          [--concurrency 8]

Needs PostgreSQL (STORYREEL_BENCH_POSTGRES, default postgresql://postgres@127.0.0.1:5432/test, used to create
and drop a scratch database per configuration) and Redis (STORYREEL_BENCH_REDIS, default
redis://127.0.0.1:6379/0, under a unique key prefix). Writes bench/results/distributed.json.
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from storyreel import Studio  # noqa: E402
from storyreel.engine.celery_app import LatencyProvider  # noqa: E402

PG_ADMIN = os.environ.get("STORYREEL_BENCH_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/test"
REDIS = os.environ.get("STORYREEL_BENCH_REDIS") or "redis://127.0.0.1:6379/0"

PROMPTS = [
    "A lighthouse keeper befriends a storm", "A clockmaker races the tide", "A fox steals a lantern",
    "Two sisters restore a flooded cinema", "A retired astronaut teaches a crow to count",
    "A baker's oven starts predicting the weather", "A night-shift nurse finds a map in a patient's coat",
    "A chess prodigy loses to a street sweeper", "A tailor sews a coat that remembers its owners",
    "A beekeeper negotiates with a city council", "A ferry captain refuses to cross on the last day",
    "A librarian hides a runaway robot among the encyclopedias",
    "A glassblower's apprentice breaks the heirloom",
    "A mountain rescue dog retires to a seaside town", "A violinist busks for a stolen instrument",
    "An old cartographer charts a village that keeps moving",
    "A gardener grows a tree indoors for a dying friend",
    "A radio host answers a call from forty years ago", "A boy builds a raft to follow the migrating geese",
    "A florist and a mortician share a shop front",
]


# --- films of exactly SHOTS shots ---------------------------------------------------------------------------


def find_durations(prompts: list[str], shots: int, scratch: Path) -> dict[str, tuple[float, int]]:
    """For each prompt, a duration for which the draft writer plans ``shots`` shots (or the closest found)."""
    studio = Studio(scratch, database_url=f"sqlite:///{scratch / 'search.db'}")
    fast = {"local": LatencyProvider(0.0)}
    out = {}
    for i, prompt in enumerate(prompts):
        duration, best = shots * 3.3, None
        for attempt in range(10):
            name = f"search-{i}-{attempt}"
            studio.create(name, prompt, duration=duration)
            studio.run(name, until="shots", adapters=fast)
            got = len(studio.film(name).shots)
            if best is None or abs(got - shots) < abs(best[1] - shots):
                best = (duration, got)
            if got == shots:
                break
            duration = max(5.0, duration + (shots - got) * (2.5 if attempt < 4 else 1.0))
        out[prompt] = best
    return out


# --- services -----------------------------------------------------------------------------------------------


def create_database() -> str:
    import psycopg

    name = f"storyreel_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    import psycopg

    from storyreel.store import db

    for key in [k for k in db._engines if k.endswith(f"/{name}")]:
        db._engines.pop(key).dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def clear_redis(prefix: str) -> None:
    import redis

    client = redis.Redis.from_url(REDIS)
    keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (and its waited-for children) from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def start_workers(n: int, concurrency: int, env: dict[str, str], logs: Path) -> list[subprocess.Popen]:
    procs = []
    for i in range(n):
        log = open(logs / f"worker-{i}.log", "w")  # noqa: SIM115 - lives as long as the worker
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "storyreel.cli", "worker", "-n", f"bench{i}@%h", "--concurrency",
             str(concurrency)], env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
    deadline = time.time() + 90
    for i, p in enumerate(procs):
        path = logs / f"worker-{i}.log"
        while " ready." not in path.read_text(errors="replace"):
            if p.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"worker {i} did not start: {path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
    return procs


def stop_workers(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


# --- one configuration --------------------------------------------------------------------------------------


def run_config(workers: int, films: dict[str, tuple[float, int]], latency: float, concurrency: int,
               tmp: Path) -> dict:
    from storyreel.engine import dist_store
    from storyreel.engine.distributed import run_celery

    db = create_database()
    tag = uuid.uuid4().hex[:8]
    data, logs = tmp / f"data-{workers}", tmp / f"logs-{workers}"
    data.mkdir()
    logs.mkdir()
    env = {"STORYREEL_DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + f"/{db}", "STORYREEL_DATA": str(data),
           "STORYREEL_BROKER_URL": REDIS, "STORYREEL_QUEUE": f"bench-{tag}",
           "STORYREEL_BROKER_PREFIX": f"storyreel-bench-{tag}:", "STORYREEL_BENCH_LATENCY": str(latency),
           "STORYREEL_WORKER_CONCURRENCY": str(concurrency), "STORYREEL_RENDER_WORKERS": "1"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # the orchestrators below read the same
    procs: list[subprocess.Popen] = []
    try:
        studio = Studio(data)
        names = []
        for i, (prompt, (duration, _)) in enumerate(films.items()):
            names.append(studio.create(f"film-{i:02d}", prompt, duration=duration))
        procs = start_workers(workers, concurrency, env, logs)
        outcomes: dict[str, object] = {}

        def orchestrate(name: str) -> None:
            try:
                outcomes[name] = run_celery(data, name, timeout=3600)
            except BaseException as e:
                outcomes[name] = e

        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.time()
        threads = [threading.Thread(target=orchestrate, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        makespan = time.time() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        worker_cpu = sum(cpu_seconds(p.pid) for p in procs)
        failed = {n: repr(o) for n, o in outcomes.items() if isinstance(o, BaseException)}
        if failed:
            raise RuntimeError(f"runs failed: {failed}")
        graph = {}
        deliveries = takeovers = 0
        for name in names:
            jobs = {j["node"]: j for j in studio.store.jobs(name) if j["status"] == "done"}
            for n in studio.plan(name):
                j = jobs[n["node"]]
                graph[f"{name}/{n['node']}"] = {
                    "deps": [f"{name}/{d}" for d in n["deps"]],
                    "calls": len((j["request"] or {}).get("attempts", [])),
                    "measured": j["finished"] - j["started"], "start": j["started"], "end": j["finished"]}
            with studio.store.engine.connect() as conn:
                rows = dist_store.project_claims(conn, name)
            deliveries += sum(r.deliveries for r in rows)
            takeovers += sum(r.takeovers for r in rows)
        return summarize(workers, concurrency, latency, names, graph, makespan, t0, deliveries, takeovers,
                         worker_cpu, (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime))
    finally:
        stop_workers(procs)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        drop_database(db)
        clear_redis(env["STORYREEL_BROKER_PREFIX"])
        shutil.rmtree(data, ignore_errors=True)


def longest_path(graph: dict[str, dict], weight: str) -> float:
    finish: dict[str, float] = {}
    for node in graph:  # plan order per film is topological, films are independent
        finish[node] = graph[node][weight] + max((finish[d] for d in graph[node]["deps"]), default=0.0)
    return max(finish.values())


def list_schedule(graph: dict[str, dict], weight: str, slots: int) -> float:
    """Makespan of a zero-overhead critical-path-first list scheduler on ``slots`` slots."""
    children: dict[str, list[str]] = {n: [] for n in graph}
    for n, g in graph.items():
        for d in g["deps"]:
            children[d].append(n)
    level: dict[str, float] = {}
    for n in reversed(list(graph)):
        level[n] = graph[n][weight] + max((level[c] for c in children[n]), default=0.0)
    waiting = {n: len(g["deps"]) for n, g in graph.items()}
    ready = [(-level[n], n) for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    t = 0.0
    while ready or running:
        while ready and len(running) < slots:
            _, n = heapq.heappop(ready)
            heapq.heappush(running, (t + graph[n][weight], n))
        t, n = heapq.heappop(running)
        for c in children[n]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-level[c], c))
    return t


def summarize(workers: int, concurrency: int, latency: float, names: list[str], graph: dict, makespan: float,
              t0: float, deliveries: int, takeovers: int, worker_cpu: float, orchestrator_cpu: float) -> dict:
    for g in graph.values():
        g["provider"] = g["calls"] * latency
    slots = workers * concurrency
    nodes = len(graph)
    out = {"workers": workers, "slots": slots, "films": len(names), "nodes": nodes,
           "provider_calls": sum(g["calls"] for g in graph.values()),
           "makespan_s": round(makespan, 2), "nodes_per_s": round(nodes / makespan, 2),
           "films_per_min": round(60 * len(names) / makespan, 2)}
    for weight in ("provider", "measured"):
        critical = longest_path(graph, weight)
        work = sum(g[weight] for g in graph.values())
        bound = max(critical, work / slots)
        out[weight] = {"critical_path_s": round(critical, 2), "work_s": round(work, 2),
                       "work_per_slot_s": round(work / slots, 2), "lower_bound_s": round(bound, 2),
                       "makespan_over_lower_bound": round(makespan / bound, 3)}
    out["provider"]["ideal_s"] = round(list_schedule(graph, "provider", slots), 2)
    out["slot_utilization"] = round(out["measured"]["work_s"] / (makespan * slots), 3)
    out["deliveries"] = deliveries
    out["takeovers"] = takeovers
    out["worker_cpu_s"] = round(worker_cpu, 1)
    out["orchestrators_cpu_s"] = round(orchestrator_cpu, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--films", type=int, default=20)
    ap.add_argument("--shots", type=int, default=20)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="storyreel-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "search").mkdir()
        t = time.time()
        films = find_durations(PROMPTS[: args.films], args.shots, tmp / "search")
        print(f"durations for {args.shots} shots found in {time.time() - t:.0f}s: "
              f"{sorted({s for _, s in films.values()})} shots", flush=True)
        rows = []
        for n in args.workers:
            print(f"running {args.films} films on {n} worker process(es) x {args.concurrency} ...",
                  flush=True)
            rows.append(run_config(n, films, args.latency, args.concurrency, tmp))
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "films": args.films, "shots_per_film": sorted({s for _, s in films.values()}),
        "latency_s": args.latency, "concurrency_per_worker": args.concurrency, "runs": rows,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "python bench/distributed.py " + " ".join(sys.argv[1:]),
    }
    out = ROOT / "bench" / "results" / "distributed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    head = (f"{'workers':>7} {'slots':>5} {'nodes':>6} {'makespan':>9} {'nodes/s':>8} {'films/min':>9} "
            f"{'bound(prov)':>11} {'ratio':>6} {'bound(meas)':>11} {'ratio':>6} {'ideal':>7} {'util':>5}")
    print(head)
    for r in rows:
        p, m = r["provider"], r["measured"]
        print(f"{r['workers']:>7} {r['slots']:>5} {r['nodes']:>6} {r['makespan_s']:>8.1f}s "
              f"{r['nodes_per_s']:>8.2f} {r['films_per_min']:>9.2f} {p['lower_bound_s']:>10.1f}s "
              f"{p['makespan_over_lower_bound']:>6.2f} "
              f"{m['lower_bound_s']:>10.1f}s {m['makespan_over_lower_bound']:>6.2f} {p['ideal_s']:>6.1f}s "
              f"{r['slot_utilization']:>5.2f}")


if __name__ == "__main__":
    main()
