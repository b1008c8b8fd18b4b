"""Whole films through the engine against the fake providers, over real HTTP on 127.0.0.1.

Text and images go to the fake OpenRouter (structured answers from the offline draft writer, images as
data-URL PNGs), clips to the fake Replicate (predictions starting → processing → succeeded, real H.264 MP4s).
Keys and base URLs come from the environment, as in production. Each test counts the paid calls a film should
make from the Film and its jobs, and holds the fakes' own counters to that number: with faults, after a
SIGKILL, under a budget. The last test scans everything the others left behind for the keys.

The fake renders a clip of the length the request asks for at the film's frame size; Kling's lengths (5 or
10 s) are turned off in the config so the request asks for the shot's own length, because nothing conforms a
longer clip to its shot yet (a 5 s clip for a 3.75 s shot makes the cut longer than the film).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import traceback
import zlib
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from fakes import Fault
from fakes.film import ClipMaker, draft_answer
from fakes.openai_chat import BASE_PATH as CHAT_PATH
from fakes.openai_chat import ChatFake, completion
from fakes.replicate import BASE_PATH as REPLICATE_PATH
from fakes.replicate import ReplicateFake
from storyreel import Studio
from storyreel.cli import app
from storyreel.errors import BudgetExceeded, RunFailed
from storyreel.film.models import VIEWS_BY_KIND, Film
from storyreel.media import video
from storyreel.media.video import probe
from storyreel.steps import BY_NAME
from storyreel.store.db import Store

OPENROUTER_KEY = "sk-or-test-SECRET123"
REPLICATE_KEY = "r8_test_SECRET456789"
# The keys, and their tails (a server echoing part of a key must not get it written either).
SECRETS = (OPENROUTER_KEY, REPLICATE_KEY, "SECRET123", "SECRET456789")

TEXT_MODEL = "openrouter:openai/gpt-5"
IMAGE_MODEL = "openrouter:google/gemini-2.5-flash-image"
VIDEO_MODEL = "replicate:kwaivgi/kling-v2.1"
PROMPT = "A lighthouse keeper befriends a storm"
DURATION = 12

# Texts other tests saw (CLI output, exception messages): the secrets test scans them too.
SEEN: list[tuple[str, str]] = []


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Every data dir of this module lives here, so the secrets test can scan all of them."""
    return tmp_path_factory.mktemp("e2e")


