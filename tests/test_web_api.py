"""The web studio's REST API, through FastAPI's TestClient: every route, bad input answered with a 4xx and
{"error": "one line"}, media confined to the project folder, uploads checked, tokens, and the SSE stream."""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from storyreel.studio import Studio
from storyreel.web import overview
from storyreel.web.app import create_app, serve
from storyreel.web.security import LOOPBACK_HOSTS

PROMPT = "A lighthouse keeper befriends a storm"


# --- fixtures -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("web-data")


@pytest.fixture(scope="module")
def finished(data_dir) -> str:
    """A project run to the end (offline, ~15 s): two scenes, assets, shots, clips, the final MP4."""
    studio = Studio(data_dir)
    name = studio.create("reel", PROMPT, duration=15)
    studio.run(name)
    assert studio.status(name)["stage"] == "done"
    return name


@pytest.fixture(scope="module")
def app(data_dir):
    return create_app(data_dir, poll_interval=0.1)


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    with TestClient(app) as c:
        yield c


@pytest.fixture
def studio(data_dir) -> Studio:
    return Studio(data_dir)


def branch_of(studio: Studio, finished: str, name: str) -> str:
    """A fresh copy of the finished project, so a test can change it freely."""
    return studio.branch(finished, name)


def png_bytes(size=(64, 48), fmt="PNG", color=(200, 80, 40)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format=fmt)
    return buf.getvalue()


def error_of(resp) -> str:
    body = resp.json()
    assert set(body) >= {"error"}, body
    assert isinstance(body["error"], str) and body["error"] and "\n" not in body["error"]
    assert "Traceback" not in body["error"]
    return body["error"]


# --- docs, pages --------------------------------------------------------------------------------------------


