"""The offline previz renderer's drawing side: identities, reference sheets, storyboard frames."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from storyreel.providers.local import sketch, sketch_figures
from storyreel.providers.local.sketch import (
    caption_layout,
    costume,
    draw_frame,
    draw_reference,
    encode_jpeg,
    encode_png,
    identity,
    place_kind,
    prop_kind,
    time_of_day,
)

SIZES = [(1920, 1080), (1080, 1920), (1080, 1080), (320, 180), (180, 320), (64, 64)]
FRAMINGS = ["wide", "medium", "close-up", "insert", "pov"]
DISGUISE = "wearing a fake beard and a monk's hood"


def spec(**kw) -> dict:
    base = {
        "shot_number": 12, "moment": "first", "framing": "wide", "camera_move": "push-in",
        "caption": "Mara slides the letter across the table; Tomas does not look at it.",
        "dialogue": [{"character": "Tomas", "text": "You should not have come."}],
        "location": {"name": "INT. MONASTERY KITCHEN", "time_of_day": "NIGHT", "description": "a long table"},
        "characters": [{"name": "Mara", "state": DISGUISE}, {"name": "Tomas", "state": ""}],
        "props": ["letter", "oil lamp"], "pov_character": None,
    }
    base.update(kw)
    return base


def arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img.convert("RGB"), dtype=np.int16)


def diff(a: Image.Image, b: Image.Image) -> float:
    """Fraction of pixels that differ noticeably."""
    return float((np.abs(arr(a) - arr(b)).sum(axis=2) > 24).mean())


# --- identities ---------------------------------------------------------------------------------------------


def test_identity_is_deterministic_and_complete():
    a, b = identity("Mara"), identity("Mara")
    assert a == b
    assert a["label"] == "Mara"
    assert a["silhouette"] in ("tall", "short", "broad", "slim", "round")
    assert 2 <= len(a["palette"]) <= 3
    assert all(c.startswith("#") and len(c) == 7 for c in a["palette"])
    assert {"head", "hair", "hair_color", "skin"} <= set(a)
    json.dumps(a)  # plain data


def test_identity_ignores_case_spacing_and_extensions():
    assert identity("MARA")["palette"] == identity(" mara ")["palette"] == identity("Mara (V.O.)")["palette"]
    assert identity("MARA")["silhouette"] == identity("Mara")["silhouette"]


def test_different_names_give_different_identities():
    names = ["Mara", "Tomas", "Old Ilse", "Jonah", "Priya", "Captain Reyes", "The Stranger", "Kid"]
    looks = {n: identity(n) for n in names}
    looks_only = {
        json.dumps({k: v for k, v in d.items() if k not in ("name", "label")}, sort_keys=True)
        for d in looks.values()
    }
    assert len(looks_only) == len(names)
    # and the look spreads over the whole vocabulary, not one corner of it
    many = [identity(f"Person {i}") for i in range(200)]
    assert len({d["silhouette"] for d in many}) == 5
    assert len({d["palette"][0] for d in many}) >= 10
    assert identity("lantern", "prop") != identity("lantern", "character")


def test_identity_does_not_depend_on_python_hash_seed():
    code = (
        "import json; from storyreel.providers.local.sketch import identity, draw_frame, encode_png;"
        "import hashlib;"
        "img = draw_frame({'framing': 'wide', 'characters': [{'name': 'Mara'}], 'caption': 'x'}, 160, 90);"
        "print(json.dumps([identity('Mara'), hashlib.sha256(encode_png(img)).hexdigest()]))"
    )
    outs = set()
    for seed in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        outs.add(out.stdout.strip())
    assert len(outs) == 1


# --- keyword readers ----------------------------------------------------------------------------------------


def test_costume_keywords():
    c = costume(DISGUISE)
    assert "hood" in c and "beard" in c
    assert costume("soaked to the skin, a bandaged arm").keys() >= {"wet", "bandage"}
    assert "blood" in costume("bloodied and bruised")
    assert costume("a red cloak")["cloak"] == (172, 42, 40)
    assert costume("disguised as a monk").keys() >= {"hood", "cloak"}
    # whole words only: "that" is no hat, "escape" no cape
    assert costume("that is what she said while planning her escape") == {}
    assert costume("") == {}


def test_prop_place_and_time_keywords():
    assert prop_kind("car keys") == "key"
    assert prop_kind("gun case") == "bag"
    assert prop_kind("Smith & Wesson revolver") == "gun"
    assert prop_kind("oil lamp") == "lamp"
    assert prop_kind("the MacGuffin") == "generic"
    assert place_kind("EXT. LIGHTHOUSE - NIGHT") == "lighthouse"
    assert place_kind("INT. LIGHTHOUSE - NIGHT") == "interior"
    assert place_kind("EXT. HARBOUR") == "sea"
    assert place_kind("Somewhere", "a dark pine forest") == "forest"
    assert place_kind("") == "open"
    assert time_of_day("NIGHT") == "night"
    assert time_of_day("", "EXT. BEACH - DAWN") == "dawn"
    assert time_of_day("", "", "at sunset") == "dusk"
    assert time_of_day("") == "day"


# --- frames -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("framing", FRAMINGS)
def test_frame_size_per_aspect(size, framing):
    img = draw_frame(spec(framing=framing, pov_character="Tomas" if framing == "pov" else None), *size)
    assert img.size == size
    assert img.mode == "RGB"


def test_frame_is_deterministic():
    for framing in FRAMINGS:
        s = spec(framing=framing, moment="last", camera_move="pan-left")
        assert encode_png(draw_frame(s, 640, 360)) == encode_png(draw_frame(dict(s), 640, 360))


def test_close_up_differs_from_wide():
    wide = draw_frame(spec(framing="wide"), 480, 270)
    close = draw_frame(spec(framing="close-up"), 480, 270)
    assert diff(wide, close) > 0.2


def test_framings_all_differ():
    imgs = {f: draw_frame(spec(framing=f), 480, 270) for f in FRAMINGS}
    for i, a in enumerate(FRAMINGS):
        for b in FRAMINGS[i + 1 :]:
            assert diff(imgs[a], imgs[b]) > 0.05, (a, b)


@pytest.mark.parametrize("framing", FRAMINGS)
@pytest.mark.parametrize("move", ["static", "push-in", "pan-right"])
def test_first_and_last_moments_differ(framing, move):
    a = draw_frame(spec(framing=framing, moment="first", camera_move=move), 480, 270)
    b = draw_frame(spec(framing=framing, moment="last", camera_move=move), 480, 270)
    assert diff(a, b) > 0.01


def test_establishing_shot_shows_no_characters_and_still_moves():
    s = spec(establishing=True, camera_move="static")
    with_chars = draw_frame(s, 480, 270)
    without = draw_frame(dict(s, characters=[]), 480, 270)
    assert encode_png(with_chars) == encode_png(without)
    assert diff(draw_frame(dict(s, moment="last"), 480, 270), with_chars) > 0.001


def test_state_overlay_changes_the_frame():
    plain = spec(characters=[{"name": "Mara", "state": ""}])
    dressed = spec(characters=[{"name": "Mara", "state": DISGUISE}])
    for framing in ("wide", "medium", "close-up"):
        assert (
            diff(
                draw_frame(dict(plain, framing=framing), 480, 270),
                draw_frame(dict(dressed, framing=framing), 480, 270),
            )
            > 0.003
        ), framing


def test_same_character_keeps_its_palette_across_frames():
    """Mara's main palette colour shows in every framing she is in."""
    main = tuple(int(identity("Mara")["palette"][0][i : i + 2], 16) for i in (1, 3, 5))
    s = spec(characters=[{"name": "Mara"}], location={"name": "EXT. FIELD - DAY"})
    for framing in ("wide", "medium", "close-up"):
        a = arr(draw_frame(dict(s, framing=framing), 480, 270))
        hits = (np.abs(a - np.array(main)).sum(axis=2) < 6).sum()
        assert hits > 20, framing


