"""The store: projects, jobs and versions, through SQLAlchemy Core.

SQLite in WAL mode is the embedded default (one database per data directory, ``storyreel.db``); a
``postgresql://`` URL serves the same schema to many machines. Film versions are stored whole (zlib-compressed
JSON) so any version reads back without replaying anything.
"""

from __future__ import annotations

import json
import os
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection, Engine

from storyreel.errors import NotFound, ProjectBusy

meta = MetaData()

projects = Table(
    "projects", meta,
    Column("name", String(64), primary_key=True),
    Column("created", Float, nullable=False),
    Column("updated", Float, nullable=False),
    Column("parent", String(64)),
    Column("parent_version", Integer),
    Column("folder", String(128), nullable=False, default=""),
    Column("head", Integer, nullable=False, default=0),
    Column("locks", Text, nullable=False, default="[]"),
    Column("budget", Float),
    Column("runner", String(200)),
    Column("heartbeat", Float),
    Column("stop_requested", Boolean, nullable=False, default=False),
)

versions = Table(
    "versions", meta,
    Column("project", String(64), primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("created", Float, nullable=False),
    Column("note", Text, nullable=False, default=""),
    Column("film", LargeBinary, nullable=False),
    Column("applied", LargeBinary, nullable=False),
)

jobs = Table(
    "jobs", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project", String(64), nullable=False, index=True),
    Column("node", String(200), nullable=False),
    Column("step", String(64), nullable=False),
    Column("item", String(128)),
    Column("status", String(16), nullable=False),  # pending running done failed skipped
    Column("attempts", Integer, nullable=False, default=0),
    Column("error", Text),
    Column("started", Float),
    Column("finished", Float),
    Column("cost", Float, nullable=False, default=0.0),
    Column("cache_key", String(64), nullable=False, index=True),
    Column("outputs", Text),
    Column("request", Text),  # the exact prompt and parameters sent, and every attempt
    Column("state", Text),  # provider state saved before waiting (e.g. a prediction id)
    Column("owner", String(200)),
    Column("reused", Boolean, nullable=False, default=False),
)


def pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":")).encode(), 1)


def unpack(blob: bytes) -> Any:
    return json.loads(zlib.decompress(blob))


def owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, heartbeat: float | None, *, stale_after: float = 30.0) -> bool:
    """Whether the process that claimed something is still there: by pid on this host, by heartbeat elsewhere."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return heartbeat is not None and time.time() - heartbeat < stale_after


@dataclass
class ProjectRow:
    name: str
    created: float
    updated: float
    parent: str | None
    parent_version: int | None
    folder: str
    head: int
    locks: list[str]
    budget: float | None
    runner: str | None
    heartbeat: float | None
    stop_requested: bool


def database_url(data_dir: Path) -> str:
    return os.environ.get("STORYREEL_DATABASE_URL") or f"sqlite:///{Path(data_dir).resolve() / 'storyreel.db'}"


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


_engines: dict[str, Engine] = {}


def make_engine(url: str) -> Engine:
    if url in _engines:
        return _engines[url]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        eng = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(eng, "connect", _sqlite_pragmas)
    else:
        eng = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
    meta.create_all(eng)
    _engines[url] = eng
    return eng


class Store:
    def __init__(self, data_dir: Path, url: str | None = None):
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.url = url or database_url(self.data_dir)
        self.engine = make_engine(self.url)

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # --- projects ------------------------------------------------------------------------------------------

    def project(self, name: str, conn: Connection | None = None) -> ProjectRow:
        q = select(projects).where(projects.c.name == name)
        row = (conn.execute(q) if conn else self._read(q)).mappings().first()
        if row is None:
            raise NotFound(f"unknown project {name!r}")
        d = dict(row)
        d["locks"] = json.loads(d["locks"] or "[]")
        return ProjectRow(**d)

    def _read(self, q):
        with self.engine.connect() as conn:
            return _Buffered(conn.execute(q))

    def exists(self, name: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(projects.c.name).where(projects.c.name == name)).first() is not None

    def list_projects(self) -> list[ProjectRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(projects).order_by(projects.c.updated.desc())).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            d["locks"] = json.loads(d["locks"] or "[]")
            out.append(ProjectRow(**d))
        return out

    def create_project(self, conn: Connection, name: str, film: dict, *, parent: str | None = None,
                       parent_version: int | None = None, applied: dict | None = None, locks: list[str] = (),
                       folder: str = "", note: str = "created") -> None:
        now = time.time()
        conn.execute(insert(projects).values(
            name=name, created=now, updated=now, parent=parent, parent_version=parent_version, folder=folder,
            head=1, locks=json.dumps(list(locks)), budget=None, runner=None, heartbeat=None, stop_requested=False,
        ))
        conn.execute(insert(versions).values(project=name, number=1, created=now, note=note, film=pack(film),
                                             applied=pack(applied or {})))

    def set_project(self, name: str, conn: Connection | None = None, **values: Any) -> None:
        if "locks" in values:
            values["locks"] = json.dumps(values["locks"])
        q = update(projects).where(projects.c.name == name).values(**values)
        if conn is not None:
            conn.execute(q)
        else:
            with self.tx() as c:
                c.execute(q)

    def delete_project(self, name: str) -> None:
        with self.tx() as conn:
            for t in (jobs, versions):
                conn.execute(delete(t).where(t.c.project == name))
            conn.execute(delete(projects).where(projects.c.name == name))

    # --- versions ------------------------------------------------------------------------------------------

    def head(self, name: str, conn: Connection | None = None) -> tuple[int, dict, dict]:
        """(version number, film JSON, applied map) of the project's latest version."""
        return self.version(name, None, conn)

    def version(self, name: str, number: int | None, conn: Connection | None = None) -> tuple[int, dict, dict]:
        def run(c: Connection):
            n = number
            if n is None:
                n = c.execute(select(projects.c.head).where(projects.c.name == name)).scalar()
                if n is None:
                    raise NotFound(f"unknown project {name!r}")
            row = c.execute(select(versions.c.film, versions.c.applied).where(
                and_(versions.c.project == name, versions.c.number == n))).first()
            if row is None:
                raise NotFound(f"project {name!r} has no version {n}")
            return n, unpack(row.film), unpack(row.applied)

        if conn is not None:
            return run(conn)
        with self.engine.connect() as c:
            return run(c)

    def list_versions(self, name: str) -> list[dict]:
        with self.engine.connect() as c:
            rows = c.execute(select(versions.c.number, versions.c.created, versions.c.note)
                             .where(versions.c.project == name).order_by(versions.c.number)).all()
        return [{"version": r.number, "created": r.created, "note": r.note} for r in rows]

    def commit_version(self, conn: Connection, name: str, film: dict, applied: dict, note: str) -> int:
        head = conn.execute(select(projects.c.head).where(projects.c.name == name).with_for_update()).scalar()
        number = (head or 0) + 1
        now = time.time()
        conn.execute(insert(versions).values(project=name, number=number, created=now, note=note,
                                             film=pack(film), applied=pack(applied)))
        conn.execute(update(projects).where(projects.c.name == name).values(head=number, updated=now))
        return number

    # --- jobs ----------------------------------------------------------------------------------------------

    def start_job(self, conn: Connection, project: str, node: str, step: str, item: str | None, key: str,
                  owner: str, state: dict | None = None) -> int:
        res = conn.execute(insert(jobs).values(
            project=project, node=node, step=step, item=item, status="running", attempts=0, started=time.time(),
            cache_key=key, owner=owner, state=json.dumps(state or {}), cost=0.0, reused=False,
        ))
        return int(res.inserted_primary_key[0])

    def update_job(self, job_id: int, conn: Connection | None = None, **values: Any) -> None:
        for k in ("outputs", "request", "state"):
            if k in values and not isinstance(values[k], str):
                values[k] = json.dumps(values[k], ensure_ascii=False)
        q = update(jobs).where(jobs.c.id == job_id).values(**values)
        if conn is not None:
            conn.execute(q)
        else:
            with self.tx() as c:
                c.execute(q)

    def record_reuse(self, conn: Connection, project: str, node: str, step: str, item: str | None, key: str,
                     outputs: Any) -> None:
        now = time.time()
        conn.execute(insert(jobs).values(
            project=project, node=node, step=step, item=item, status="skipped", attempts=0, started=now,
            finished=now, cache_key=key, outputs=json.dumps(outputs, ensure_ascii=False), cost=0.0, reused=True,
        ))

    def cached_outputs(self, project: str, wanted: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Outputs of finished jobs for (step, key) pairs, in one query."""
        if not wanted:
            return {}
        keys = {k for _, k in wanted}
        with self.engine.connect() as c:
            rows = c.execute(select(jobs.c.step, jobs.c.cache_key, jobs.c.outputs).where(and_(
                jobs.c.project == project, jobs.c.cache_key.in_(keys), jobs.c.status == "done",
            )).order_by(jobs.c.id)).all()
        want = set(wanted)
        return {(r.step, r.cache_key): json.loads(r.outputs) for r in rows
                if (r.step, r.cache_key) in want and r.outputs}

    def interrupted_states(self, project: str, wanted: list[tuple[str, str]]) -> dict[str, dict]:
        """Provider state left by interrupted or failed jobs of these (node, key) pairs, in one query."""
        if not wanted:
            return {}
        keys = {k for _, k in wanted}
        with self.engine.connect() as c:
            rows = c.execute(select(jobs.c.node, jobs.c.cache_key, jobs.c.state).where(and_(
                jobs.c.project == project, jobs.c.cache_key.in_(keys), jobs.c.status.in_(("failed", "running")),
            )).order_by(jobs.c.id)).all()
        want = set(wanted)
        out: dict[str, dict] = {}
        for r in rows:
            if (r.node, r.cache_key) in want and r.state and r.state != "{}":
                out[r.node] = json.loads(r.state)
        return out

    def interrupted_state(self, project: str, node: str, key: str) -> dict:
        """Provider state left by an interrupted or failed job of the same node and key (to resume, not repay)."""
        with self.engine.connect() as c:
            row = c.execute(select(jobs.c.state).where(and_(
                jobs.c.project == project, jobs.c.node == node, jobs.c.cache_key == key,
                jobs.c.status.in_(("failed", "running")),
            )).order_by(jobs.c.id.desc()).limit(1)).first()
        return json.loads(row.state) if row and row.state else {}

    def jobs(self, project: str, node: str | None = None) -> list[dict]:
        q = select(jobs).where(jobs.c.project == project)
        if node is not None:
            q = q.where(jobs.c.node == node)
        with self.engine.connect() as c:
            rows = c.execute(q.order_by(jobs.c.id)).mappings().all()
        out = []
        for r in rows:
            d = dict(r)
            for k in ("outputs", "request", "state"):
                d[k] = json.loads(d[k]) if d[k] else None
            out.append(d)
        return out

    def latest_jobs(self, project: str) -> dict[str, dict]:
        """The latest job of every node (for status and plan)."""
        sub = select(func.max(jobs.c.id)).where(jobs.c.project == project).group_by(jobs.c.node)
        with self.engine.connect() as c:
            rows = c.execute(select(jobs.c.node, jobs.c.status, jobs.c.error, jobs.c.cache_key, jobs.c.owner,
                                    jobs.c.reused, jobs.c.id).where(jobs.c.id.in_(sub))).mappings().all()
        return {r["node"]: dict(r) for r in rows}

    def copy_jobs(self, src: str, dst: str) -> None:
        """Give a branch the finished jobs of its parent (its cache, and what `show` tells)."""
        cols = [c for c in jobs.c if c.name not in ("id", "project")]
        with self.tx() as c:
            rows = c.execute(select(*cols).where(and_(jobs.c.project == src, jobs.c.status.in_(("done", "skipped"))))
                             .order_by(jobs.c.id)).mappings().all()
            if rows:
                c.execute(insert(jobs), [{**dict(r), "project": dst, "cost": 0.0} for r in rows])

    def spent(self, project: str) -> float:
        with self.engine.connect() as c:
            return float(c.execute(select(func.coalesce(func.sum(jobs.c.cost), 0.0))
                                   .where(jobs.c.project == project)).scalar() or 0.0)

    def abandon_dead_jobs(self, project: str) -> int:
        """Mark jobs left 'running' by a process that is gone as failed (they will run again)."""
        n = 0
        with self.tx() as c:
            rows = c.execute(select(jobs.c.id, jobs.c.owner).where(and_(
                jobs.c.project == project, jobs.c.status == "running"))).all()
            hb = c.execute(select(projects.c.heartbeat).where(projects.c.name == project)).scalar()
            for r in rows:
                if not owner_alive(r.owner, hb):
                    c.execute(update(jobs).where(jobs.c.id == r.id).values(
                        status="failed", error="interrupted: the process running it died", finished=time.time()))
                    n += 1
        return n

    # --- the run claim -------------------------------------------------------------------------------------

    def claim_run(self, name: str, owner: str) -> None:
        """Claim the project for one run; refuse while another live process holds it."""
        with self.tx() as c:
            row = c.execute(select(projects.c.runner, projects.c.heartbeat).where(projects.c.name == name)
                            .with_for_update()).first()
            if row is None:
                raise NotFound(f"unknown project {name!r}")
            if row.runner and row.runner != owner and owner_alive(row.runner, row.heartbeat):
                raise ProjectBusy(f"project {name!r} is already running (by {row.runner}); wait for it or stop it")
            c.execute(update(projects).where(projects.c.name == name).values(
                runner=owner, heartbeat=time.time(), stop_requested=False))

    def heartbeat(self, name: str, owner: str) -> bool:
        """Refresh the claim; returns True when a stop was requested."""
        with self.tx() as c:
            c.execute(update(projects).where(and_(projects.c.name == name, projects.c.runner == owner))
                      .values(heartbeat=time.time()))
            return bool(c.execute(select(projects.c.stop_requested).where(projects.c.name == name)).scalar())

    def release_run(self, name: str, owner: str) -> None:
        with self.tx() as c:
            c.execute(update(projects).where(and_(projects.c.name == name, projects.c.runner == owner))
                      .values(runner=None, heartbeat=None, stop_requested=False))

    def running_owner(self, name: str) -> str | None:
        p = self.project(name)
        return p.runner if owner_alive(p.runner, p.heartbeat) else None


class _Buffered:
    def __init__(self, result):
        self._rows = result.mappings().all()

    def mappings(self):
        return self

    def first(self):
        return self._rows[0] if self._rows else None
