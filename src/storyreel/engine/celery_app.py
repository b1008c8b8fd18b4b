"""The Celery app of the distributed engine: ``storyreel worker`` runs it, ``storyreel run --engine celery``
sends to it. What a task does lives in :mod:`storyreel.engine.distributed`; this module is configuration.

Environment (the same on every worker and on the machine that runs ``storyreel run``):

``STORYREEL_BROKER_URL``          Redis URL of the broker, also the result backend
                                  (default ``redis://127.0.0.1:6379/0``)
``STORYREEL_DATABASE_URL``        the shared store, ``postgresql://...`` (SQLite only works on one machine)
``STORYREEL_DATA``                the shared media folder (the data dir), mounted at this path on every worker
``STORYREEL_QUEUE``               queue name (default ``storyreel``)
``STORYREEL_BROKER_PREFIX``       prefix of every Redis key the broker uses (default none; tests use one each)
``STORYREEL_VISIBILITY_TIMEOUT``  seconds before Redis gives an unacknowledged message to another worker
                                  (default 21600; tests use a few seconds, see below)
``STORYREEL_RESTORE_INTERVAL``    seconds between the workers' sweeps for such messages (default 10)
``STORYREEL_WORKER_CONCURRENCY``  nodes one worker process runs at once (default 8)
``STORYREEL_REDISPATCH_AFTER``    seconds after which the orchestrator sends again a node whose worker died
                                  (default 60; see ``distributed``)
``STORYREEL_BENCH_LATENCY``       seconds: replace the ``local`` provider by :class:`LatencyProvider`, the
                                  benchmark's stand-in for a remote API (``bench/distributed.py``)
"""

from __future__ import annotations

import asyncio
import atexit
import os
import random
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from celery import Celery, signals

from storyreel.providers.base import ImageResult, VideoResult

TASK = "storyreel.node"

# Redis's visibility timeout must be longer than the longest node, or a message still being worked on is
# handed to a second worker. The longest node is a remote video: the HTTP helper polls a prediction for up to
# 30 min, a model gets 3 attempts and a step may fall back to a second model, with retry waits in between:
# about 3 h at worst; twice that leaves room. A SIGKILLed worker's message waits this long before Redis hands
# it out again, which is why the orchestrator also sends a dead worker's node again after
# STORYREEL_REDISPATCH_AFTER. Tests set STORYREEL_VISIBILITY_TIMEOUT to a few seconds (and
# STORYREEL_RESTORE_INTERVAL to 1) to see Redis redeliver.
VISIBILITY_TIMEOUT = 6 * 3600


def settings() -> dict[str, Any]:
    env = os.environ
    return {
        "broker": env.get("STORYREEL_BROKER_URL") or "redis://127.0.0.1:6379/0",
        "queue": env.get("STORYREEL_QUEUE") or "storyreel",
        "prefix": env.get("STORYREEL_BROKER_PREFIX") or "",
        "visibility": float(env.get("STORYREEL_VISIBILITY_TIMEOUT") or VISIBILITY_TIMEOUT),
        "restore": int(float(env.get("STORYREEL_RESTORE_INTERVAL") or 10)),
        "concurrency": int(env.get("STORYREEL_WORKER_CONCURRENCY") or 8),
    }


def visibility_timeout() -> float:
    return settings()["visibility"]


def make_app(s: dict[str, Any]) -> Celery:
    app = Celery("storyreel", set_as_current=False)
    transport: dict[str, Any] = {
        "visibility_timeout": s["visibility"],
        # kombu sweeps for expired unacked messages every interval*throttle seconds; make it the interval
        "unacked_restore_interval": max(1, s["restore"]),
        "unacked_restore_throttle": 1,
        # the sweep holds a Redis mutex; one held by a worker killed mid-sweep blocks everyone's sweeps until
        # it expires (default 300 s). Restores are transactional, so a short expiry is safe.
        "unacked_mutex_expire": max(10, 5 * s["restore"]),
    }
    if s["prefix"]:
        transport["global_keyprefix"] = s["prefix"]
    app.conf.update(
        broker_url=s["broker"],
        result_backend=s["broker"],
        # nobody reads results (the store is the source of truth, and no task waits on another): keep none
        task_ignore_result=True,
        task_serializer="json",
        result_serializer="json",
        event_serializer="json",
        accept_content=["json"],
        result_accept_content=["json"],
        task_acks_late=True,  # ack after the node is committed: a worker that dies leaves its message unacked
        task_reject_on_worker_lost=True,  # a pool child lost mid-task puts the message back (prefork)
        worker_prefetch_multiplier=1,  # no worker hoards ready nodes while others idle
        task_default_queue=s["queue"],
        broker_transport_options=transport,
        result_backend_transport_options=dict(transport),
        broker_connection_retry_on_startup=True,
    )
    app.task(name=TASK, bind=True, acks_late=True, reject_on_worker_lost=True, ignore_result=True,
             autoretry_for=(_db_errors(),), retry_backoff=True, max_retries=5)(_node_task)
    return app


def _db_errors() -> type[BaseException]:
    from sqlalchemy.exc import OperationalError

    return OperationalError


def _node_task(self, project: str, node: str, key: str, run: str) -> str:
    from storyreel.engine.distributed import run_node

    return run_node(worker_store(), project, node, key, run, send=lambda p: send(self.app, p),
                    adapters=adapters())


def send(app: Celery, payloads: list[dict]) -> None:
    queue = app.conf.task_default_queue
    for p in payloads:
        app.send_task(TASK, kwargs=p, queue=queue)


_lock = threading.Lock()
_apps: dict[tuple, Celery] = {}


