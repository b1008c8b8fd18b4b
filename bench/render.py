"""Render benchmark of the local (offline) renderer: speed of a 60 s 1080p film and peak memory of a 5-minute
one, in one run.

    .venv/bin/python bench/render.py            # the full run (about 12 minutes on 2 cores)
    .venv/bin/python bench/render.py --quick    # a smoke version (10 s and 20 s films)

(a) Speed. A 60 s 16:9 film (1920x1080, 24 fps) is made through the real engine with the ``local`` provider
(``Studio.create`` then ``Studio.run``), in a child process: the run up to the keyframes is timed apart ("pre"),
then the rest of the run — clips (rendered in parallel by the provider's process pool, one shot per process,
``os.cpu_count()`` workers), sound (voices, music) and the cut (mix + concat) — is timed as "clips+sound+cut".
The film's length over that time is the render speed as a multiple of real time (the same over the whole run is
given too). The fastest of ``--repeat`` runs counts: on a shared machine other load only ever slows a run down.
Because the wall clock depends on that load, the CPU time (user + system) of the engine process and its pool
workers over the same stretch is reported too, with the speed it allows on otherwise idle cores (an upper
bound: it assumes perfect sharing) and the load average before and after. Then a profile, in one process: a
sample of the film's shots (camera moves first) is rendered again, once only generating the frames (keyframe
decode, camera move, dissolve, RGB->YUV) and once in full (plus x264 and muxing), in CPU seconds; the music
bed, the mix, and the concat with and without audio are timed on the film's own files.

(b) Memory. A 300 s film is made from scratch (whole pipeline) in a child process while this process samples,
every 0.1 s, the child's process tree (the engine process, its render pool workers, espeak-ng): each process's
VmHWM (its own peak RSS, exact), and the sum over the tree of VmRSS and of PSS (proportional set size: pages
shared by forked workers counted once) at each sample — the tree's concurrent peak. The child also reports
getrusage(RUSAGE_SELF / RUSAGE_CHILDREN).ru_maxrss after joining its pool. Then each part alone (imports only,
one 1080p render_clip of the film's longest moving shot, the music bed, the mix) runs in a fresh process on
that film's files, to show which part holds the memory.

Targets: >= 2x real time on 2 cores; < 500 MB peak for the 5-minute film (judged on the tree's concurrent
RSS). Writes bench/results/render.json (render_quick.json with --quick) with the figures, the machine and the
command, and prints a table. ``--cores N`` pins the film-making child to N cores (sched_setaffinity) with N
pool workers, to measure a 2-core figure on a bigger machine.
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


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of its children that were waited for."""
    import resource

    a, b = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def _self_cpu() -> float:
    import resource

    a = resource.getrusage(resource.RUSAGE_SELF)
    return a.ru_utime + a.ru_stime


def _reap() -> None:
    """run_sync lets the render pool go without waiting: join its workers, so their CPU time and peak RSS
    reach RUSAGE_CHILDREN."""
    import multiprocessing

    from storyreel.providers.local import provider

    provider.shutdown_pool()
    for proc in multiprocessing.active_children():
        proc.join(60)


def child_speed(data: Path, duration: float, profile_shots: int) -> dict:
    from storyreel import Studio

    studio = Studio(data)
    name = studio.create("speed", PROMPT, duration=duration, aspect="16:9")
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), _cpu()
    wall0 = time.time()
    studio.run(name, until="keyframes")
    _reap()
    t1, c1, s1 = time.perf_counter(), _cpu(), _self_cpu()
    wall1 = time.time()
    studio.run(name)
    _reap()
    t2, c2, s2 = time.perf_counter(), _cpu(), _self_cpu()
    load1 = os.getloadavg()
    film = studio.film(name)
    jobs = studio.store.jobs(name)
    workers = int(os.environ.get("STORYREEL_RENDER_WORKERS") or max(1, os.cpu_count() or 1))
    cores = len(os.sched_getaffinity(0))
    cpu_timed = c2 - c1
    out = {
        "film_seconds": film.cut.duration, "shots": len(film.shots), "reencoded": film.cut.reencoded,
        "transitions": {t: film.cut.transitions.count(t) for t in sorted(set(film.cut.transitions))},
        "camera_moves": {m: sum(1 for s in film.shots if s.camera_move == m)
                         for m in sorted({s.camera_move for s in film.shots})},
        "clip_strategies": {m: sum(1 for c in film.clips if c.strategy == m)
                            for m in sorted({c.strategy for c in film.clips})},
        "pre_keyframes_s": round(t1 - t0, 2), "clips_cut_s": round(t2 - t1, 2), "whole_s": round(t2 - t0, 2),
        "cpu_pre_s": round(c1 - c0, 2), "cpu_clips_cut_s": round(cpu_timed, 2),
        "cpu_clips_cut_main_s": round(s2 - s1, 2), "cpu_clips_cut_workers_s": round(cpu_timed - (s2 - s1), 2),
        # what the same CPU work would take on `cores` otherwise idle cores, perfectly shared: an upper bound on
        # the speed when the wall clock is inflated by other load on the machine
        "x_realtime_cpu_bound": round(film.cut.duration / (cpu_timed / cores), 2) if cpu_timed else None,
        "loadavg_before": [round(v, 2) for v in load0], "loadavg_after": [round(v, 2) for v in load1],
        "steps_pre": _steps_summary(jobs, wall0), "steps_timed": _steps_summary(jobs, wall1),
        "workers": workers, "cores": cores,
    }
    out["profile"] = _profile(studio, name, profile_shots)
    return out


