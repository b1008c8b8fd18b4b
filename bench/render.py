"""Render benchmark of the local (offline) renderer: speed of a 60 s 1080p film and peak memory of a 5-minute
one.

    .venv/bin/python bench/render.py            # the full run (several minutes on 2 cores)
    .venv/bin/python bench/render.py --quick    # a smoke version (10 s and 20 s films)

(a) Speed. A 60 s 16:9 film (1920x1080, 24 fps) is made through the real engine with the ``local`` provider
(``Studio.create`` then ``Studio.run``): the run up to the keyframes is timed apart ("pre: story..keyframes"),
then the rest of the run — clips (rendered in parallel by the provider's process pool, one shot per process,
``os.cpu_count()`` workers), sound (voices, music) and the cut (mix + concat) — is timed as "clips+cut". The
film's length over that time is the render speed as a multiple of real time; the same over the whole run is
given too. From the jobs' own start/finish times: the wall-clock span and summed busy time of each step. Then
a profile of where clip time goes: a sample of the film's shots is rendered again in this process, once only
generating the frames (keyframe decode, camera move, dissolve, RGB->YUV) and once in full (plus x264 encoding
and muxing); and the concat alone is timed on the film's clips.

(b) Memory. A 300 s film is made from scratch (whole pipeline) in a child process while this process samples,
every 0.1 s, the child's process tree (the engine process, its render pool workers, espeak-ng): each process's
VmHWM (its own peak RSS, exact), and the sum over the tree of VmRSS and of PSS (proportional set size: shared
pages split between the processes that share them) at each sample — the tree's concurrent peak. The child also
reports getrusage(RUSAGE_SELF / RUSAGE_CHILDREN).ru_maxrss after joining its pool.

Targets: >= 2x real time on 2 cores; < 500 MB peak for the 5-minute film (judged on the tree's concurrent
RSS). Writes bench/results/render.json (render_quick.json with --quick) and prints a table. ``--cores N`` pins
the film-making child to N cores (sched_setaffinity) with N pool workers, to measure a 2-core figure on a
bigger box.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PROMPT = "A lighthouse keeper befriends a storm"
TARGET_SPEED = 2.0
TARGET_MB = 500.0


# --- child side: make a film, report timings ----------------------------------------------------------------


def _steps_summary(jobs: list[dict], since: float) -> dict:
    out: dict[str, dict] = {}
    for j in jobs:
        if j["reused"] or not j["started"] or not j["finished"] or j["started"] < since:
            continue
        s = out.setdefault(j["step"], {"jobs": 0, "busy_s": 0.0, "first": j["started"],
                                       "last": j["finished"]})
        s["jobs"] += 1
        s["busy_s"] += j["finished"] - j["started"]
        s["first"] = min(s["first"], j["started"])
        s["last"] = max(s["last"], j["finished"])
    return {k: {"jobs": v["jobs"], "busy_s": round(v["busy_s"], 2),
                "span_s": round(v["last"] - v["first"], 2)}
            for k, v in sorted(out.items(), key=lambda kv: kv[1]["first"])}


def child_speed(data: Path, duration: float, profile_shots: int) -> dict:
    from storyreel import Studio
    from storyreel.providers.local import provider

    studio = Studio(data)
    name = studio.create("speed", PROMPT, duration=duration, aspect="16:9")
    t0 = time.perf_counter()
    wall0 = time.time()
    studio.run(name, until="keyframes")
    t1 = time.perf_counter()
    wall1 = time.time()
    studio.run(name)
    t2 = time.perf_counter()
    film = studio.film(name)
    jobs = studio.store.jobs(name)
    out = {
        "film_seconds": film.cut.duration, "shots": len(film.shots), "reencoded": film.cut.reencoded,
        "transitions": {t: film.cut.transitions.count(t) for t in sorted(set(film.cut.transitions))},
        "camera_moves": {m: sum(1 for s in film.shots if s.camera_move == m)
                         for m in sorted({s.camera_move for s in film.shots})},
        "pre_keyframes_s": round(t1 - t0, 2), "clips_cut_s": round(t2 - t1, 2), "whole_s": round(t2 - t0, 2),
        "steps_pre": _steps_summary(jobs, wall0), "steps_timed": _steps_summary(jobs, wall1),
        "workers": int(os.environ.get("STORYREEL_RENDER_WORKERS") or max(1, os.cpu_count() or 1)),
    }
    provider.shutdown_pool()
    out["profile"] = _profile(studio, name, profile_shots)
    return out


def _profile(studio, name: str, n_shots: int) -> dict:
    """Where clip time goes, single process: frame generation vs encoding, and the concat alone."""
    from storyreel.media import video
    from storyreel.steps.cut import TRANSITION_SECONDS

    film = studio.film(name)
    pdir = studio.project_dir(name)
    shots = film.shots[: max(1, n_shots)]
    gen = full = 0.0
    frames = 0
    by_move: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(shots):
            first = pdir / s.first_frame.image
            last = pdir / s.last_frame.image if s.last_frame and s.last_frame.image else None
            n = max(1, round(s.duration * video.FPS))
            t = time.perf_counter()
            for _ in video._clip_frames(first, last, n, 1920, 1080, s.camera_move, video.FPS, None):
                pass
            g = time.perf_counter() - t
            t = time.perf_counter()
            video.render_clip(Path(tmp) / f"c{i}.mp4", first=first, last=last, duration=s.duration,
                              width=1920, height=1080, camera_move=s.camera_move)
            f = time.perf_counter() - t
            gen, full, frames = gen + g, full + f, frames + n
            by_move.setdefault(s.camera_move, []).append(f / (n / video.FPS))
        clips = [pdir / c.path for c in film.clips]
        t = time.perf_counter()
        info = video.concat(clips, list(film.cut.transitions), Path(tmp) / "cat.mp4",
                            transition_seconds=TRANSITION_SECONDS)
        cat = time.perf_counter() - t
        t = time.perf_counter()
        remux = video.concat(clips, ["cut"] * (len(clips) - 1), Path(tmp) / "cat_cuts.mp4")
        cat_cut = time.perf_counter() - t
    secs = frames / video.FPS
    return {
        "sample_shots": len(shots), "sample_seconds": round(secs, 2),
        "frame_generation_s": round(gen, 2), "render_clip_s": round(full, 2),
        "encode_mux_s": round(full - gen, 2), "encode_share": round((full - gen) / full, 3) if full else None,
        "render_clip_x_realtime_1core": round(secs / full, 2) if full else None,
        "seconds_per_film_second_by_move": {m: round(sum(v) / len(v), 3) for m, v in sorted(by_move.items())},
        "concat_s": round(cat, 2), "concat_reencoded": info["reencoded"],
        "concat_x_realtime": round(info["duration"] / cat, 2) if cat else None,
        "concat_all_cuts_s": round(cat_cut, 2), "concat_all_cuts_reencoded": remux["reencoded"],
    }


def child_memory(data: Path, duration: float) -> dict:
    import multiprocessing
    import resource

    from storyreel import Studio
    from storyreel.providers.local import provider

    studio = Studio(data)
    t0 = time.perf_counter()
    name = studio.create("memory", PROMPT, duration=duration, aspect="16:9")
    studio.run(name)
    elapsed = time.perf_counter() - t0
    provider.shutdown_pool()  # run_sync already let the pool go (without waiting): join the workers so that
    for proc in multiprocessing.active_children():  # RUSAGE_CHILDREN counts them
        proc.join(30)
    film = studio.film(name)
    return {"film_seconds": film.cut.duration, "shots": len(film.shots), "whole_s": round(elapsed, 2),
            "ru_maxrss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "ru_maxrss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


# --- parent side: run a child, sample its process tree ------------------------------------------------------


def _proc_kb(pid: int) -> tuple[int, int, str] | None:
    """(VmRSS kB, VmHWM kB, name) of a process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    vals = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM", "Name"):
            vals[k] = v.strip()
    if "VmRSS" not in vals:  # a zombie
        return None
    return int(vals["VmRSS"].split()[0]), int(vals.get("VmHWM", "0 kB").split()[0]), vals.get("Name", "?")


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            ppid = int(Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


class Sampler(threading.Thread):
    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.stop = threading.Event()
        self.hwm: dict[int, tuple[int, str]] = {}
        self.peak_rss = self.peak_pss = 0
        self.peak_rss_procs = 0
        self.samples = 0

    def run(self) -> None:
        while not self.stop.is_set():
            rss_sum = pss_sum = 0
            procs = 0
            for pid in _tree(self.pid):
                got = _proc_kb(pid)
                if got is None:
                    continue
                rss, hwm, name = got
                procs += 1
                rss_sum += rss
                pss_sum += _pss_kb(pid)
                if hwm >= self.hwm.get(pid, (0, ""))[0]:
                    self.hwm[pid] = (hwm, name)
            if rss_sum > self.peak_rss:
                self.peak_rss, self.peak_rss_procs = rss_sum, procs
            self.peak_pss = max(self.peak_pss, pss_sum)
            self.samples += 1
            self.stop.wait(self.interval)

    def summary(self) -> dict:
        top = sorted(self.hwm.items(), key=lambda kv: -kv[1][0])
        return {
            "tree_peak_rss_mb": round(self.peak_rss / 1024, 1), "processes_at_rss_peak": self.peak_rss_procs,
            "tree_peak_pss_mb": round(self.peak_pss / 1024, 1),
            "max_process_hwm_mb": round(top[0][1][0] / 1024, 1) if top else None,
            "sum_process_hwm_mb": round(sum(v[0] for v in self.hwm.values()) / 1024, 1),
            "processes_seen": len(self.hwm),
            "per_process_hwm_mb": [{"pid": pid, "name": name, "hwm_mb": round(kb / 1024, 1)}
                                   for pid, (kb, name) in top[:12]],
            "samples": self.samples,
        }


def run_child(mode: str, duration: float, cores: int | None, profile_shots: int) -> tuple[dict, dict]:
    env = dict(os.environ)
    env.pop("STORYREEL_DATA", None)
    if cores:
        env["STORYREEL_RENDER_WORKERS"] = str(cores)
    with tempfile.TemporaryDirectory(prefix=f"bench-render-{mode}-") as data:
        out = Path(data) / "result.json"
        cmd = [sys.executable, __file__, "--child", mode, "--data", data, "--duration", str(duration),
               "--result", str(out), "--profile-shots", str(profile_shots)]
        if cores:
            cmd += ["--cores", str(cores)]
        proc = subprocess.Popen(cmd, env=env)
        sampler = Sampler(proc.pid)
        sampler.start()
        rc = proc.wait()
        sampler.stop.set()
        sampler.join()
        if rc != 0:
            raise SystemExit(f"the {mode} child failed (exit {rc})")
        return json.loads(out.read_text()), sampler.summary()


def machine(cores: int | None) -> dict:
    import av
    import numpy
    import PIL

    model = ""
    try:
        model = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                      if ln.startswith("model name")), "")
    except OSError:
        pass
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        mem_gb = None
    return {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cores_pinned": cores,
            "cpu_model": model, "memory_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform(), "pyav": av.__version__, "ffmpeg": ".".join(
                str(v) for v in av.library_versions.get("libavcodec", ())), "numpy": numpy.__version__,
            "pillow": PIL.__version__}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run: a 10 s and a 20 s film")
    ap.add_argument("--speed-duration", type=float, default=None, help="film length for (a), seconds (60)")
    ap.add_argument("--memory-duration", type=float, default=None, help="film length for (b), seconds (300)")
    ap.add_argument("--cores", type=int, default=None, help="pin the film-making child to N cores, N workers")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    # child mode (internal)
    ap.add_argument("--child", choices=("speed", "memory"), help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profile-shots", type=int, default=6, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        if args.cores:
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
        res = (child_speed(args.data, args.duration, args.profile_shots) if args.child == "speed"
               else child_memory(args.data, args.duration))
        args.result.write_text(json.dumps(res))
        return

    speed_d = args.speed_duration or (10.0 if args.quick else 60.0)
    mem_d = args.memory_duration or (20.0 if args.quick else 300.0)
    cmd = "bench/render.py" + (" --quick" if args.quick else "")
    cmd += f" --cores {args.cores}" if args.cores else ""
    print(f"(a) speed: making a {speed_d:g} s 1080p film ...", flush=True)
    speed, speed_mem = run_child("speed", speed_d, args.cores, 2 if args.quick else 6)
    result = {"bench": "render", "command": f".venv/bin/python {cmd}",
              "when": time.strftime("%Y-%m-%d %H:%M:%S"),
              "machine": machine(args.cores),
              "targets": {"x_realtime_min": TARGET_SPEED, "peak_mb_max": TARGET_MB, "on_cores": 2}}
    film_s = speed["film_seconds"]
    speed["x_realtime_clips_cut"] = round(film_s / speed["clips_cut_s"], 2)
    speed["x_realtime_whole"] = round(film_s / speed["whole_s"], 2)
    speed["memory"] = {k: speed_mem[k]
                       for k in ("tree_peak_rss_mb", "tree_peak_pss_mb", "max_process_hwm_mb")}
    result["speed"] = speed
    if not args.skip_memory:
        print(f"(b) memory: making a {mem_d:g} s film ...", flush=True)
        mem, tree = run_child("memory", mem_d, args.cores, 0)
        result["memory"] = {**mem, **tree}
    cores = args.cores or len(os.sched_getaffinity(0))
    verdict = {"speed_ok": speed["x_realtime_clips_cut"] >= TARGET_SPEED,
               "speed_measured_on_cores": cores}
    if "memory" in result:
        verdict["memory_ok"] = result["memory"]["tree_peak_rss_mb"] < TARGET_MB
    result["verdict"] = verdict
    out = args.out or ROOT / "bench" / "results" / ("render_quick.json" if args.quick else "render.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")

    p = speed["profile"]
    rows = [
        ("machine", f"{result['machine']['cpus_usable']} cores ({result['machine']['cpu_model'][:40]}), "
                    f"py {result['machine']['python']}, PyAV {result['machine']['pyav']}"),
        ("(a) film", f"{film_s:g} s, {speed['shots']} shots, 1920x1080, {speed['workers']} workers, "
                     f"cut re-encoded: {speed['reencoded']}"),
        ("    pre (story..keyframes)", f"{speed['pre_keyframes_s']:.1f} s"),
        ("    clips+sound+cut",
         f"{speed['clips_cut_s']:.1f} s  -> {speed['x_realtime_clips_cut']:.2f}x real time "
         f"(target >= {TARGET_SPEED:g}x: {'ok' if verdict['speed_ok'] else 'MISSED'})"),
        ("    whole pipeline", f"{speed['whole_s']:.1f} s  -> {speed['x_realtime_whole']:.2f}x real time"),
    ]
    for step in ("clip", "voices", "music", "cut"):
        if step in speed["steps_timed"]:
            st = speed["steps_timed"][step]
            rows.append((f"    step {step}", f"span {st['span_s']:.1f} s, busy {st['busy_s']:.1f} s over "
                                              f"{st['jobs']} jobs"))
    rows += [
        ("    profile: render_clip 1 core", f"{p['render_clip_x_realtime_1core']}x real time; encode+mux "
                                            f"{100 * (p['encode_share'] or 0):.0f}% of clip time"),
        ("    profile: concat",
         f"{p['concat_s']:.1f} s ({p['concat_x_realtime']}x real time, re-encoded: {p['concat_reencoded']}); "
         f"all cuts: {p['concat_all_cuts_s']:.1f} s (re-encoded: {p['concat_all_cuts_reencoded']})"),
    ]
    if "memory" in result:
        m = result["memory"]
        rows += [
            ("(b) film", f"{m['film_seconds']:g} s, {m['shots']} shots, whole pipeline {m['whole_s']:.0f} s"),
            ("    tree peak RSS (concurrent sum)",
             f"{m['tree_peak_rss_mb']:.0f} MB over {m['processes_at_rss_peak']} processes "
             f"(target < {TARGET_MB:g} MB: {'ok' if verdict['memory_ok'] else 'MISSED'})"),
            ("    tree peak PSS (concurrent sum)", f"{m['tree_peak_pss_mb']:.0f} MB"),
            ("    max one process (VmHWM)", f"{m['max_process_hwm_mb']:.0f} MB; sum of all HWMs "
                                            f"{m['sum_process_hwm_mb']:.0f} MB"),
            ("    ru_maxrss self / children",
             f"{m['ru_maxrss_self_mb']:.0f} / {m['ru_maxrss_children_mb']:.0f} MB"),
        ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