class _KeepLogs(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(self.format(record))
        except Exception:  # a record that cannot format still counts: keep what it holds
            self.lines.append(f"{record.msg!r} {record.args!r}")


@pytest.fixture(scope="module")
def all_logs():
    """Every log record of the module, at DEBUG (storyreel's, httpx's, uvicorn's...)."""
    handler = _KeepLogs()
    logger = logging.getLogger()
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


@pytest.fixture(scope="module")
def servers(all_logs):
    chat, replicate = ChatFake(), ReplicateFake()
    # like a hosted model: its own size and frame rate (and, with Kling's accepted lengths, its own duration);
    # the clip step conforms them to the film
    clips = ClipMaker(width=1280, height=720, fps=30)
    with chat.running(), replicate.running():
        yield chat, replicate, clips


@pytest.fixture
def fakes(servers, monkeypatch):
    chat, replicate, clips = servers
    chat.reset()
    replicate.reset()
    chat.answer = draft_answer
    chat.image_route = "image"  # count image requests apart from text ones
    replicate.video = clips
    monkeypatch.setenv("OPENROUTER_API_KEY", OPENROUTER_KEY)
    monkeypatch.setenv("REPLICATE_API_TOKEN", REPLICATE_KEY)
    monkeypatch.setenv("OPENROUTER_BASE_URL", chat.url + CHAT_PATH)
    monkeypatch.setenv("REPLICATE_BASE_URL", replicate.url + REPLICATE_PATH)
    return chat, replicate


def config(budget: float | None = None, text_cost: float | None = None) -> str:
    """storyreel.toml: fast retries and polls (clips come back at Kling's own lengths and are conformed)."""
    lines = [f"budget = {budget}"] if budget is not None else []
    lines += ["max_retry_wait = 0.05",
              "[providers.replicate]", "poll_interval = 0.02"]
    if text_cost is not None:
        lines += [f'[models."{TEXT_MODEL}"]', f"cost = {text_cost}"]
    return "\n".join(lines) + "\n"


def new_film(data: Path, name: str, toml: str | None = None) -> Studio:
    data.mkdir(parents=True, exist_ok=True)
    (data / "storyreel.toml").write_text(toml if toml is not None else config())
    studio = Studio(data)
    studio.create(name, PROMPT, duration=DURATION)
    return studio


# --- what a film should cost --------------------------------------------------------------------------------


def expected_calls(film: Film) -> dict[str, int]:
    """Paid calls the plan implies, from the Film alone: text steps that ask a model, image calls per image
    node, one prediction per clip."""
    scenes, shots = film.scenes or [], film.shots or []
    assets = [a for a in film.assets or [] if not a.dropped]
    from_script = bool(film.inputs.screenplay)  # outline and screenplay then come from the script, no model
    text = 3  # lore, treatment, beats
    text += 0 if from_script else 1  # outline
    text += 1 if assets else 0  # the breakdown asks about the names the scenes hold
    # per scene: screenplay, visual script, instances, shot list, sound cues
    text += len(scenes) * (4 + (0 if from_script else 1))
    text += len(shots)  # keyframe prompts
    kinds = {a.id: a.kind for a in assets}
    images = sum(len(VIEWS_BY_KIND[a.kind]) for a in assets)  # one per view of each reference sheet
    for scene in scenes:
        # an asset's image in a scene is drawn only when it has a state there (locations never are)
        images += sum(1 for i in scene.instances or [] if i.state.strip() and not i.use_reference_as_is
                      and kinds.get(i.asset_id) not in (None, "location"))
        images += 1  # the stage shot
    images += 2 * len(shots)  # first and last keyframe
    return {"text": text, "image": images, "video": len(shots)}


def attempts_by_model(studio: Studio, name: str) -> tuple[Counter, Counter]:
    """(ok attempts, failed attempts) per model, from the jobs' records."""
    ok, failed = Counter(), Counter()
    for job in studio.store.jobs(name):
        for attempt in (job["request"] or {}).get("attempts", []):
            (ok if attempt["ok"] else failed)[attempt["model"]] += 1
    return ok, failed


def books(calls: dict[str, int], text: float = 0.001) -> float:
    """What the calls cost: text and images what the fake reports ($0.001, unless text is charged its estimate),
    clips Kling's estimate ($0.45: Replicate reports no cost)."""
    return calls["text"] * text + calls["image"] * 0.001 + calls["video"] * 0.45


def fake_calls(chat: ChatFake, replicate: ReplicateFake) -> dict[str, int]:
    return {"text": chat.counts["chat"], "image": chat.counts["image"], "video": replicate.counts["create"]}


def assert_finished(studio: Studio, name: str) -> Film:
    st = studio.status(name)
    assert st["progress"] == 100.0 and not st["failed"], st
    final = Path(st["outputs"]["final"])
    assert final.is_file() and final.stat().st_size > 0
    film = studio.film(name)
    info = video.probe(final)
    stream = next(s for s in info["streams"] if s["type"] == "video")
    assert (stream["width"], stream["height"]) == (1920, 1080)
    crossfades = sum(1 for s in film.shots[:-1] if s.transition == "crossfade")
    assert info["duration"] == pytest.approx(sum(s.duration for s in film.shots) - 0.5 * crossfades, abs=0.1)
    return film


# --- 1. a whole run -----------------------------------------------------------------------------------------


def test_a_whole_film_makes_exactly_the_paid_calls_its_plan_implies(fakes, root):
    chat, replicate = fakes
    studio = new_film(root / "whole", "whole")
    studio.run("whole")
    film = assert_finished(studio, "whole")

    want = expected_calls(film)
    assert want["video"] >= 3 and want["image"] > want["video"] and want["text"] > 10  # a film, not a stub
    ok, failed = attempts_by_model(studio, "whole")
    assert not failed
    assert {"text": ok[TEXT_MODEL], "image": ok[IMAGE_MODEL], "video": ok[VIDEO_MODEL]} == want
    assert fake_calls(chat, replicate) == want
    assert len(replicate.predictions) == want["video"]
    assert studio.store.spent("whole") == pytest.approx(books(want))

    # every job says which model made it, and every attempt it made worked
    models = {"text": TEXT_MODEL, "image": IMAGE_MODEL, "video": VIDEO_MODEL}
    for job in studio.store.jobs("whole"):
        model = models.get(BY_NAME[job["step"]].kind)
        if model is not None:
            shown = studio.show("whole", job["node"])
            assert shown["model"] == model, job["node"]
            assert all(a["ok"] and a["model"] == model for a in shown["attempts"])
    # one prediction per shot, asking for that shot: its clip prompt and the nearest length Kling accepts
    asked = sorted((i["prompt"], float(i["duration"])) for i in replicate.created())
    assert asked == sorted((s.clip_prompt, 5.0 if s.duration <= 5 else 10.0) for s in film.shots)
    assert all(i.get("start_image", "").startswith("data:image/png;base64,") for i in replicate.created())
    # what came back (1280x720, 30 fps, 5 s) was conformed to the film: the shot's length, 1920x1080, 24 fps
    assert [c.duration for c in film.clips] == pytest.approx([s.duration for s in film.shots], abs=1 / 24)
    assert all("conformed" in c.note and "trimmed" in c.note and "1280x720" in c.note for c in film.clips)
    final = probe(studio.project_dir("whole") / film.cut.final)
    v = next(x for x in final["streams"] if x["type"] == "video")
    assert (v["width"], v["height"], v["fps"]) == (1920, 1080, 24)
    assert final["duration"] == pytest.approx(film.cut.duration, abs=1 / 24)
    # the keys went where they belong, and only there
    sent = chat.headers("chat") + chat.headers("image")
    assert {h["authorization"] for h in sent} == {f"Bearer {OPENROUTER_KEY}"}
    assert {h["authorization"] for h in replicate.headers("create")} == {f"Bearer {REPLICATE_KEY}"}
    assert all("authorization" not in h for h in replicate.headers("file"))  # downloads are not the API

    # everything is done: another run asks nothing of anyone
    before = fake_calls(chat, replicate)
    result = studio.run("whole")
    assert result["ran"] == [] and fake_calls(chat, replicate) == before


# --- 2. faults ----------------------------------------------------------------------------------------------


def test_faults_are_retried_without_losing_work_or_paying_twice(fakes, root):
    chat, replicate = fakes
    throttled = {"detail": "Request was throttled. Expected available in 1 second.", "status": 429}
    faults = {
        # the first text steps run one after another: one fault each for lore, treatment and beats
        "chat": [Fault(status=429, headers={"Retry-After": "1"},
                       json={"error": {"code": 429, "message": "Rate limit exceeded: free-models-per-min"}}),
                 Fault(status=500, json={"error": {"code": 500, "message": "Internal Server Error"}}),
                 Fault(json={"error": {"code": 502, "message": "Upstream error from Fake"}})],  # HTTP 200
        "image": [Fault(json=completion("", images=None, model="google/gemini-2.5-flash-image")),  # no image
                  Fault(status=429, headers={"Retry-After": "2"},
                        json={"error": {"code": 429, "message": "slow down"}})],
        "create": [Fault(status=429, headers={"Retry-After": "1"}, json=throttled),
                   Fault(status=503, json={"detail": "Service Unavailable", "status": 503})],
        "get": [Fault(status=500, json={"detail": "Internal Server Error"})],  # the poll retries by itself
        "file": [Fault(status=502, body=b"Bad Gateway")],  # ... and so does the download
    }
    for route, queue in faults.items():
        fake = chat if route in ("chat", "image") else replicate
        for n, fault in enumerate(queue):
            if route == "chat" and n:
                fake.inject(route, passthrough=True)  # the retry that follows a fault gets its answer
            fake.inject(route, **vars(fault))
    studio = new_film(root / "faults", "faults")
    studio.run("faults")
    film = assert_finished(studio, "faults")
    assert not any(chat.pending_faults(r) or replicate.pending_faults(r) for r in faults), "unused fault"

    want = expected_calls(film)
    ok, failed = attempts_by_model(studio, "faults")
    assert {"text": ok[TEXT_MODEL], "image": ok[IMAGE_MODEL], "video": ok[VIDEO_MODEL]} == want
    retried = {"text": len(faults["chat"]), "image": len(faults["image"]), "video": len(faults["create"])}
    assert {"text": failed[TEXT_MODEL], "image": failed[IMAGE_MODEL], "video": failed[VIDEO_MODEL]} == retried
    assert fake_calls(chat, replicate) == {k: want[k] + retried[k] for k in want}
    # paid creates: one per clip, each for a different shot (a refused create is no prediction)
    assert len(replicate.predictions) == want["video"]
    assert len({i["prompt"] for i in replicate.created()}) == want["video"]
    # on the books: the calls that worked, plus the empty image answer (billed: it reported its cost)
    assert studio.store.spent("faults") == pytest.approx(books(want) + 0.001)

    # the retried attempts are on the jobs, each followed by the attempt that worked
    errors = []
    for job in studio.store.jobs("faults"):
        attempts = studio.show("faults", job["node"])["attempts"]
        if any(not a["ok"] for a in attempts):
            assert attempts[-1]["ok"] and job["status"] == "done", job["node"]
            assert job["attempts"] == len(attempts)
            errors += [a["error"] for a in attempts if not a["ok"]]
    assert len(errors) == sum(retried.values())
    for expected in ("HTTP 429: Rate limit exceeded", "HTTP 500: Internal Server Error",
                     "HTTP 502: Upstream error from Fake", "answered without an image", "HTTP 429: slow down",
                     "HTTP 429: Request was throttled", "HTTP 503: Service Unavailable"):
        assert sum(expected in e for e in errors) == 1, (expected, errors)


# --- 3. killed while a prediction is pending ----------------------------------------------------------------


def saved_predictions(store: Store, name: str) -> dict[str, str]:
    """node -> the prediction id its job saved."""
    out = {}
    for job in store.jobs(name):
        prediction = (job["state"] or {}).get("replicate_prediction")
        if prediction:
            out[job["node"]] = prediction["id"]
    return out


def test_killed_while_a_prediction_is_pending_resumes_it_without_a_second_create(fakes, root):
    chat, replicate = fakes
    replicate.hold = True  # predictions stay in processing until released
    data = root / "killed"
    studio = new_film(data, "killed")
    env = {**os.environ, "STORYREEL_LOG": "DEBUG"}  # its logs land in files the secrets test scans
    out, err = root / "killed-run.stdout", root / "killed-run.stderr"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        command = [sys.executable, "-m", "storyreel.cli", "run", "killed", "--data-dir", str(data)]
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env, start_new_session=True)

    def settled() -> bool:
        """Predictions were created, every create has been answered, and every id is saved on its job."""
        saved = saved_predictions(studio.store, "killed")
        return bool(saved) and replicate.counts["create"] == len(replicate.predictions) == len(saved)

    try:
        deadline = time.monotonic() + 60
        while not (settled() and (time.sleep(0.5) or settled())):  # ... and stays so: no more are coming
            assert proc.poll() is None, err.read_text()[-2000:]
            assert time.monotonic() < deadline, "no prediction was created"
            time.sleep(0.05)
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: the run and anything it started
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    assert "HTTP Request: POST" in err.read_text()  # it logged its calls (scanned for keys at the end)

    saved = saved_predictions(studio.store, "killed")
    created_before = dict(replicate.predictions)
    assert saved and set(saved.values()) <= set(created_before)
    assert all(p["public"]["status"] in ("starting", "processing") for p in created_before.values())
    pending = [j for j in studio.store.jobs("killed") if j["step"] == "clip" and j["status"] == "running"]
    assert {j["node"] for j in pending} == set(saved)  # the kill left them running, with their ids saved

    replicate.release()
    studio.run("killed")
    film = assert_finished(studio, "killed")
    want = expected_calls(film)

    # the saved predictions were polled again, not created again
    prompts = {f"clip:{s.id}": s.clip_prompt for s in film.shots}
    new_prompts = [i["prompt"] for i in replicate.created()[len(created_before):]]
    assert not {prompts[node] for node in saved} & set(new_prompts)
    unsaved = len(created_before) - len(saved)  # a create answered just before the kill, id not yet saved
    assert len(replicate.predictions) == want["video"] + unsaved
    polled = {r["path"].rsplit("/", 1)[-1] for r in replicate.requests if r["route"] == "get"}
    assert set(saved.values()) <= polled
    for node in saved:
        jobs = studio.store.jobs("killed", node)
        assert [j["status"] for j in jobs] == ["failed", "done"]
        assert "interrupted" in jobs[0]["error"]
        assert jobs[1]["state"] == {}  # forgotten once its output was downloaded
    # nothing else was paid twice either: every text and image call once
    ok, _ = attempts_by_model(studio, "killed")
    assert chat.counts["chat"] == want["text"] and chat.counts["image"] == want["image"]
    assert ok[TEXT_MODEL] == want["text"] and ok[IMAGE_MODEL] == want["image"]
    assert studio.store.spent("killed") == pytest.approx(books(want))  # each clip on the books once