def _profile(studio, name: str, n_shots: int) -> dict:
    """Where the time goes, in this one process: per clip frame generation vs encoding (wall and CPU time,
    the latter counting x264's own threads), the music bed, the mix, and the concat with and without audio."""
    from storyreel.media import audio, video
    from storyreel.steps.cut import TRANSITION_SECONDS

    film = studio.film(name)
    pdir = studio.project_dir(name)
    # the sample: the first shots with a last keyframe, favouring camera moves (the costly clips)
    shots = sorted(film.shots, key=lambda s: (s.camera_move == "static", s.number))[: max(1, n_shots)]
    gen = full = gen_cpu = full_cpu = 0.0
    frames = 0
    by_move: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i, s in enumerate(shots):
            first = pdir / s.first_frame.image
            last = pdir / s.last_frame.image if s.last_frame and s.last_frame.image else None
            n = max(1, round(s.duration * video.FPS))
            t, c = time.perf_counter(), time.process_time()
            for _ in video._clip_frames(first, last, n, 1920, 1080, s.camera_move, video.FPS, None):
                pass
            gen, gen_cpu = gen + time.perf_counter() - t, gen_cpu + time.process_time() - c
            t, c = time.perf_counter(), time.process_time()
            video.render_clip(Path(tmp) / f"c{i}.mp4", first=first, last=last, duration=s.duration,
                              width=1920, height=1080, camera_move=s.camera_move)
            f, fc = time.perf_counter() - t, time.process_time() - c
            full, full_cpu, frames = full + f, full_cpu + fc, frames + n
            by_move.setdefault(s.camera_move, []).append(fc / (n / video.FPS))
        total = film.cut.duration
        t = time.perf_counter()
        cues = _music_cues(film)
        audio.music_bed(cues, total, Path(tmp) / "music.wav", seed=1)
        music_s = time.perf_counter() - t
        t = time.perf_counter()
        audio.mix(total, Path(tmp) / "mix.wav", music=Path(tmp) / "music.wav", dialogue=_spoken(film, pdir))
        mix_s = time.perf_counter() - t
        clips = [pdir / c.path for c in film.clips]
        t = time.perf_counter()
        info = video.concat(clips, list(film.cut.transitions), Path(tmp) / "cat.mp4",
                            transition_seconds=TRANSITION_SECONDS)
        cat = time.perf_counter() - t
        t = time.perf_counter()
        video.concat(clips, list(film.cut.transitions), Path(tmp) / "cat_audio.mp4", audio=Path(tmp) / "mix.wav",
                     transition_seconds=TRANSITION_SECONDS)
        cat_audio = time.perf_counter() - t
        t = time.perf_counter()
        remux = video.concat(clips, ["cut"] * (len(clips) - 1), Path(tmp) / "cat_cuts.mp4")
        cat_cut = time.perf_counter() - t
    secs = frames / video.FPS
    return {
        "sample_shots": len(shots), "sample_seconds": round(secs, 2),
        "sample_moves": sorted({s.camera_move for s in shots}),
        "frame_generation_s": round(gen, 2), "render_clip_s": round(full, 2),
        "frame_generation_cpu_s": round(gen_cpu, 2), "render_clip_cpu_s": round(full_cpu, 2),
        "encode_share_cpu": round((full_cpu - gen_cpu) / full_cpu, 3) if full_cpu else None,
        "render_clip_x_realtime_per_cpu": round(secs / full_cpu, 2) if full_cpu else None,
        "render_clip_x_realtime_wall": round(secs / full, 2) if full else None,
        "cpu_s_per_film_second_by_move": {m: round(sum(v) / len(v), 3) for m, v in sorted(by_move.items())},
        "music_bed_s": round(music_s, 2), "mix_s": round(mix_s, 2),
        "concat_s": round(cat, 2), "concat_reencoded": info["reencoded"],
        "concat_with_audio_s": round(cat_audio, 2),
        "concat_all_cuts_s": round(cat_cut, 2), "concat_all_cuts_reencoded": remux["reencoded"],
    }