@pytest.mark.parametrize("text", [
    "", " ", "x" * 5000, "word " * 2000, "🎬🔥 emoji 😀", "Zoë Ångström-Núñez — «ça va?»", "名前と台詞",
    "\x00\x01\n\t\r", "a" * 300 + " " + "b" * 300,
])
def test_odd_strings_do_not_crash(text):
    s = spec(
        caption=text, dialogue=[{"character": text, "text": text}, "loose line", None],
        characters=[{"name": text, "state": text}, text, {"name": None}], props=[text, None, {"name": "gun"}],
        location={"name": text, "time_of_day": text, "description": text}, shot_number=text, camera_move=text,
        moment=text, pov_character=text,
    )
    for framing in FRAMINGS + ["", "bogus"]:
        for size in ((160, 90), (90, 160), (16, 16)):
            assert draw_frame(dict(s, framing=framing), *size).size == size
    for kind, view in (
        ("character", "front"), ("character", "side"), ("character", "full-body"),
        ("location", "establishing"), ("prop", "object"), (text, text),
    ):
        assert draw_reference(kind, view, text, text, text, 200, 150).size == (200, 150)


def test_garbage_specs_do_not_crash():
    assert draw_frame({}, 100, 60).size == (100, 60)
    assert draw_frame(None, 100, 60).size == (100, 60)  # type: ignore[arg-type]
    assert draw_frame({"framing": "close-up"}, 100, 60).size == (100, 60)  # close-up of nobody
    assert draw_frame({"framing": "insert"}, 100, 60).size == (100, 60)  # insert of nothing
    assert draw_frame({"framing": "wide", "characters": [{"name": f"P{i}"} for i in range(30)]}, 320, 180)


