"""The CLI as a user runs it: bad input is one clear line, a non-zero exit, and changes nothing."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from storyreel import Studio


def cli(data, *args, input_text=None):
    return subprocess.run([sys.executable, "-m", "storyreel.cli", *args, "--data-dir", str(data)],
                          capture_output=True, text=True, timeout=300, input=input_text)


def snapshot(path):
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if "storyreel.db" not in p.name)


BAD_NEW = [
    (["new", "x", "--prompt", ""], "prompt is empty"),
    (["new", "x", "--prompt", "   \n\t "], "prompt is empty"),
    (["new", "x", "--prompt", "a" * 100_001], "limit is 100,000"),
    (["new", "x", "--prompt", "ok", "--duration", "0"], "duration must be more than 0"),
    (["new", "x", "--prompt", "ok", "--duration", "-5"], "duration must be more than 0"),
    (["new", "x", "--prompt", "ok", "--duration", "10801"], "at most 10800"),
    (["new", "../evil", "--prompt", "ok"], "unsafe project name"),
    (["new", "Bad Name", "--prompt", "ok"], "unsafe project name"),
    (["new", "x", "--prompt", "ok", "--aspect", "4:3"], "aspect must be one of"),
]


@pytest.mark.parametrize(("args", "message"), BAD_NEW, ids=[m for _, m in BAD_NEW])
def test_bad_new_is_one_line_and_changes_nothing(tmp_path, args, message):
    before = snapshot(tmp_path)
    r = cli(tmp_path, *args)
    assert r.returncode == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert snapshot(tmp_path) == before
    assert Studio(tmp_path).projects() == []


def test_bad_script_files(tmp_path):
    folder = tmp_path / "adir"
    folder.mkdir()
    latin = tmp_path / "latin.fountain"
    latin.write_bytes("INT. CAFÉ - DAY\n\nÉlodie entre.".encode("latin-1"))
    empty = tmp_path / "empty.fountain"
    empty.write_text("   \n")
    data = tmp_path / "data"
    for path, message in ((tmp_path / "missing.fountain", "screenplay"), (folder, "screenplay"),
                          (latin, "UTF-8"), (empty, "empty")):
        r = cli(data, "new", "x", "--prompt", "ok", "--script", str(path))
        assert r.returncode == 1, r.stderr
        assert message in r.stderr and "Traceback" not in r.stderr
    assert Studio(data).projects() == []


def test_unknown_things(tmp_path):
    assert cli(tmp_path, "new", "p", "--prompt", "A fox steals a lantern", "--duration", "10").returncode == 0
    cases = [
        (["status", "nope"], "unknown project 'nope'"),
        (["run", "nope"], "unknown project"),
        (["run", "p", "--until", "nostage"], "unknown stage 'nostage'"),
        (["edit", "p", "inputs.nofield", "x"], "unknown field path"),
        (["edit", "p", "scenes.s99.script.action", "x"], "unknown field path"),
        (["lock", "p", "nostage"], "unknown stage"),
        (["show", "p", "no-such-node"], "unknown node"),
        (["choose", "p", "beats", "1"], "only lore and treatment"),
        (["edit", "p", "inputs.duration", "\"ten\""], "invalid value for inputs.duration"),
    ]
    for args, message in cases:
        r = cli(tmp_path, *args)
        assert r.returncode != 0, args
        assert message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr


def test_new_run_status_plan_show_edit_from_the_cli(tmp_path):
    assert cli(tmp_path, "new", "fox", "--prompt", "A fox steals a lantern", "--duration", "10",
               "--rule", "set in 1600s Europe").returncode == 0
    r = cli(tmp_path, "run", "fox", "--until", "beats")
    assert r.returncode == 0, r.stderr
    st = json.loads(cli(tmp_path, "status", "fox", "--json").stdout)
    assert set(st) >= {"project", "stage", "progress", "nodes", "counts", "outputs"}
    assert set(st["nodes"]) >= {"total", "done", "running", "pending", "failed", "stale"}
    assert set(st["counts"]) == {"scenes", "characters", "locations", "props", "shots", "dialogue_lines"}
    nodes = json.loads(cli(tmp_path, "plan", "fox", "--json").stdout)
    assert {n["node"]: n["state"] for n in nodes}["treatment"] == "done"
    shown = json.loads(cli(tmp_path, "show", "fox", "treatment").stdout)
    assert shown["model"] == "local:draft" and shown["attempts"]
    assert "set in 1600s Europe" in shown["prompts"][0]["system"]
    assert len(shown["output"]["options"]) == 3
    assert cli(tmp_path, "choose", "fox", "treatment", "2").returncode == 0
    nodes = {n["node"]: n["state"] for n in json.loads(cli(tmp_path, "plan", "fox", "--json").stdout)}
    assert nodes["beats"] == "stale"
    exported = json.loads(cli(tmp_path, "export", "fox", "--format", "json").stdout)
    assert exported["treatment"]["chosen"] == 1 and exported["schema_version"] >= 1
