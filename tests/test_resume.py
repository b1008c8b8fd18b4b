"""Resume: SIGKILL a real `storyreel run` mid-render, run again, and nothing finished runs twice."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter

import pytest

from storyreel import Studio
from storyreel.errors import ProjectBusy


def _cli(data, *args, **kw):
    return subprocess.Popen([sys.executable, "-m", "storyreel.cli", *args, "--data-dir", str(data)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _processes_mentioning(text: str) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if text.encode() in f.read():
                        pids.append(int(entry))
            except OSError:
                pass
    return pids


def test_sigkill_mid_render_then_resume_redraws_nothing_finished(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("killme", "A clockmaker races the tide", duration=14)
    proc = _cli(tmp_path, "run", name)
    deadline = time.time() + 180
    done_before: dict[str, int] = {}
    try:
        while time.time() < deadline:  # wait until some clips are done and others are rendering
            jobs = studio.store.jobs(name)
            clips_done = [j for j in jobs if j["step"] == "clip" and j["status"] == "done"]
            running = [j for j in jobs if j["status"] == "running"]
            if clips_done and running:
                break
            if proc.poll() is not None:
                pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()}")
            time.sleep(0.05)
        else:
            pytest.fail("the run never reached the clip stage")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        # its render processes die with it: nothing keeps working (or holding memory) for a dead run
        deadline = time.time() + 10
        while _processes_mentioning(str(tmp_path)) and time.time() < deadline:
            time.sleep(0.1)
        assert _processes_mentioning(str(tmp_path)) == []
    finally:
        if proc.poll() is None:
            proc.kill()
    jobs = studio.store.jobs(name)
    done_before = {j["node"]: j["id"] for j in jobs if j["status"] == "done"}
    frames_before = {s.id: (s.first_frame.image, s.last_frame.image) for s in studio.film(name).shots
                     if s.first_frame and s.first_frame.image}
    left_running = [j["node"] for j in jobs if j["status"] == "running"]
    assert left_running, "the kill should leave jobs marked running"

    # the dead run's claim does not block a new one; its running jobs are found dead and run again
    result = studio.run(name)
    jobs = studio.store.jobs(name)
    assert not set(result["ran"]) & set(done_before), "a finished node ran again"
    assert set(left_running) <= set(result["ran"])
    interrupted = [j for j in jobs if j["status"] == "failed"]
    assert {j["node"] for j in interrupted} == set(left_running)
    assert all("interrupted" in j["error"] for j in interrupted)
    done = Counter(j["node"] for j in jobs if j["status"] == "done")
    assert max(done.values()) == 1, "a node has two finished jobs"
    film = studio.film(name)
    for shot_id, frames in frames_before.items():  # finished frames were not redrawn
        s = film.shot(shot_id)
        assert (s.first_frame.image, s.last_frame.image) == frames
    st = studio.status(name)
    assert st["progress"] == 100.0 and "final" in st["outputs"]


def test_a_second_run_of_a_running_project_is_refused(tmp_path):
    studio = Studio(tmp_path)
    name = studio.create("busy", "A fox steals a lantern", duration=10)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        studio.store.set_project(name, runner=f"{socket.gethostname()}:{holder.pid}", heartbeat=time.time())
        with pytest.raises(ProjectBusy, match="already running"):
            studio.run(name)
        with pytest.raises(ProjectBusy):
            studio.edit(name, "inputs.prompt", "x")
        r = subprocess.run([sys.executable, "-m", "storyreel.cli", "run", name, "--data-dir", str(tmp_path)],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "already running" in r.stderr and "Traceback" not in r.stderr
    finally:
        holder.kill()
        holder.wait()
    studio.run(name, until="story")  # the holder is gone: its claim is stale
