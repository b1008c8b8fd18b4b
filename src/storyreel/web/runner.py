"""Runs started from the web: one background thread per run, in the server process.

A run is ``Studio(data_dir).run(name)`` in a thread, so it goes on when the page that started it is closed,
and any page finds it again through ``Studio.status`` (``running``) or this registry. Runs of this process
take turns (the local engine shares one process pool per process): a second project started while one runs is
*queued*. Stopping is ``Studio.stop``: the engine sees the request at its next heartbeat (about 2 s).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from storyreel.errors import ProjectBusy, RunFailed, StoryreelError
from storyreel.studio import Studio

log = logging.getLogger("storyreel.web")


@dataclass
class RunInfo:
    project: str
    until: str | None = None
    state: str = "queued"  # queued | running | finished | failed | stopped
    error: str = ""
    started: float = field(default_factory=time.time)
    ended: float | None = None
    cancelled: bool = False
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    def as_dict(self) -> dict:
        return {
            "state": self.state,
            "error": self.error,
            "until": self.until,
            "started": self.started,
            "ended": self.ended,
        }


class Runner:
    def __init__(self, data_dir: Path, config_path: Path | None = None):
        self.data_dir = Path(data_dir)
        self.config_path = config_path
        self._registry = threading.Lock()
        self._turn = threading.Lock()  # one run at a time in this process
        self._runs: dict[str, RunInfo] = {}

    def info(self, name: str) -> RunInfo | None:
        with self._registry:
            return self._runs.get(name)

    def active(self, name: str) -> bool:
        info = self.info(name)
        return info is not None and info.active

    def start(self, studio: Studio, name: str, until: str | None = None) -> RunInfo:
        studio.status(name)  # unknown project -> NotFound before anything starts
        if studio.store.running_owner(name):
            raise ProjectBusy(f"project {name!r} is already running; wait for it or stop it")
        with self._registry:
            current = self._runs.get(name)
            if current is not None and current.active:
                raise ProjectBusy(f"project {name!r} is already {current.state}; wait for it or stop it")
            info = RunInfo(name, until)
            info.thread = threading.Thread(target=self._work, args=(info,), name=f"run-{name}", daemon=True)
            self._runs[name] = info
        info.thread.start()
        return info

    def _work(self, info: RunInfo) -> None:
        with self._turn:
            if info.cancelled:
                self._end(info, "stopped", "stopped before it started")
                return
            info.state = "running"
            try:
                Studio(self.data_dir, config_path=self.config_path).run(info.project, until=info.until)
            except RunFailed as e:
                stopped = e.node == "run" and "stop" in e.reason
                self._end(info, "stopped" if stopped else "failed", e.reason if stopped else str(e))
            except StoryreelError as e:
                self._end(info, "failed", str(e))
            except Exception:  # a bug: keep the traceback in the server log, show one line
                log.exception("run of %s failed", info.project)
                self._end(info, "failed", "the run stopped on an unexpected error (see the server log)")
            else:
                self._end(info, "finished", "")

    @staticmethod
    def _end(info: RunInfo, state: str, error: str) -> None:
        info.error = error
        info.ended = time.time()
        info.state = state

    def stop(self, studio: Studio, name: str) -> bool:
        info = self.info(name)
        if info is not None and info.state == "queued":
            info.cancelled = True
            return True
        return studio.stop(name)

    def shutdown(self, studio: Studio, timeout: float = 10.0) -> None:
        """Ask every run of this process to stop and wait a little for them (the server is going down)."""
        with self._registry:
            runs = [r for r in self._runs.values() if r.active]
        for r in runs:
            r.cancelled = True
            try:
                studio.stop(r.project)
            except StoryreelError:
                pass
        deadline = time.time() + timeout
        for r in runs:
            if r.thread is not None:
                r.thread.join(max(0.0, deadline - time.time()))