@pytest.mark.parametrize("size", [(1080, 1920), (1920, 1080), (1080, 1080), (180, 320)])
def test_caption_stays_inside_the_frame(size):
    w, h = size
    long = "The storm breaks over the harbour as " + "the boats strain at their moorings and " * 30
    s = spec(caption=long, dialogue=[{"character": "Tomas", "text": "Hold the line! " * 20}])
    lay = caption_layout(s, w, h)
    x0, y0, x1, y1 = lay["band"]
    m = lay["margin"]
    assert lay["lines"], "a caption is shown"
    assert 0 <= x0 and x1 <= w and y1 == h and y0 >= h * 0.55
    for prefix, text, _ in lay["lines"]:
        width = lay["bold"].getlength(prefix) + lay["font"].getlength(text)
        assert width <= w - 2 * m + 1, (prefix, text)
    assert lay["lines"][-1][1].endswith("…")
    assert y0 + m * 0.45 + len(lay["lines"]) * lay["line_height"] <= h
    # and in the pixels: the right margin of the band is clean paper, its left side carries text
    a = arr(draw_frame(s, w, h))
    band = a[int(y0) + 3 : h - 3]
    right = band[:, w - int(m * 0.8) : w - 3]
    assert (np.abs(right - np.array(sketch_figures.PAPER)).sum(axis=2) < 30).mean() > 0.99
    left = band[:, int(m) : int(m) + max(4, w // 4)]
    assert (left.sum(axis=2) < 300).any()


def test_portrait_layout_uses_the_height():
    """In portrait the figures stand lower and the stage is tall: the picture is not a squashed landscape."""
    img = draw_frame(spec(framing="wide"), 1080, 1920)
    a = arr(img)
    assert a.shape == (1920, 1080, 3)
    # something is drawn in each vertical third (not all crammed in a band)
    for k in range(3):
        part = a[k * 640 : (k + 1) * 640]
        assert part.std() > 8


def test_frame_is_fast_enough():
    s = spec(
        characters=[{"name": "Mara", "state": DISGUISE}, {"name": "Tomas"}, {"name": "Ilse", "state": "wet"}]
    )
    draw_frame(s, 1920, 1080)  # fonts warm
    times = []
    for framing in FRAMINGS:
        for moment in ("first", "last"):
            t = time.perf_counter()
            draw_frame(dict(s, framing=framing, moment=moment, pov_character="Tomas"), 1920, 1080)
            times.append(time.perf_counter() - t)
    # ~15-40 ms on one core; generous so a loaded CI box does not flake, tight enough to catch pixel loops
    assert sum(times) / len(times) < 0.4


def test_works_without_dejavu(monkeypatch):
    monkeypatch.setattr(sketch_figures, "_FONT_DIRS", ())
    sketch_figures._font_path.cache_clear()
    sketch_figures.font.cache_clear()
    try:
        img = draw_frame(spec(framing="medium"), 640, 360)
        assert img.size == (640, 360)
        assert draw_reference("character", "front", "Mara", "desc", DISGUISE, 300, 300).size == (300, 300)
    finally:
        sketch_figures._font_path.cache_clear()
        sketch_figures.font.cache_clear()


# --- reference sheets ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["front", "side", "full-body"])
@pytest.mark.parametrize("size", [(1024, 1024), (1536, 1024), (1024, 1536), (200, 120)])
def test_character_sheet(view, size):
    img = draw_reference("character", view, "Mara", "A wiry courier.", "", *size)
    assert img.size == size
    # neutral light grey background, dark title bar at the top
    a = arr(img)
    assert a[size[1] // 2, 5].mean() > 180
    assert np.median(a[2:6]) < 80


@pytest.mark.parametrize("view", ["front", "side", "full-body"])
def test_state_shows_on_the_character_sheet(view):
    plain = draw_reference("character", view, "Mara", "A wiry courier.", "", 400, 400)
    dressed = draw_reference("character", view, "Mara", "A wiry courier.", DISGUISE, 400, 400)
    assert diff(plain, dressed) > 0.03


def test_views_differ_and_sheets_are_deterministic():
    views = [
        draw_reference("character", v, "Mara", "d", "", 300, 300) for v in ("front", "side", "full-body")
    ]
    assert diff(views[0], views[1]) > 0.02 and diff(views[0], views[2]) > 0.02
    again = draw_reference("character", "side", "Mara", "d", "", 300, 300)
    assert encode_png(views[1]) == encode_png(again)


def test_location_plate_is_tinted_by_time_of_day():
    day = draw_reference("location", "establishing", "EXT. LIGHTHOUSE", "white tower, DAY", "", 600, 400)
    night = draw_reference("location", "establishing", "EXT. LIGHTHOUSE", "white tower, NIGHT", "", 600, 400)
    assert arr(night)[100:300, 50:550].mean() < arr(day)[100:300, 50:550].mean() - 40


def test_locations_differ_by_keyword():
    names = [
        "INT. KITCHEN", "EXT. CITY STREET", "EXT. FOREST", "EXT. BEACH", "EXT. LIGHTHOUSE", "EXT. DESERT",
        "EXT. CITY SKYLINE", "DEEP SPACE",
    ]
    imgs = [draw_reference("location", "establishing", n, "", "", 300, 200) for n in names]
    hashes = {hashlib.sha256(encode_png(i)).hexdigest() for i in imgs}
    assert len(hashes) == len(names)


def test_prop_cards():
    names = [
        "revolver", "phone", "old book", "lantern", "coffee cup", "brass key", "sword", "car", "letter",
        "the MacGuffin",
    ]
    imgs = [draw_reference("prop", "object", n, "", "", 300, 300) for n in names]
    assert len({hashlib.sha256(encode_png(i)).hexdigest() for i in imgs}) == len(names)
    for i in imgs:
        assert i.size == (300, 300)


# --- encoding -----------------------------------------------------------------------------------------------


def test_encoders():
    img = draw_frame(spec(), 320, 180)
    png = encode_png(img)
    jpg = encode_jpeg(img, quality=80)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert jpg[:3] == b"\xff\xd8\xff"
    assert Image.open(io.BytesIO(png)).size == (320, 180)
    assert Image.open(io.BytesIO(jpg)).size == (320, 180)
    assert encode_jpeg(img.convert("RGBA"))[:3] == b"\xff\xd8\xff"


def test_module_exports():
    for name in ("identity", "draw_reference", "draw_frame", "encode_png", "encode_jpeg"):
        assert callable(getattr(sketch, name))