# --- 5. budget ----------------------------------------------------------------------------------------------


def test_budget_stops_before_the_call_that_would_exceed_it_and_resumes_when_raised(fakes, root):
    chat, replicate = fakes
    chat.cost = None  # no cost reported: each text call is charged its estimate, $0.02
    data = root / "budget"
    studio = new_film(data, "budget", config(budget=0.05, text_cost=0.02))
    with pytest.raises(BudgetExceeded) as info:
        studio.run("budget")
    message = str(info.value)
    SEEN.append(("budget error", message))
    assert message == ("budget of $0.05 reached: spent $0.04, next call ~$0.02 (openrouter:openai/gpt-5); "
                       "raise it with budget = ... in storyreel.toml")
    # two calls fit ($0.04); the third was never sent
    assert fake_calls(chat, replicate) == {"text": 2, "image": 0, "video": 0}
    assert studio.store.spent("budget") == pytest.approx(0.04)
    refused = [j for j in studio.store.jobs("budget") if j["status"] == "failed"]
    assert [j["step"] for j in refused] == ["beats"] and "budget of $0.05" in refused[0]["error"]
    assert refused[0]["request"]["attempts"] == []
    st = studio.status("budget")
    assert st["progress"] < 100 and "final" not in st["outputs"]

    (data / "storyreel.toml").write_text(config(budget=50.0, text_cost=0.02))
    result = studio.run("budget")
    film = assert_finished(studio, "budget")
    assert "lore" not in result["ran"] and "treatment" not in result["ran"]
    want = expected_calls(film)
    assert fake_calls(chat, replicate) == want  # the first run's two calls plus the rest, nothing twice
    done = Counter(j["node"] for j in studio.store.jobs("budget") if j["status"] == "done")
    assert max(done.values()) == 1
    assert studio.store.spent("budget") == pytest.approx(books(want, text=0.02))  # text at its estimate