def app_for_env() -> Celery:
    """The app configured from the environment as it is now (tests change it between runs)."""
    s = settings()
    key = tuple(sorted(s.items()))
    with _lock:
        if key not in _apps:
            _apps[key] = make_app(s)
        return _apps[key]


app = app_for_env()  # for `celery -A storyreel.engine.celery_app worker`

# --- the worker ----

_store = None


def worker_store():
    """The store every task of this process uses (one engine, one connection pool)."""
    global _store
    with _lock:
        if _store is None:
            from sqlalchemy.exc import DBAPIError

            from storyreel.engine import dist_store
            from storyreel.store.db import Store

            data = os.environ.get("STORYREEL_DATA")
            if not data:
                raise RuntimeError("STORYREEL_DATA is not set: a worker needs the shared media folder")
            for attempt in range(5):
                try:  # workers starting together on a fresh database race to create the store's tables
                    store = Store(Path(data))
                    break
                except DBAPIError:
                    if attempt == 4:
                        raise
                    time.sleep(0.2 + random.random())
            dist_store.ensure_tables(store.engine)
            _store = store
        return _store


@signals.worker_init.connect
def _prepare_worker(**_: Any) -> None:
    # before the pool's threads start: the tables, and the local provider's render processes, made once
    worker_store()
    if not os.environ.get("STORYREEL_BENCH_LATENCY"):
        from storyreel.providers.local.provider import pool

        pool()


@signals.worker_shutdown.connect
def _stop_worker(**_: Any) -> None:
    from storyreel.providers.local.provider import shutdown_pool

    shutdown_pool()


def worker_main(argv: list[str]) -> None:
    """Start a worker: ``storyreel worker [celery worker options]`` (e.g. ``--concurrency 4``).

    The pool is threads: a node mostly waits (on a provider, or on the local provider's own render
    processes), and a SIGKILLed worker takes all its nodes down with it: no pool child lives on to commit
    behind the back of the worker that takes its node over (an orphaned render process can at most write a
    file that nothing references). ``--pool solo`` also works (one node at a time per process).
    """
    s = settings()
    worker_store()  # fail here, clearly, when the environment is incomplete
    app_for_env().worker_main(["worker", f"--queues={s['queue']}", "--pool=threads",
                               f"--concurrency={s['concurrency']}", "--loglevel=INFO", "--without-gossip",
                               "--without-mingle", *argv])


# --- the benchmark's stand-in provider ----


def adapters() -> dict[str, Any] | None:
    """Provider overrides for every router of this process: the bench's stand-in when STORYREEL_BENCH_LATENCY
    is set, else none."""
    latency = os.environ.get("STORYREEL_BENCH_LATENCY")
    return {"local": LatencyProvider(float(latency))} if latency else None


class LatencyProvider:
    """A remote API's stand-in for the benchmark: every call sleeps ``latency`` seconds (the provider's time),
    then text, speech and music come from the local provider, images are a tiny precomputed still and clips a
    precomputed still clip in the film's own format (so the clip step has nothing to conform). Shot lists get
    plain cuts between shots, so the final cut remuxes instead of re-encoding the reel: the benchmark measures
    orchestration, not rendering."""

    name = "local"
    _media: dict[tuple, Path] = {}
    _media_lock = threading.Lock()

    def __init__(self, latency: float):
        from storyreel.providers.local.provider import LocalProvider

        self.latency = latency
        self.local = LocalProvider()

    def capabilities(self) -> set[str]:
        return self.local.capabilities()

    async def text(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        result = await self.local.text(req, route, call)
        if req.step == "shot_list":
            data = result.output.model_dump()
            for shot in data["shots"]:
                shot["transition"] = "cut"
            result.output = req.output.model_validate(data)
        return result

    async def speech(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        return await self.local.speech(req, route, call)

    async def music(self, req, route=None, call=None):
        await asyncio.sleep(self.latency)
        return await self.local.music(req, route, call)

    async def image(self, req, route=None, call=None) -> ImageResult:
        await asyncio.sleep(self.latency)
        return ImageResult(data=self._still().read_bytes(), mime="image/png", model="bench:still")

    async def video(self, req, route=None, call=None) -> VideoResult:
        await asyncio.sleep(self.latency)
        clip = await asyncio.to_thread(self._clip, float(req.duration), int(req.fps), int(req.width),
                                       int(req.height))
        Path(req.out_path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(clip, req.out_path)
        return VideoResult(path=Path(req.out_path), strategy=req.strategy, model="bench:clip",
                           note="benchmark stand-in clip")

    @classmethod
    def _folder(cls) -> Path:
        if ("dir",) not in cls._media:
            folder = Path(tempfile.mkdtemp(prefix="storyreel-bench-"))
            atexit.register(shutil.rmtree, folder, ignore_errors=True)
            cls._media[("dir",)] = folder
        return cls._media[("dir",)]

    @classmethod
    def _still(cls) -> Path:
        with cls._media_lock:
            if ("still",) not in cls._media:
                from PIL import Image

                path = cls._folder() / "still.png"
                Image.new("RGB", (160, 90), (90, 110, 140)).save(path)
                cls._media[("still",)] = path
            return cls._media[("still",)]

    @classmethod
    def _clip(cls, duration: float, fps: int, width: int, height: int) -> Path:
        still = cls._still()
        with cls._media_lock:
            key = ("clip", round(duration, 3), fps, width, height)
            if key not in cls._media:
                from storyreel.media import video

                path = cls._folder() / f"clip-{duration:.3f}-{fps}-{width}x{height}.mp4"
                video.render_clip(path, first=still, last=None, duration=duration, width=width, height=height,
                                  fps=fps, preset="ultrafast")
                cls._media[key] = path
            return cls._media[key]
