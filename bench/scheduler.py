"""Scheduler benchmark: how close the engine gets to the best possible schedule, and what it costs per node.

A 40-shot film (8 scenes x 5 shots) runs through the real engine and store with every provider call replaced by a
sleep of LATENCY seconds (text answers still come from the draft writer; images and clips are tiny stand-ins),
with at most CONCURRENCY calls in flight. From the jobs' own start/finish times it computes the critical path
and the total work, and so the lower bound max(critical path, work / concurrency); the measured makespan's ratio
to it says how much the scheduler wastes. In the same run it measures the makespan with stage barriers (each step
waits for the whole previous step, as a plain sequential pipeline does) and, with zero latency, the engine's own
overhead per node (planning, cache keys, job records, Film versions — everything but the provider).

    .venv/bin/python bench/scheduler.py [--latency 0.25] [--concurrency 8]

Writes bench/results/scheduler.json.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from storyreel import Studio  # noqa: E402
from storyreel.engine.local import LocalEngine  # noqa: E402
from storyreel.plan.graph import Plan  # noqa: E402
from storyreel.providers.base import ImageResult, MusicResult, SpeechResult, VideoResult  # noqa: E402
from storyreel.providers.local.provider import LocalProvider  # noqa: E402
from storyreel.steps import STEPS  # noqa: E402

SCENES, SHOTS_PER_SCENE = 8, 5


def _tiny_png() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 36), (200, 200, 200)).save(buf, "PNG")
    return buf.getvalue()


class LatencyProvider:
    """Every call sleeps LATENCY seconds; text comes from the draft writer shaped into 8 scenes x 5 shots."""

    name = "local"

    def __init__(self, latency: float, tiny_clip: Path):
        self.latency = latency
        self.local = LocalProvider()
        self.png = _tiny_png()
        self.tiny_clip = tiny_clip.read_bytes()

    def capabilities(self) -> set[str]:
        return self.local.capabilities()

    async def text(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        result = await self.local.text(req, route, call)
        data = result.output.model_dump()
        if req.step == "outline":
            base = data["scenes"][0]
            data["scenes"] = [{**base, "heading": f"INT. ROOM {i} - DAY", "location": f"Room {i}",
                               "duration": 5.0} for i in range(SCENES)]
        elif req.step == "shot_list":
            shot = data["shots"][0]
            lines = [d for s in data["shots"] for d in s["dialogue"]]
            data["shots"] = [{**shot, "dialogue": lines if i == 1 else [], "duration": 1.0,
                              "clip_strategy": "continue" if i == 2 else "first-last-frame", "transition": "cut"}
                             for i in range(SHOTS_PER_SCENE)]
        result.output = req.output.model_validate(data)
        return result

    async def image(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        return ImageResult(data=self.png, model="bench")

    async def video(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        req.out_path.write_bytes(self.tiny_clip)
        return VideoResult(path=req.out_path, strategy=req.strategy, model="bench")

    async def speech(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        return SpeechResult(path=None, duration=1.0, voice="silent (subtitles)")

    async def music(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        from storyreel.media import audio

        audio.music_bed([(0.0, 1.0, 90, "major")], 1.0, req.out_path, seed=0)
        return MusicResult(path=req.out_path, model="bench")


def tiny_clip(folder: Path) -> Path:
    from PIL import Image

    from storyreel.media import video

    still = folder / "still.png"
    Image.new("RGB", (64, 36), (120, 120, 120)).save(still)
    return video.render_clip(folder / "tiny.mp4", first=still, last=None, duration=1.0, width=64, height=36).path


def run_once(data: Path, name: str, latency: float, concurrency: int, clip: Path, barriers: bool) -> dict:
    data.mkdir(parents=True, exist_ok=True)
    (data / "storyreel.toml").write_text(f"[providers.local]\nconcurrency = {concurrency}\n")
    studio = Studio(data)
    studio.create(name, "A lighthouse keeper befriends a storm", duration=SCENES * 5.0)
    engine = LocalEngine(studio.store, adapters={"local": LatencyProvider(latency, clip)}, barriers=barriers)
    t0 = time.perf_counter()
    asyncio.run(engine.run(name))
    makespan = time.perf_counter() - t0
    film = studio.film(name)
    assert len(film.shots) == SCENES * SHOTS_PER_SCENE, len(film.shots)
    jobs = {j["node"]: j for j in studio.store.jobs(name) if j["status"] == "done"}
    plan = Plan(film, STEPS)
    calls = {n: len((j["request"] or {}).get("attempts", [])) for n, j in jobs.items()}
    # a node's own work is its provider calls, one after another (waiting for a slot is not work)
    dur = {n.id: calls[n.id] * latency for n in plan.nodes}
    finish: dict[str, float] = {}
    for n in plan.nodes:  # topological order: the longest chain of durations ending at each node
        finish[n.id] = dur[n.id] + max((finish[d] for d in n.deps), default=0.0)
    critical = max(finish.values())
    work = sum(dur.values())
    return {"makespan": makespan, "critical_path": critical, "work": work, "nodes": len(plan.nodes),
            "provider_calls": sum(calls.values()), "lower_bound": max(critical, work / concurrency),
            "ideal": list_schedule(plan, dur, concurrency), "bookkeeping": engine.bookkeeping}


def list_schedule(plan: Plan, dur: dict[str, float], slots: int) -> float:
    """Makespan of an ideal zero-overhead scheduler on the same graph: critical-path-first list scheduling.
    (Not a bound: what a perfect engine with no overhead would get, for reference.)"""
    import heapq

    level: dict[str, float] = {}
    children: dict[str, list[str]] = {n.id: [] for n in plan.nodes}
    for n in plan.nodes:
        for d in n.deps:
            children[d].append(n.id)
    for n in reversed(plan.nodes):
        level[n.id] = dur[n.id] + max((level[c] for c in children[n.id]), default=0.0)
    waiting = {n.id: len(n.deps) for n in plan.nodes}
    ready = [(-level[n], n) for n, k in waiting.items() if k == 0]
    heapq.heapify(ready)
    running: list[tuple[float, str]] = []
    t = 0.0
    while ready or running:
        while ready and len(running) < slots:
            _, n = heapq.heappop(ready)
            heapq.heappush(running, (t + dur[n], n))
        t, n = heapq.heappop(running)
        for c in children[n]:
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-level[c], c))
    return t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.25)
    ap.add_argument("--concurrency", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        clip = tiny_clip(tmp)
        graph = run_once(tmp / "graph", "graph", args.latency, args.concurrency, clip, barriers=False)
        staged = run_once(tmp / "staged", "staged", args.latency, args.concurrency, clip, barriers=True)
        zero = run_once(tmp / "zero", "zero", 0.0, args.concurrency, clip, barriers=False)
    result = {
        "film": f"{SCENES} scenes x {SHOTS_PER_SCENE} shots = {SCENES * SHOTS_PER_SCENE} shots",
        "latency_s": args.latency, "concurrency": args.concurrency, "nodes": graph["nodes"],
        "provider_calls": graph["provider_calls"],
        "makespan_s": round(graph["makespan"], 3), "critical_path_s": round(graph["critical_path"], 3),
        "work_s": round(graph["work"], 3), "lower_bound_s": round(graph["lower_bound"], 3),
        "ratio_to_lower_bound": round(graph["makespan"] / graph["lower_bound"], 3),
        "makespan_with_stage_barriers_s": round(staged["makespan"], 3),
        "speedup_over_barriers": round(staged["makespan"] / graph["makespan"], 2),
        "ideal_list_schedule_s": round(graph["ideal"], 3),
        "ratio_to_ideal_schedule": round(graph["makespan"] / graph["ideal"], 3),
        "engine_overhead_ms_per_node": round(1000 * zero["bookkeeping"] / zero["nodes"], 3),
        "zero_latency_wall_ms_per_node": round(1000 * zero["makespan"] / zero["nodes"], 3),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "command": "python bench/scheduler.py " + " ".join(sys.argv[1:]),
    }
    out = ROOT / "bench" / "results" / "scheduler.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    for k, v in result.items():
        print(f"{k:34s} {v}")


if __name__ == "__main__":
    main()