def test_docs_page_needs_no_cdn_and_openapi_is_valid(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "text/html" in r.headers["content-type"]
    assert "/openapi.json" in r.text
    assert "cdn" not in r.text.lower() and "https://" not in r.text
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for p in (
        "/api/projects",
        "/api/projects/{name}/run",
        "/api/projects/{name}/events",
        "/api/projects/{name}/assets/{asset_id}/upload",
        "/api/projects/{name}/scenes/{scene_id}/instances/{asset_id}",
        "/api/projects/{name}/storyboard",
        "/api/projects/{name}/locks",
        "/media/{name}/{path}",
    ):
        assert p in paths, p
    assert "/p/{name}/{tab}" not in paths  # pages are not API


def test_pages_render_and_project_opens_where_the_user_left_off(client, studio, finished):
    name = branch_of(studio, finished, "pages")
    assert client.get("/").status_code == 200
    for tab in overview.TAB_NAMES:
        r = client.get(f"/p/{name}/{tab}")
        assert r.status_code == 200, (tab, r.text[:300])
        assert 'class="legend"' in r.text and 'id="pipeline"' in r.text
    client.get(f"/p/{name}/scenes")
    r = client.get(f"/p/{name}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/p/{name}/scenes"
    assert json.loads((studio.project_dir(name) / "web_state.json").read_text())["tab"] == "scenes"
    r = client.get(f"/p/{name}/nope")
    assert r.status_code == 404 and "text/html" in r.headers["content-type"] and "Traceback" not in r.text
    r = client.get("/p/no-such-project/overview")
    assert r.status_code == 404 and "unknown project" in r.text
    assert client.put(f"/api/projects/{name}/tab", json={"tab": "assets"}).json()["tab"] == "assets"
    assert client.put(f"/api/projects/{name}/tab", json={"tab": "bogus"}).status_code == 400


def test_security_headers_and_static(client):
    r = client.get("/static/app.js")
    assert r.status_code == 200
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert r.headers["x-content-type-options"] == "nosniff"
    assert client.get("/static/app.css").status_code == 200


# --- projects -----------------------------------------------------------------------------------------------


def test_create_from_prompt_and_bad_input(client):
    r = client.post(
        "/api/projects",
        json={
            "prompt": "A clockmaker's last commission",
            "duration": 12,
            "aspect": "9:16",
            "style": "ink",
            "rules": "No dialogue\n- Always night",
            "folder": "Drafts",
        },
    )
    assert r.status_code == 201, r.text
    name = r.json()["project"]
    assert r.json()["url"] == f"/p/{name}"
    card = client.get(f"/api/projects/{name}").json()
    assert card["folder"] == "Drafts" and card["aspect"] == "9:16" and card["progress"] == 0
    assert card["position"] == "Story" and card["thumbnail"] is None
    film = client.get(f"/api/projects/{name}/film").json()
    assert film["inputs"]["story_rules"] == ["No dialogue", "Always night"]
    assert "empty" in error_of(client.post("/api/projects", json={"prompt": "   "}))
    assert client.post("/api/projects", json={"prompt": ""}).status_code == 400
    assert client.post("/api/projects", json={"prompt": "x", "aspect": "4:3"}).status_code == 400
    assert client.post("/api/projects", json={"prompt": "x", "duration": -5}).status_code == 400
    assert client.post("/api/projects", json={"prompt": "x", "duration": "long"}).status_code == 400
    assert client.post("/api/projects", json={"prompt": "x", "name": "../evil"}).status_code == 400
    assert client.post("/api/projects", json={"prompt": "x", "name": name}).status_code == 400  # exists
    assert (
        client.post(
            "/api/projects", content=b"{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )


def test_create_from_notes_and_screenplay(client):
    notes = (b"# My film\n\n## Plot\nA baker hides a map in a loaf.\n\n## Characters\nMIRA, a baker.\n\n"
             b"## Vibe\nCosy\n")
    r = client.post(
        "/api/projects/import",
        files=[("documents", ("notes.md", notes, "text/markdown"))],
        data={"duration": "20", "aspect": "1:1"},
    )
    assert r.status_code == 201, r.text
    film = client.get(f"/api/projects/{r.json()['project']}/film").json()
    assert "baker" in film["inputs"]["plot"] and film["inputs"]["vibe"] == "Cosy"
    script = "Title: Night Shift\n\nINT. BAKERY - NIGHT\n\nMira kneads dough.\n\nMIRA\nNot tonight.\n"
    r = client.post(
        "/api/projects/import", files={"screenplay": ("night.fountain", script.encode(), "text/plain")}
    )
    assert r.status_code == 201, r.text
    film = client.get(f"/api/projects/{r.json()['project']}/film").json()
    assert film["inputs"]["screenplay"] == script and film["inputs"]["prompt"] == "Night Shift"
    r = client.post("/api/projects/import", data={"screenplay_text": script, "name": "pasted-script"})
    assert r.status_code == 201 and r.json()["project"] == "pasted-script"
    r = client.post("/api/projects", json={"script": script, "name": "json-script"})
    assert r.status_code == 201
    assert client.get("/api/projects/json-script/screenplay").json()["mode"] == "imported"
    # bad uploads
    assert "NUL" in error_of(
        client.post("/api/projects/import", files=[("documents", ("x.md", b"\x00\x01binary", "text/plain"))])
    )
    assert "UTF-8" in error_of(
        client.post("/api/projects/import", files=[("documents", ("x.md", b"\xff\xfe\xfa", "text/plain"))])
    )
    assert client.post("/api/projects/import", data={}).status_code == 400
    assert (
        client.post("/api/projects/import", data={"screenplay_text": "x", "duration": "soon"}).status_code
        == 400
    )


def test_list_folder_versions_film(client, studio, finished):
    name = branch_of(studio, finished, "folders")
    cards = {c["project"]: c for c in client.get("/api/projects").json()}
    card = cards[finished]
    assert card["progress"] == 100 and card["position"] == "Final cut ready"
    assert card["thumbnail"].startswith("images/") and card["updated_ago"]
    assert cards[name]["parent"] == finished
    r = client.put(f"/api/projects/{name}/folder", json={"folder": "  Festival cuts "})
    assert r.json()["folder"] == "Festival cuts"
    assert "Festival cuts" in client.get("/").text
    versions = client.get(f"/api/projects/{name}/versions").json()
    assert versions and {"version", "created", "note"} <= set(versions[0])
    assert client.get(f"/api/projects/{name}/film", params={"version": 1}).json()["name"] == name
    assert client.get(f"/api/projects/{name}/film", params={"version": 99999}).status_code == 404


@pytest.mark.parametrize(
    "route",
    [
        "/api/projects/{}",
        "/api/projects/{}/film",
        "/api/projects/{}/versions",
        "/api/projects/{}/status",
        "/api/projects/{}/plan",
        "/api/projects/{}/events",
        "/api/projects/{}/options",
        "/api/projects/{}/screenplay",
        "/api/projects/{}/assets",
        "/api/projects/{}/scenes",
        "/api/projects/{}/storyboard",
        "/api/projects/{}/downloads",
        "/api/projects/{}/export.json",
        "/api/projects/{}/locks",
        "/api/projects/{}/branches",
        "/api/projects/{}/nodes/lore",
    ],
)
def test_unknown_project_is_404_everywhere(client, route):
    r = client.get(route.format("no-such-film"))
    assert r.status_code == 404
    assert "unknown project" in error_of(r)


@pytest.mark.parametrize(
    "method,route,body",
    [
        ("POST", "/api/projects/{}/run", {}),
        ("POST", "/api/projects/{}/stop", None),
        ("POST", "/api/projects/{}/choose", {"step": "lore", "option": 1}),
        ("POST", "/api/projects/{}/review", None),
        ("PUT", "/api/projects/{}/screenplay", {"text": "INT. A - DAY\n"}),
        ("PUT", "/api/projects/{}/folder", {"folder": "x"}),
        ("POST", "/api/projects/{}/locks", {"stage": "story"}),
        ("POST", "/api/projects/{}/unlock", {"stage": "story"}),
        ("POST", "/api/projects/{}/branches", {}),
        ("POST", "/api/projects/{}/edit", {"path": "inputs.prompt", "value": "x"}),
        ("PUT", "/api/projects/{}/assets/char-x/dropped", {"dropped": True}),
    ],
)
def test_unknown_project_is_404_for_changes(client, method, route, body):
    r = client.request(method, route.format("no-such-film"), json=body)
    assert r.status_code == 404, r.text
    error_of(r)


# --- runs and SSE -------------------------------------------------------------------------------------------


def read_sse(client, url, timeout=60.0) -> list[tuple[str, dict]]:
    events, current = [], None
    deadline = time.time() + timeout
    with client.stream("GET", url) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                current = line[7:]
            elif line.startswith("data: "):
                events.append((current, json.loads(line[6:])))
                if current == "end":
                    break
            assert time.time() < deadline, "the event stream did not end"
    return events


def test_sse_for_an_idle_project_sends_status_then_end(client, finished):
    events = read_sse(client, f"/api/projects/{finished}/events")
    assert [e for e, _ in events] == ["status", "end"]
    snap = events[-1][1]
    assert snap["active"] is False and snap["progress"] == 100
    assert [s["stage"] for s in snap["stages"]][:2] == ["story", "beats"]


def test_run_until_story_streams_progress_to_the_end(client):
    name = client.post(
        "/api/projects", json={"prompt": "Two crows argue about the moon", "duration": 10}
    ).json()["project"]
    assert client.post(f"/api/projects/{name}/run", json={"until": "nowhere"}).status_code == 404
    r = client.post(f"/api/projects/{name}/run", json={"until": "story"})
    assert r.status_code == 202, r.text
    events = read_sse(client, f"/api/projects/{name}/events")
    assert events[-1][0] == "end" and len(events) >= 2
    last = events[-1][1]
    assert last["run"]["state"] == "finished" and not last["active"]
    story = next(s for s in last["stages"] if s["stage"] == "story")
    assert story["state"] == "review"  # options exist, nobody looked at them yet
    status = client.get(f"/api/projects/{name}/status").json()
    assert status["running"] is False and status["stage"] == "beats"
    plan = client.get(f"/api/projects/{name}/plan").json()
    assert {n["node"]: n["state"] for n in plan}["lore"] == "done"
    node = client.get(f"/api/projects/{name}/nodes/lore").json()
    assert node["node"] == "lore" and node["status"] == "done"
    assert client.get(f"/api/projects/{name}/nodes/nope").status_code == 404


def test_a_run_is_exclusive_and_can_be_stopped(client, app, studio, monkeypatch):
    """A fake run that waits: a second start is 409, status says active, stop and the stream's end work."""
    name = studio.create("slow", "A slow film", duration=10)
    release = threading.Event()
    stopped = []

    def fake_run(self, project, *, until=None, **kw):
        release.wait(20)
        return {}

    monkeypatch.setattr("storyreel.web.runner.Studio.run", fake_run)
    monkeypatch.setattr("storyreel.studio.Studio.stop", lambda self, n: stopped.append(n) or True)
    assert client.post(f"/api/projects/{name}/run").status_code == 202
    r = client.post(f"/api/projects/{name}/run")
    assert r.status_code == 409 and r.json()["kind"] == "busy"
    assert client.get(f"/api/projects/{name}/status").json()["active"] is True
    assert client.post(f"/api/projects/{name}/stop").json()["stopping"] is True and stopped == [name]
    threading.Timer(0.5, release.set).start()
    events = read_sse(client, f"/api/projects/{name}/events")
    assert events[0][1]["active"] is True and events[-1][0] == "end"
    assert events[-1][1]["run"]["state"] == "finished"


def test_a_failing_run_reports_one_line(client, studio, monkeypatch):
    name = studio.create("failing", "A film that fails", duration=10)

    def boom(self, project, **kw):
        raise RuntimeError("kaboom\nwith a traceback")

    monkeypatch.setattr("storyreel.web.runner.Studio.run", boom)
    assert client.post(f"/api/projects/{name}/run").status_code == 202
    events = read_sse(client, f"/api/projects/{name}/events")
    run = events[-1][1]["run"]
    assert run["state"] == "failed" and "kaboom" not in run["error"] and "\n" not in run["error"]


# --- review and screenplay ----------------------------------------------------------------------------------


def test_choose_options_and_review(client, studio, finished):
    name = branch_of(studio, finished, "review")
    opts = client.get(f"/api/projects/{name}/options").json()
    assert len(opts["lore"]["options"]) == 3 and opts["treatment"]["chosen"] == 1 and opts["needs_review"]
    assert opts["beats"]
    for bad in (
        {"step": "lore", "option": 0},
        {"step": "lore", "option": 4},
        {"step": "beats", "option": 1},
        {"step": "lore", "option": "two"},
        {"option": 1},
    ):
        r = client.post(f"/api/projects/{name}/choose", json=bad)
        assert r.status_code == 400, (bad, r.text)
        error_of(r)
    r = client.post(f"/api/projects/{name}/choose", json={"step": "treatment", "option": 2})
    assert r.status_code == 200 and r.json()["project"] == name
    opts = client.get(f"/api/projects/{name}/options").json()
    assert opts["treatment"]["chosen"] == 2 and not opts["needs_review"]
    stages = {s["stage"]: s["state"] for s in client.get(f"/api/projects/{name}/status").json()["stages"]}
    assert stages["story"] == "done" and stages["beats"] == "stale" and stages["cut"] == "stale"
    other = branch_of(studio, finished, "review2")
    assert client.get(f"/api/projects/{other}/options").json()["needs_review"]
    assert client.post(f"/api/projects/{other}/review").status_code == 200
    assert not client.get(f"/api/projects/{other}/options").json()["needs_review"]
    fresh = studio.create("no-options", "Nothing yet", duration=10)
    assert client.post(f"/api/projects/{fresh}/review").status_code == 400
    assert client.post(f"/api/projects/{fresh}/choose", json={"step": "lore", "option": 1}).status_code == 400


def test_screenplay_edit_and_locked_stage_offers_a_branch(client, studio, finished):
    name = branch_of(studio, finished, "script-edit")
    sp = client.get(f"/api/projects/{name}/screenplay").json()
    assert sp["mode"] == "scenes" and sp["text"].startswith("INT.") or sp["text"].startswith("EXT.")
    text = sp["text"]
    first_heading = text.splitlines()[0]
    edited = text.replace(first_heading, first_heading + "\n\nA gull lands on the rail.", 1)
    r = client.put(f"/api/projects/{name}/screenplay", json={"text": edited})
    assert r.status_code == 200 and r.json()["changed"] == 1, r.text
    film = client.get(f"/api/projects/{name}/film").json()
    assert film["scenes"][0]["script"]["action"].startswith("A gull lands on the rail.")
    assert client.put(f"/api/projects/{name}/screenplay", json={"text": edited}).json()["changed"] == 0
    stages = {s["stage"]: s["state"] for s in client.get(f"/api/projects/{name}/status").json()["stages"]}
    assert stages["script"] == "stale" or stages["script"] == "partial"  # visual script must be redone
    # headings and scene count are the outline's
    assert "heading" in error_of(
        client.put(
            f"/api/projects/{name}/screenplay",
            json={"text": edited.replace(first_heading, "INT. MOON - DAY", 1)},
        )
    )
    assert "scenes" in error_of(
        client.put(
            f"/api/projects/{name}/screenplay", json={"text": edited + "\nINT. ATTIC - DAY\n\nDust.\n"}
        )
    )
    assert client.put(f"/api/projects/{name}/screenplay", json={"text": 42}).status_code == 400
    # lock story, beats, script: saving answers 409 (locked) and, with branch=true, saves on a new branch
    name = branch_of(studio, finished, "script-locked")
    for stage in ("story", "beats", "script"):
        assert client.post(f"/api/projects/{name}/locks", json={"stage": stage}).status_code == 200
    again = edited.replace("A gull lands on the rail.", "Two gulls land on the rail.")
    r = client.put(f"/api/projects/{name}/screenplay", json={"text": again})
    assert r.status_code == 409 and r.json()["kind"] == "locked" and r.json()["stage"] == "script"
    r = client.put(f"/api/projects/{name}/screenplay", params={"branch": "true"}, json={"text": again})
    assert r.status_code == 200, r.text
    branch = r.json()["project"]
    assert branch != name
    assert "Two gulls" in client.get(f"/api/projects/{branch}/screenplay").json()["text"]
    assert "Two gulls" not in client.get(f"/api/projects/{name}/screenplay").json()["text"]
    assert client.get(f"/api/projects/{branch}/locks").json()["locks"] == ["story", "beats"]


def test_imported_screenplay_edits_inputs(client):
    script = "INT. BAKERY - NIGHT\n\nMira kneads dough.\n"
    name = client.post("/api/projects", json={"script": script, "name": "imported-edit"}).json()["project"]
    r = client.put(f"/api/projects/{name}/screenplay", json={"text": script + "\nThe oven hums.\n"})
    assert r.status_code == 200 and r.json()["changed"] == 1
    assert "oven" in client.get(f"/api/projects/{name}/film").json()["inputs"]["screenplay"]
    assert client.put(f"/api/projects/{name}/screenplay", json={"text": "just words"}).status_code == 400


# --- assets -------------------------------------------------------------------------------------------------


def test_asset_checklist_favourite_and_regenerate(client, app, studio, finished, monkeypatch):
    name = branch_of(studio, finished, "assets")
    assets = client.get(f"/api/projects/{name}/assets").json()
    prop = next(a for a in assets if a["kind"] == "prop")
    char = next(a for a in assets if a["kind"] == "character")
    r = client.put(f"/api/projects/{name}/assets/{prop['id']}/dropped", json={"dropped": True})
    assert r.status_code == 200
    assert studio.film(name).asset(prop["id"]).dropped is True
    plan = {n["node"] for n in client.get(f"/api/projects/{name}/plan").json()}
    assert f"reference_sheet:{prop['id']}" not in plan
    assert client.put(f"/api/projects/{name}/assets/nope/dropped", json={"dropped": True}).status_code == 404
    assert (
        client.put(f"/api/projects/{name}/assets/{prop['id']}.x/dropped", json={"dropped": 1}).status_code
        == 404
    )
    assert client.put(f"/api/projects/{name}/assets/{prop['id']}/dropped", json={}).status_code == 400
    side = next(h for h in char["history"] if h["view"] == "side")
    r = client.put(f"/api/projects/{name}/assets/{char['id']}/favourite", json={"path": side["path"]})
    assert r.status_code == 200
    assert (
        client.put(
            f"/api/projects/{name}/assets/{char['id']}/favourite", json={"path": "images/../../etc/passwd"}
        ).status_code
        == 404
    )
    started = []
    monkeypatch.setattr(app.state.web.runner, "start", lambda s, n, until=None: started.append(n))
    r = client.post(
        f"/api/projects/{name}/assets/{char['id']}/regenerate", json={"note": "older, grey beard"}
    )
    assert r.status_code == 202 and started == [name]
    assert studio.film(name).asset(char["id"]).guidance == "older, grey beard"
    assert "same" in error_of(
        client.post(
            f"/api/projects/{name}/assets/{char['id']}/regenerate", json={"note": "older, grey beard"}
        )
    )
    assert "dropped" in error_of(
        client.post(f"/api/projects/{name}/assets/{prop['id']}/regenerate", json={"note": "shiny"})
    )


def test_upload_reference_checks_the_image(client, studio, finished):
    name = branch_of(studio, finished, "uploads")
    char = next(a for a in client.get(f"/api/projects/{name}/assets").json() if a["kind"] == "character")
    url = f"/api/projects/{name}/assets/{char['id']}/upload"
    r = client.post(url, files={"file": ("me.png", png_bytes(), "image/png")}, data={"view": "side"})
    assert r.status_code == 201, r.text
    path = r.json()["path"]
    assert path.startswith("images/upload_") and path.endswith(".png")
    assert (studio.project_dir(name) / path).is_file()
    asset = studio.film(name).asset(char["id"])
    assert asset.reference("side").path == path and asset.history[-1].uploaded is True
    assert client.get(f"/media/{name}/{path}").headers["content-type"] == "image/png"
    for fmt, ctype in (("JPEG", "image/jpeg"), ("WEBP", "image/webp")):
        r = client.post(
            url, files={"file": (f"x.{fmt.lower()}", png_bytes(fmt=fmt), ctype)}, data={"view": "front"}
        )
        assert r.status_code == 201, r.text
    bad = [
        (("x.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "image/png"), "corrupt"),  # magic only
        (("x.png", png_bytes()[:-30], "image/png"), "corrupt"),  # truncated
        (("x.jpg", png_bytes(fmt="JPEG")[:200], "image/jpeg"), "corrupt"),
        (("x.gif", png_bytes(fmt="GIF"), "image/gif"), "image/gif"),
        (("x.txt", b"hello world", "text/plain"), "text/plain"),
        (("x.png", b"hello world", "image/png"), "not a PNG"),
        (("x.png", png_bytes(fmt="JPEG"), "image/png"), "JPG"),  # declared PNG, is JPEG
        (("x.png", b"", "image/png"), "empty"),
        (("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (20 * 1024 * 1024 + 10), "image/png"), "20 MB"),
    ]
    before = len(list((studio.project_dir(name) / "images").iterdir()))
    for file, words in bad:
        r = client.post(url, files={"file": file}, data={"view": "front"})
        assert r.status_code == 400, (file[0], r.text)
        assert words.lower() in error_of(r).lower(), (file[0], r.json())
    assert len(list((studio.project_dir(name) / "images").iterdir())) == before
    assert (
        client.post(
            url, files={"file": ("x.png", png_bytes(), "image/png")}, data={"view": "establishing"}
        ).status_code
        == 400
    )
    assert client.post(url, data={"view": "front"}).status_code == 400  # no file
    assert (
        client.post(
            f"/api/projects/{name}/assets/nope/upload", files={"file": ("x.png", png_bytes(), "image/png")}
        ).status_code
        == 404
    )


# --- scenes -------------------------------------------------------------------------------------------------


def test_scene_instances_derive_and_as_is(client, studio, finished):
    name = branch_of(studio, finished, "scenes")
    scenes = client.get(f"/api/projects/{name}/scenes").json()
    assert len(scenes) >= 2
    s2 = scenes[1]
    inst = next(i for i in s2["instances"] if len(i["choices"]) > 1)  # appears in an earlier scene too
    assert (
        inst["default"] == scenes[0]["id"]
        and inst["earlier"]
        and inst["earlier"][0]["url"].startswith("/media/")
    )
    url = f"/api/projects/{name}/scenes/{s2['id']}/instances/{inst['asset_id']}"
    r = client.put(url, json={"derives_from": "master"})
    assert r.status_code == 200 and r.json()["changed"]
    got = studio.film(name).scene(s2["id"]).instances
    mine = next(i for i in got if i.asset_id == inst["asset_id"])
    assert mine.derives_from == "master" and mine.derives_chosen is True
    assert client.put(url, json={"derives_from": s2["id"]}).status_code == 400  # not earlier
    assert client.put(url, json={"derives_from": "s99"}).status_code == 400
    assert client.put(url, json={"derives_from": "default"}).json()["changed"]
    mine = next(i for i in studio.film(name).scene(s2["id"]).instances if i.asset_id == inst["asset_id"])
    assert mine.derives_from == scenes[0]["id"] and mine.derives_chosen is False
    assert client.put(url, json={"use_reference_as_is": True}).status_code == 200
    assert client.put(url, json={"use_reference_as_is": True}).json()["changed"] is False
    assert (
        client.put(f"/api/projects/{name}/scenes/s99/instances/{inst['asset_id']}", json={}).status_code
        == 404
    )
    assert client.put(f"/api/projects/{name}/scenes/{s2['id']}/instances/nope", json={}).status_code == 404


# --- storyboard, downloads, media ---------------------------------------------------------------------------


def test_storyboard_and_downloads(client, studio, finished):
    board = client.get(f"/api/projects/{finished}/storyboard").json()
    film = studio.film(finished)
    assert board["shots"] == len(film.shots)
    shot = board["scenes"][0]["shots"][0]
    assert shot["first_url"].startswith(f"/media/{finished}/images/") and shot["clip_url"].endswith(".mp4")
    assert board["final"]["url"].endswith(".mp4") and board["final"]["duration"] == pytest.approx(
        film.cut.duration
    )
    labels = {d["label"] for d in client.get(f"/api/projects/{finished}/downloads").json()}
    assert {"Final film (MP4)", "Subtitles (SRT)", "Film (JSON)"} <= labels
    r = client.get(f"/api/projects/{finished}/export.json")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    assert json.loads(r.text)["name"] == finished
    final = client.get(board["final"]["url"])
    assert final.status_code == 200 and final.headers["content-type"] == "video/mp4"
    part = client.get(board["final"]["url"], headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and len(part.content) == 100
    srt = client.get(f"/media/{finished}/{film.sound.subtitles}", params={"download": "1"})
    assert srt.status_code == 200 and "attachment" in srt.headers["content-disposition"]


@pytest.mark.parametrize(
    "path",
    [
        "../storyreel.db",
        "..%2Fstoryreel.db",
        "%2e%2e/storyreel.db",
        "%2e%2e%2fstoryreel.db",
        "images/../../storyreel.db",
        "images/%2e%2e/%2e%2e/storyreel.db",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "images/..%5c..%5cstoryreel.db",
        "web_state.json",
        "images",
        "images/",
        "images/nope.png",
        "images/%00.png",
        "logs/x.txt",
        "images/x.py",
        "C:%5cwindows%5cwin.ini",
        "images/%252e%252e/x.png",
    ],
)
def test_media_refuses_traversal(client, finished, path):
    r = client.get(f"/media/{finished}/{path}")
    assert r.status_code in (400, 404), (path, r.status_code)
    assert "root:" not in r.text and "SQLite" not in r.text


def test_media_refuses_symlinks_out_and_unknown_projects(client, studio, finished, tmp_path):
    name = branch_of(studio, finished, "links")
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes())
    link = studio.project_dir(name) / "images" / "link.png"
    os.symlink(secret, link)
    assert client.get(f"/media/{name}/images/link.png").status_code == 404
    inner = studio.project_dir(name) / "images" / "inner.png"
    target = next((studio.project_dir(name) / "images").glob("keyframe_*.png"))
    os.symlink(target, inner)
    assert (
        client.get(f"/media/{name}/images/inner.png").status_code == 200
    )  # a link that stays inside is fine
    assert client.get("/media/no-such/images/a.png").status_code == 404
    assert client.get("/media/..%2F..%2Fetc/passwd").status_code == 404
    assert client.get("/media/UPPER/images/a.png").status_code == 404


# --- locks and branches -------------------------------------------------------------------------------------


def test_locks_in_order_and_branches(client, studio, finished):
    name = branch_of(studio, finished, "locks")
    r = client.post(f"/api/projects/{name}/locks", json={"stage": "beats"})
    assert r.status_code == 409 and "story" in error_of(r)
    assert client.post(f"/api/projects/{name}/locks", json={"stage": "plot"}).status_code == 404
    assert client.post(f"/api/projects/{name}/locks", json={}).status_code == 400
    assert client.post(f"/api/projects/{name}/locks", json={"stage": "story"}).json()["locks"] == ["story"]
    stages = {s["stage"]: s["state"] for s in client.get(f"/api/projects/{name}/status").json()["stages"]}
    assert stages["story"] == "locked"
    r = client.post(f"/api/projects/{name}/choose", json={"step": "lore", "option": 2})
    assert r.status_code == 409 and r.json() == {
        "error": r.json()["error"],
        "kind": "locked",
        "stage": "story",
    }
    r = client.post(f"/api/projects/{name}/edit", json={"path": "inputs.prompt", "value": "New idea"})
    assert r.status_code == 409 and r.json()["kind"] == "locked"
    r = client.post(
        f"/api/projects/{name}/choose", params={"branch": "true"}, json={"step": "lore", "option": 2}
    )
    assert r.status_code == 200
    branch = r.json()["project"]
    assert branch != name and studio.film(branch).lore.chosen == 1 and studio.film(name).lore.chosen == 0
    r = client.post(f"/api/projects/{name}/unlock", json={"stage": "story", "new_name": "locks-free"})
    assert r.status_code == 201 and r.json()["project"] == "locks-free"
    assert (
        client.post(f"/api/projects/{name}/unlock", json={"stage": "beats"}).status_code == 400
    )  # not locked
    fam = client.get(f"/api/projects/{name}/branches").json()
    assert {b["name"] for b in fam["branches"]} >= {branch, "locks-free"}
    assert fam["parent"] == finished
    assert all(b["parent"] == name for b in fam["branches"])
    assert any(f["name"] == finished and f["depth"] == 0 for f in fam["family"])
    r = client.post(f"/api/projects/{finished}/branches", json={"new_name": "reel-at-3", "at": 3})
    assert r.status_code == 201 and studio.store.project("reel-at-3").parent_version == 3
    assert client.post(f"/api/projects/{name}/branches", json={"new_name": "reel-at-3"}).status_code == 400
    assert client.post(f"/api/projects/{name}/branches", json={"at": 999}).status_code == 404
    assert client.post(f"/api/projects/{name}/branches", json={"new_name": "Bad Name"}).status_code == 400
    assert client.post(f"/api/projects/{name}/branches", json={"at": 0}).status_code == 400
    r = client.post(f"/api/projects/{name}/edit", json={"path": "nope.field", "value": 1})
    assert r.status_code == 404
    r = client.post("/api/projects/locks-free/edit", json={"path": "inputs.duration", "value": "abc"})
    assert r.status_code == 400


# --- tokens, hosts, origins, unexpected errors --------------------------------------------------------------


def test_token_is_required_when_set(data_dir, finished):
    with TestClient(create_app(data_dir, token="s3cret")) as c:
        r = c.get("/api/projects")
        assert r.status_code == 401 and "token" in error_of(r)
        assert c.get("/api/projects", headers={"Authorization": "Bearer nope"}).status_code == 401
        assert c.get("/api/projects", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert c.get("/", follow_redirects=False).status_code == 401
        assert c.get(f"/media/{finished}/output/x.mp4").status_code == 401
        assert c.get("/static/app.js").status_code == 401
        assert c.get("/?token=wrong", follow_redirects=False).status_code == 401
        r = c.get(f"/p/{finished}/overview?token=s3cret&x=1", follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/p/{finished}/overview?x=1"
        assert "HttpOnly" in r.headers["set-cookie"] and "SameSite=Strict" in r.headers["set-cookie"]
        assert c.get("/").status_code == 200  # the cookie now rides along
        assert c.get("/api/projects").status_code == 200
        c.cookies.clear()
        c.cookies.set("token", "wrong")
        assert c.get("/api/projects").status_code == 401


def test_serve_refuses_a_public_host_without_token(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("STORYREEL_TOKEN", raising=False)
    with pytest.raises(SystemExit) as exc:
        serve(tmp_path, host="0.0.0.0", port=1)
    assert exc.value.code != 0
    err = capsys.readouterr().err.strip()
    assert "STORYREEL_TOKEN" in err and len(err.splitlines()) == 1


def test_loopback_only_hosts_and_cross_site_posts(data_dir):
    app = create_app(data_dir, allowed_hosts=LOOPBACK_HOSTS)
    with TestClient(app, base_url="http://evil.example") as c:
        assert c.get("/api/projects").status_code == 400
    with TestClient(app, base_url="http://127.0.0.1:8000") as c:
        assert c.get("/api/projects").status_code == 200
        r = c.post("/api/projects", json={"prompt": "x"}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in error_of(r)
        assert c.post("/api/projects", json={"prompt": "x"}, headers={"Origin": "null"}).status_code == 403
        r = c.post("/api/projects", json={"prompt": "x", "name": "same-origin"},
                   headers={"Origin": "http://127.0.0.1:8000"})
        assert r.status_code == 201
    with TestClient(app, base_url="http://localhost:8000") as c:
        assert c.get("/api/projects").status_code == 200


def test_unexpected_errors_are_a_generic_500(data_dir, monkeypatch):
    def broken(*a, **k):
        raise RuntimeError("secret internals /etc/shadow")

    monkeypatch.setattr("storyreel.web.api.projects.overview.card", broken)
    monkeypatch.setattr("storyreel.web.pages.routes.overview.card", broken)
    with TestClient(create_app(data_dir), raise_server_exceptions=False) as c:
        r = c.get("/api/projects")
        assert r.status_code == 500 and "secret" not in r.text and "server log" in error_of(r)
        r = c.get("/")
        assert r.status_code == 500 and "secret" not in r.text and "Traceback" not in r.text
        assert c.get("/api/nothing-here").json() == {"error": "not found"}
        assert c.delete("/api/projects").status_code == 405