def _music_cues(film) -> list[tuple[float, float, int, str]]:
    from storyreel.steps.cut import shot_starts

    starts = dict(zip([s.id for s in film.shots], shot_starts([{"duration": s.duration, "transition": s.transition}
                                                              for s in film.shots]), strict=True))
    cues = []
    for sc in film.scenes:
        mine = [s for s in film.shots if s.scene_id == sc.id]
        if not mine:
            continue
        t0 = starts[mine[0].id]
        length = sum(s.duration for s in mine)
        snd = sc.sound
        cues.append((t0, length, snd.tempo if snd else 90, snd.mode if snd else "major"))
    return cues


def _spoken(film, pdir: Path) -> list[tuple[float, Path]]:
    from storyreel.steps.cut import shot_starts

    starts = dict(zip([s.id for s in film.shots], shot_starts([{"duration": s.duration, "transition": s.transition}
                                                              for s in film.shots]), strict=True))
    voiced = {v.line_id: v for sc in film.scenes for v in sc.voices or [] if v.audio}
    return [(starts[c.shot_id] + c.start, pdir / voiced[c.line_id].audio) for sc in film.scenes
            for c in (sc.sound.dialogue if sc.sound else []) if c.line_id in voiced and c.shot_id in starts]


def child_memory(data: Path, duration: float) -> dict:
    import resource

    from storyreel import Studio

    studio = Studio(data)
    t0 = time.perf_counter()
    name = studio.create("memory", PROMPT, duration=duration, aspect="16:9")
    studio.run(name)
    elapsed = time.perf_counter() - t0
    _reap()
    film = studio.film(name)
    return {"film_seconds": film.cut.duration, "shots": len(film.shots), "whole_s": round(elapsed, 2),
            "ru_maxrss_self_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "ru_maxrss_children_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def memory_parts(data: Path) -> dict:
    """Each part of the render alone in a fresh process, on the memory film's own files: who holds the memory.
    Run from the parent after the film is made, outside the sampled process tree."""
    parts = {}
    for part in ("baseline", "render_clip", "music_bed", "mix"):
        r = subprocess.run([sys.executable, __file__, "--child", "part", "--part", part, "--data", str(data)],
                           capture_output=True, text=True)
        parts[part] = json.loads(r.stdout) if r.returncode == 0 else {"error": r.stderr[-400:]}
    return parts


def child_part(data: Path, part: str) -> dict:
    """Peak RSS (VmHWM) of one part of the render in this fresh process, after importing what it needs."""
    from storyreel import Studio
    from storyreel.media import audio, video

    studio = Studio(data)
    film = studio.film("memory")
    pdir = studio.project_dir("memory")
    base = _hwm_mb()
    t = time.perf_counter()
    what = ""
    with tempfile.TemporaryDirectory() as tmp:
        if part == "render_clip":  # the longest shot that moves and dissolves, at 1080p
            moving = [s for s in film.shots if s.camera_move != "static" and s.last_frame and s.last_frame.image]
            s = max(moving or film.shots, key=lambda s: s.duration)
            last = pdir / s.last_frame.image if s.last_frame and s.last_frame.image else None
            video.render_clip(Path(tmp) / "c.mp4", first=pdir / s.first_frame.image, last=last,
                              duration=s.duration, width=1920, height=1080, camera_move=s.camera_move)
            what = f"{s.id}: {s.camera_move}, {s.duration:.1f} s, 1920x1080"
        elif part == "music_bed":
            audio.music_bed(_music_cues(film), film.cut.duration, Path(tmp) / "m.wav", seed=1)
            what = f"{film.cut.duration:.0f} s, 48 kHz stereo"
        elif part == "mix":
            spoken = _spoken(film, pdir)
            audio.mix(film.cut.duration, Path(tmp) / "x.wav", music=pdir / film.sound.music, dialogue=spoken)
            what = f"{film.cut.duration:.0f} s, music + {len(spoken)} lines"
    return {"what": what, "import_mb": base, "peak_mb": _hwm_mb(), "added_mb": round(_hwm_mb() - base, 1),
            "s": round(time.perf_counter() - t, 2)}


def _hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


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
        res = json.loads(out.read_text())
        if mode == "memory":
            res["parts_peak_mb"] = memory_parts(Path(data))
        return res, sampler.summary()


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
    ap.add_argument("--repeat", type=int, default=None,
                    help="runs of (a); the fastest counts, all are kept (default 2, 1 with --quick)")
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    # child mode (internal)
    ap.add_argument("--child", choices=("speed", "memory", "part"), help=argparse.SUPPRESS)
    ap.add_argument("--part", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--profile-shots", type=int, default=6, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child:
        if args.cores:
            os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[: args.cores]))
        if args.child == "part":
            print(json.dumps(child_part(args.data, args.part)))
            return
        res = (child_speed(args.data, args.duration, args.profile_shots) if args.child == "speed"
               else child_memory(args.data, args.duration))
        args.result.write_text(json.dumps(res))
        return

    speed_d = args.speed_duration or (10.0 if args.quick else 60.0)
    mem_d = args.memory_duration or (20.0 if args.quick else 300.0)
    cmd = "bench/render.py" + (" --quick" if args.quick else "")
    cmd += f" --repeat {args.repeat}" if args.repeat else ""
    cmd += f" --cores {args.cores}" if args.cores else ""
    repeat = max(1, args.repeat or (1 if args.quick else 2))
    runs = []
    for k in range(repeat):
        print(f"(a) speed: making a {speed_d:g} s 1080p film ({k + 1}/{repeat}) ...", flush=True)
        runs.append(run_child("speed", speed_d, args.cores, 2 if args.quick else 6))
    # wall clock on a shared machine only ever gets slower: the fastest run is the best estimate
    speed, speed_mem = min(runs, key=lambda r: r[0]["clips_cut_s"])
    speed["runs_clips_cut_s"] = [r[0]["clips_cut_s"] for r in runs]
    speed["runs_cpu_clips_cut_s"] = [r[0]["cpu_clips_cut_s"] for r in runs]
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
    mach = result["machine"]
    rows = [
        ("machine", f"{mach['cpus_usable']} cores ({mach['cpu_model'][:40]}), py {mach['python']}, "
                    f"PyAV {mach['pyav']}; load avg during (a) {speed['loadavg_before'][0]:.1f} -> "
                    f"{speed['loadavg_after'][0]:.1f}"),
        ("(a) film", f"{film_s:g} s, {speed['shots']} shots, 1920x1080, {speed['workers']} workers, "
                     f"cut re-encoded: {speed['reencoded']}"),
        ("    pre (story..keyframes)", f"{speed['pre_keyframes_s']:.1f} s"),
        ("    clips+sound+cut",
         f"{speed['clips_cut_s']:.1f} s  -> {speed['x_realtime_clips_cut']:.2f}x real time "
         f"(target >= {TARGET_SPEED:g}x: {'ok' if verdict['speed_ok'] else 'MISSED'}); runs: "
         + ", ".join(f"{v:.1f} s" for v in speed["runs_clips_cut_s"])),
        ("    same, CPU time", f"{speed['cpu_clips_cut_s']:.1f} CPU s (workers {speed['cpu_clips_cut_workers_s']:.1f},"
                             f" main {speed['cpu_clips_cut_main_s']:.1f}) -> at most "
                             f"{speed['x_realtime_cpu_bound']}x real time on {speed['cores']} idle cores"),
        ("    whole pipeline", f"{speed['whole_s']:.1f} s  -> {speed['x_realtime_whole']:.2f}x real time"),
    ]
    for step in ("clip", "voices", "music", "cut"):
        if step in speed["steps_timed"]:
            st = speed["steps_timed"][step]
            rows.append((f"    step {step}", f"span {st['span_s']:.1f} s over {st['jobs']} jobs"))
    moves = ", ".join(f"{m} {v:.2f}" for m, v in p["cpu_s_per_film_second_by_move"].items())
    rows += [
        ("    render_clip (1 process)", f"{p['render_clip_x_realtime_per_cpu']}x real time per CPU second; "
                                      f"encode+mux {100 * (p['encode_share_cpu'] or 0):.0f}% of its CPU"),
        ("    CPU s per film second", moves),
        ("    cut parts", f"music bed {p['music_bed_s']:.1f} s, mix {p['mix_s']:.1f} s, concat "
                        f"{p['concat_s']:.1f} s (+audio {p['concat_with_audio_s']:.1f} s; re-encoded: "
                        f"{p['concat_reencoded']}), all-cuts remux {p['concat_all_cuts_s']:.1f} s"),
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
        for part, v in m.get("parts_peak_mb", {}).items():
            rows.append((f"    part alone: {part}", f"peak {v.get('peak_mb')} MB (+{v.get('added_mb')} over imports)"
                                                     f" {v.get('what', '')}" if "peak_mb" in v else str(v)))
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k.ljust(width)}  {v}")
    print(f"wrote {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    main()