# --- 4. secrets (last: it scans what every test above left behind) -----------------------------------------


def leaks(text: str | bytes) -> list[str]:
    if isinstance(text, bytes):
        return [s for s in SECRETS if s.encode() in text]
    return [s for s in SECRETS if s in text]


def file_texts(path: Path) -> list[bytes]:
    """A file's bytes, plus whatever zlib streams it holds (PDF content streams) inflated."""
    data = path.read_bytes()
    out = [data]
    if data.startswith(b"%PDF"):
        for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            try:
                out.append(zlib.decompress(stream))
            except zlib.error:
                pass
    return out


def database_texts(db: Path) -> list[str]:
    """Every value of every table of a SQLite store, compressed blobs (Film versions) inflated."""
    out = []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"'):
                for value in row:
                    if isinstance(value, bytes):
                        try:
                            value = zlib.decompress(value).decode("utf-8", "replace")
                        except zlib.error:
                            value = value.decode("utf-8", "replace")
                    out.append(str(value))
    return out


def test_no_key_is_ever_written_anywhere(fakes, root, caplog, all_logs):
    caplog.set_level(logging.DEBUG)
    chat, replicate = fakes
    # servers that echo the key back, as some do: in a retried 500, in a 200 carrying an error, in a 429, and
    # in a 401 that fails a clip for good (so the run fails and its exception is read too)
    echo = f"Incorrect API key provided: {OPENROUTER_KEY}"
    chat.inject("chat", status=500, json={"error": {"code": 500, "message": echo}})
    echo = f"no provider for key {OPENROUTER_KEY[:12]}... ({OPENROUTER_KEY})"
    chat.inject("image", json={"error": {"code": 503, "message": echo}})
    replicate.inject("create", status=429, headers={"Retry-After": "1"},
                     json={"detail": f"Request was throttled for token {REPLICATE_KEY}.", "status": 429})
    replicate.inject("create", status=401, json={"detail": f"Invalid token: {REPLICATE_KEY}", "status": 401})
    data = root / "secrets"
    studio = new_film(data, "secrets")
    with pytest.raises(RunFailed) as info:
        studio.run("secrets")
    failure = info.value
    assert "HTTP 401: Invalid token" in str(failure)
    SEEN.append(("run failure", "".join(traceback.format_exception(failure))))
    studio.run("secrets")  # the clip that failed is made now
    assert_finished(studio, "secrets")
    assert not chat.pending_faults("chat") and not chat.pending_faults("image")
    assert not replicate.pending_faults("create")
    # the keys were really in play: sent on every request, and echoed by the fakes
    assert any(OPENROUTER_KEY in json.dumps(r["headers"]) for r in chat.requests)
    assert any(REPLICATE_KEY in json.dumps(r["headers"]) for r in replicate.requests)

    # the CLI's views of every project of this module, with the keys in the environment
    runner = CliRunner()
    outputs: list[tuple[str, str]] = list(SEEN)
    for data_dir in sorted(p.parent for p in root.glob("*/storyreel.db")):
        for name in [p["name"] for p in Studio(data_dir).projects()]:
            commands = [["status", name], ["status", name, "--json"], ["plan", name],
                        ["plan", name, "--json"], ["versions", name], ["export", name, "--format", "json"],
                        ["export", name, "--format", "all", "--output", str(data_dir / "exports" / name)]]
            commands += [["show", name, n["node"]] for n in Studio(data_dir).plan(name)]
            for args in commands:
                result = runner.invoke(app, [*args, "--data-dir", str(data_dir)])
                assert result.exit_code == 0, (args, result.output)
                outputs.append((" ".join(args), result.output))
            # every text and JSON column of every job, as the store gives it back
            for job in Studio(data_dir).store.jobs(name):
                outputs.append((f"job {job['id']} of {name}", json.dumps(job, default=str)))
    assert (data / "exports" / "secrets").is_dir() and any((data / "exports" / "secrets").iterdir())

    found = [(where, leaks(text)) for where, text in outputs if leaks(text)]
    assert not found, found[:3]
    files = [p for p in root.rglob("*") if p.is_file()]
    assert any(p.name == "storyreel.db" for p in files) and len(files) > 50
    found = [(str(p), leaks(t)) for p in files for t in file_texts(p) if leaks(t)]
    assert not found, found[:3]
    for db in root.glob("*/storyreel.db"):
        found = [leaks(v) for v in database_texts(db) if leaks(v)]
        assert not found, (db, found[:3])
    logged = caplog.text + "\n".join(all_logs.lines)
    assert "replicate" in logged.lower() or "HTTP Request" in logged  # the logs were really captured
    assert not leaks(logged), [line for line in all_logs.lines if leaks(line)][:3]
