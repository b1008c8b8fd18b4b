"""The storyboard side of the previz renderer: location plates, time-of-day tints and panel composition."""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re

from PIL import Image, ImageDraw, ImageFilter

from .sketch_figures import (
    INK,
    LIGHT,
    PAPER,
    Pen,
    arc,
    arrow,
    body_height,
    chord,
    clean,
    draw_figure,
    draw_prop,
    ellipse,
    ellipsize,
    font,
    ident,
    limb,
    mix,
    name_key,
    poly,
    rbox,
    rect,
    tag,
    text_w,
    wrap,
)

# --- time of day --------------------------------------------------------------------------------------------

# dark, mid, light anchors of the pencil greys under each light
_TINTS: dict[str, tuple[tuple[int, int, int], ...]] = {
    "day": ((42, 41, 39), (150, 147, 140), (246, 243, 236)),
    "night": ((8, 10, 22), (34, 44, 74), (92, 106, 138)),
    "night-int": ((16, 14, 18), (78, 66, 60), (166, 146, 122)),
    "dusk": ((42, 28, 36), (156, 104, 94), (248, 214, 178)),
    "dawn": ((40, 34, 50), (162, 142, 160), (250, 228, 214)),
}
_TIMES = (
    ("night", r"night|midnight|nighttime|moonlit|moonlight|late at night|after dark|small hours"),
    ("dusk", r"dusk|sunset|evening|twilight|magic hour|golden hour|sundown"),
    ("dawn", r"dawn|sunrise|daybreak|first light|early morning"),
    ("day", r"day|morning|noon|midday|afternoon|daylight|daytime"),
)


def time_of_day(*texts) -> str:
    """day, night, dusk or dawn: the first text that names one decides."""
    for t in texts:
        s = clean(t).lower()
        if not s:
            continue
        for name, pat in _TIMES:
            if re.search(rf"\b(?:{pat})\b", s):
                return name
    return "day"


@functools.lru_cache(maxsize=64)
def _lut(tint: str, contrast: float) -> tuple[tuple[int, int, int], ...]:
    dark, mid, light = _TINTS.get(tint, _TINTS["day"])
    out = []
    for v in range(256):
        v = 255 - (255 - v) * contrast
        t = v / 255
        out.append(mix(dark, mid, t * 2) if t < 0.5 else mix(mid, light, t * 2 - 1))
    return tuple(out)


class Tone:
    """Maps a pencil grey (0 black … 255 paper) to the colour it has under the scene's light."""

    def __init__(self, tint: str, contrast: float = 1.0):
        self.tint = tint
        self.lut = _lut(tint, round(contrast, 3))

    def __call__(self, v, a: int | None = None):
        c = self.lut[max(0, min(255, int(v)))]
        return c if a is None else c + (a,)

    @property
    def night(self) -> bool:
        return self.tint.startswith("night")


# --- location plates ----------------------------------------------------------------------------------------

_PLACES = (
    ("lighthouse", r"lighthouses?|beacon"),
    ("space", r"space|spaceship|starship|orbit|asteroid|nebula|galaxy|outer space|planet|moon ?base"),
    ("desert", r"deserts?|dunes?|sahara|wasteland|badlands|canyon"),
    ("forest", r"forests?|woods?|woodland|jungle|grove|thicket|trees|orchard|park|garden"),
    (
        "sea",
        r"sea|ocean|beach|coast|coastline|shore|seaside|harbou?r|port|docks?|pier|lake|river|bay|cliffs?|"
        r"waterfront|boat|ship|island",
    ),
    ("mountain", r"mountains?|peak|summit|glacier|snowfield|alps|ridge|valley|hills"),
    ("street", r"street|alley|alleyway|road|avenue|sidewalk|lane|boulevard|crossroads|highway|square|market"),
    ("city", r"city|skyline|rooftops?|downtown|town|metropolis|skyscrapers?"),
    ("field", r"fields?|farm|meadow|countryside|prairie|pasture|ranch|vineyard"),
    (
        "interior",
        r"room|kitchen|office|bedroom|hall|hallway|apartment|flat|bar|pub|cafe|café|diner|restaurant|"
        r"interior|house|home|inside|corridor|church|chapel|monastery|abbey|cathedral|temple|library|"
        r"shop|store|cell|prison|lab|laboratory|hospital|ward|studio|warehouse|basement|attic|cabin|"
        r"station|classroom|school|hotel|lobby|theatre|theater|museum|cellar|crypt|bunker|cockpit|"
        r"bathroom|lounge|parlou?r|study|garage|gym|courtroom|tavern|inn|castle|palace|throne",
    ),
)


@functools.lru_cache(maxsize=512)
def place_kind(name: str, description: str = "") -> str:
    """Which plate draws a location: INT./EXT. first, then keywords in the name, then in the description."""
    n = clean(name).lower()
    interior = bool(re.match(r"\s*(int\b|int\.|interior\b|i/e\b)", n))
    exterior = bool(re.match(r"\s*(ext\b|ext\.|exterior\b)", n))
    if interior:
        return "interior"
    for text in (n, clean(description).lower()):
        for kind, pat in _PLACES:
            if exterior and kind == "interior":
                continue
            if re.search(rf"\b(?:{pat})\b", text):
                return kind
    return "open"


def _furniture(name: str) -> str:
    n = clean(name).lower()
    for kind, pat in (
        ("arch", r"church|chapel|monastery|abbey|cathedral|temple|crypt|castle|palace|throne"),
        ("bed", r"bedroom|hotel|cell|ward|hospital|cabin"),
        ("counter", r"kitchen|bar|pub|shop|store|cafe|café|diner|restaurant|tavern|inn|lobby"),
        ("shelves", r"library|study|office|lab|laboratory|warehouse|archive|museum"),
    ):
        if re.search(rf"\b(?:{pat})", n):
            return kind
    return "table"


class Plate:
    """A drawn location: where its horizon and floor are, so figures stand on the ground."""

    def __init__(self, kind: str, horizon: float, ground: float):
        self.kind, self.horizon, self.ground = kind, horizon, ground


def _sky(d, box, T: Tone, rng, hz, drift, tod, moon_x: float = 0.78) -> None:
    x0, y0, x1, y1 = box
    w = x1 - x0
    rbox(d, (x0 - w, y0 - (y1 - y0), x1 + w, y0), fill=T(214))
    bands = 14
    for i in range(bands):
        ya = y0 + (hz - y0) * i / bands
        yb = y0 + (hz - y0) * (i + 1) / bands
        rbox(d, (x0 - w, ya, x1 + w, yb + 1), fill=T(214 + i * 40 / bands))
    if T.night:
        for _ in range(70):
            x, y = x0 + rng.random() * w, y0 + rng.random() * (hz - y0) * 0.9
            r = max(1.0, (y1 - y0) * 0.0022 * (0.5 + rng.random()))
            ellipse(d, x, y, r, r, fill=(236, 238, 250, 200))
        mx, my, mr = x0 + w * moon_x, y0 + (hz - y0) * 0.3, (y1 - y0) * 0.05
        ellipse(d, mx, my, mr * 1.8, mr * 1.8, fill=(220, 226, 255, 30))
        ellipse(d, mx, my, mr, mr, fill=(240, 240, 226))
        ellipse(d, mx + mr * 0.45, my - mr * 0.25, mr * 0.85, mr * 0.85, fill=T(222))
    elif tod in ("dusk", "dawn"):
        sx, sr = x0 + w * (0.3 if tod == "dawn" else 0.7), (y1 - y0) * 0.09
        ellipse(d, sx, hz, sr * 2.2, sr * 2.2, fill=(255, 200, 140, 50))
        chord(d, sx, hz, sr, sr, 180, 360, fill=(252, 196, 128))
        for i in range(4):
            yy = hz - (hz - y0) * (0.12 + 0.11 * i)
            xx = x0 + w * (0.15 + 0.3 * rng.random()) + drift * w
            d.line(
                [(xx, yy), (xx + w * (0.2 + 0.2 * rng.random()), yy)], fill=T(250, 200),
                width=max(1, round((y1 - y0) * 0.006)),
            )
    else:
        ellipse(
            d, x0 + w * 0.82, y0 + (hz - y0) * 0.28, (y1 - y0) * 0.045, (y1 - y0) * 0.045, fill=T(252),
            outline=T(200), width=max(1, (y1 - y0) * 0.003),
        )
        for i in range(3):
            cx = x0 + w * (0.15 + 0.3 * i + 0.1 * rng.random()) + drift * w
            cy = y0 + (hz - y0) * (0.2 + 0.25 * rng.random())
            r = (y1 - y0) * (0.03 + 0.02 * rng.random())
            for k in range(4):
                ellipse(
                    d, cx + (k - 1.5) * r * 1.1, cy - (r * 0.4 if k in (1, 2) else 0), r, r * 0.8,
                    fill=T(250), outline=T(205), width=max(1, (y1 - y0) * 0.002),
                )
            rbox(d, (cx - r * 2.2, cy, cx + r * 2.2, cy + r * 0.8), fill=T(250))


def _strokes(d, rng, box, T, n, v, lw) -> None:
    """Loose pencil strokes over an area (grass, sand, floor texture)."""
    x0, y0, x1, y1 = box
    for _ in range(n):
        x, y = x0 + rng.random() * (x1 - x0), y0 + rng.random() * (y1 - y0)
        ln = (x1 - x0) * (0.01 + 0.025 * rng.random()) * (0.4 + (y - y0) / max(1, y1 - y0))
        d.line([(x, y), (x + ln, y - ln * 0.12)], fill=T(v, 150), width=lw)


def draw_plate(
    d, kind: str, box, T: Tone, seed_name: str, *, tod: str = "day", drift: float = 0.0, name: str = "",
    horizon: float = 0.48,
) -> Plate:
    """Draw the location ``kind`` into ``box`` (x0, y0, x1, y1), which may reach past the image edges."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    cx = (x0 + x1) / 2
    hz = y0 + h * horizon
    seed = int.from_bytes(hashlib.sha256(name_key(seed_name).encode()).digest()[:4], "big")
    rng = random.Random(seed)
    lw = max(1, round(h * 0.0025))
    far = y1 + h  # fills reach below the box: the caption band covers what is beyond the stage

    if kind == "interior":
        bx0, bx1, by0, by1 = x0 + w * 0.22, x1 - w * 0.22, y0 + h * 0.1, y0 + h * 0.58
        vx, vy = cx, (by0 + by1) / 2

        def out(p, k=6.0):
            return (p[0] + (p[0] - vx) * k, p[1] + (p[1] - vy) * k)

        c00, c10, c11, c01 = (bx0, by0), (bx1, by0), (bx1, by1), (bx0, by1)
        poly(d, [c00, c10, out(c10), out(c00)], fill=T(226))
        poly(d, [c00, c01, out(c01), out(c00)], fill=T(212))
        poly(d, [c10, c11, out(c11), out(c10)], fill=T(198))
        poly(d, [c01, c11, out(c11), out(c01)], fill=T(178))
        rbox(d, (bx0, by0, bx1, by1), fill=T(232))
        for i in range(1, 9):  # floorboards
            px = bx0 + (bx1 - bx0) * i / 9
            d.line([(px, by1), out((px, by1))], fill=T(160), width=lw)
        for p in (c00, c10, c11, c01):
            d.line([p, out(p)], fill=T(90), width=lw + 1)
        rbox(d, (bx0, by0, bx1, by1), outline=T(90), width=lw + 1)
        furn = _furniture(name or seed_name)
        ww, wh = (bx1 - bx0) * 0.3, (by1 - by0) * 0.46
        wx0, wy0 = cx - ww / 2 + (bx1 - bx0) * (0.18 if furn == "shelves" else 0.0), by0 + (by1 - by0) * 0.16
        glass = (28, 36, 64) if T.night else T(250)
        if furn == "arch":
            chord(d, cx, wy0 + ww * 0.5, ww / 2, ww / 2, 180, 360, fill=glass, outline=T(70), width=lw + 1)
            rbox(d, (wx0, wy0 + ww * 0.5, wx0 + ww, wy0 + wh * 1.2), fill=glass, outline=T(70), width=lw + 1)
            d.line([(cx, wy0), (cx, wy0 + wh * 1.2)], fill=T(70), width=lw + 1)
        else:
            rbox(d, (wx0, wy0, wx0 + ww, wy0 + wh), fill=glass, outline=T(70), width=lw + 2)
            d.line([(wx0 + ww / 2, wy0), (wx0 + ww / 2, wy0 + wh)], fill=T(70), width=lw + 1)
            d.line([(wx0, wy0 + wh / 2), (wx0 + ww, wy0 + wh / 2)], fill=T(70), width=lw + 1)
            if T.night:
                ellipse(d, wx0 + ww * 0.72, wy0 + wh * 0.25, wh * 0.08, wh * 0.08, fill=(236, 236, 220))

        # a door on the right wall
        def on_wall(t, k):
            b = (bx1 + (bx1 - vx) * t, by1 + (by1 - vy) * t)
            tp = (bx1 + (bx1 - vx) * t, by0 + (by0 - vy) * t)
            return (b[0], b[1] + (tp[1] - b[1]) * k)

        poly(
            d, [on_wall(0.12, 0), on_wall(0.45, 0), on_wall(0.45, 0.72), on_wall(0.12, 0.72)], fill=T(150),
            outline=T(70), width=lw + 1,
        )
        fy = by1 + (y1 - by1) * 0.28
        if furn == "counter":
            rbox(d, (bx0, by1 - (by1 - by0) * 0.28, bx1, by1), fill=T(160), outline=T(70), width=lw + 1)
            rbox(d, (bx0, by1 - (by1 - by0) * 0.31, bx1, by1 - (by1 - by0) * 0.27), fill=T(120))
            for i in range(6):
                bxx = bx0 + (bx1 - bx0) * (0.1 + 0.15 * i)
                rect(
                    d, bxx, by0 + (by1 - by0) * 0.5, bxx + w * 0.012, by1 - (by1 - by0) * 0.31,
                    fill=T(110 + 20 * (i % 3)), radius=w * 0.003,
                )
        elif furn == "shelves":
            sx1 = bx0 + (bx1 - bx0) * 0.42
            rbox(
                d, (bx0 + (bx1 - bx0) * 0.04, by0 + (by1 - by0) * 0.1, sx1, by1), fill=T(150), outline=T(70),
                width=lw,
            )
            for i in range(1, 5):
                yy = by0 + (by1 - by0) * (0.1 + 0.22 * i)
                d.line([(bx0 + (bx1 - bx0) * 0.04, yy), (sx1, yy)], fill=T(70), width=lw)
                for k in range(9):
                    xx = bx0 + (bx1 - bx0) * (0.06 + 0.038 * k)
                    rbox(
                        d,
                        (xx, yy - (by1 - by0) * (0.12 + 0.05 * rng.random()), xx + (bx1 - bx0) * 0.026, yy),
                        fill=T(90 + 30 * (k % 4)),
                    )
        elif furn == "bed":
            poly(d, [
                (bx0 - w * 0.02, by1 - h * 0.02), (bx0 + w * 0.2, by1 - h * 0.02), (bx0 + w * 0.16, fy),
                (x0 + w * 0.02, fy),
            ], fill=T(236), outline=T(70), width=lw + 1)
            rbox(d, (x0 + w * 0.02, fy, bx0 + w * 0.16, fy + h * 0.06), fill=T(170), outline=T(70), width=lw)
            ellipse(
                d, bx0 + w * 0.06, by1 + h * 0.005, w * 0.06, h * 0.02, fill=T(250), outline=T(90), width=lw
            )
        if furn in ("table", "arch", "bed", "shelves"):
            tx, ty, tw = cx + w * (0.22 if furn != "table" else 0.25), fy, w * 0.14
            for lx in (tx - tw * 0.8, tx + tw * 0.8):
                d.line([(lx, ty), (lx, ty + h * 0.12)], fill=T(70), width=lw + 2)
            poly(d, [
                (tx - tw * 0.8, ty - h * 0.04), (tx + tw * 0.8, ty - h * 0.04), (tx + tw, ty), (tx - tw, ty),
            ], fill=T(150), outline=T(70), width=lw + 1)
            rbox(d, (tx - tw, ty, tx + tw, ty + h * 0.015), fill=T(110))
        if T.night:  # a lamp's pool of light
            lx, ly = cx - w * 0.02, by0 + (by1 - by0) * 0.05
            d.line([(lx, y0 - h), (lx, ly)], fill=T(60), width=lw)
            ellipse(d, lx, by1 + h * 0.15, w * 0.3, h * 0.3, fill=LIGHT + (26,))
            chord(d, lx, ly + h * 0.03, w * 0.03, h * 0.03, 180, 360, fill=T(80))
            ellipse(d, lx, ly + h * 0.03, w * 0.012, h * 0.01, fill=LIGHT)
        _strokes(d, rng, (x0, by1, x1, y1), T, 30, 150, lw)
        return Plate(kind, by1, by1 + (y1 - by1) * 0.7)

    if kind == "space":
        rbox(d, (x0 - w, y0 - h, x1 + w, far), fill=(14, 16, 28))
        ellipse(d, x0 + w * 0.3, y0 + h * 0.35, w * 0.35, h * 0.25, fill=(80, 60, 120, 40))
        for _ in range(200):
            x, y = x0 + rng.random() * w, y0 + rng.random() * h
            r = max(1.0, h * 0.0025 * rng.random() ** 2 * 3)
            ellipse(d, x, y, r, r, fill=(230, 232, 250, 120 + int(120 * rng.random())))
        px, py, pr = x0 + w * 0.72, y0 + h * 0.38, h * 0.22
        ellipse(d, px, py, pr, pr, fill=(150, 120, 104), outline=(210, 190, 170), width=lw)
        for i in range(3):
            arc(d, px, py - pr * 0.3 + i * pr * 0.3, pr * 0.95, pr * 0.12, 0, 180, (120, 96, 84), lw * 3)
        arc(d, px, py, pr * 1.7, pr * 0.32, 160, 380, (220, 210, 196), lw * 2)
        hz = y0 + h * 0.8
        chord(
            d, cx, y1 + h * 1.2, w * 1.2, h * 1.4 - (y1 - hz) * 0, 180, 360, fill=(70, 70, 80),
            outline=(140, 140, 150), width=lw,
        )
        return Plate(kind, hz, y0 + h * 0.9)

    _sky(d, box, T, rng, hz, drift, tod, moon_x=0.5 if kind == "lighthouse" else 0.78)
    ground = y0 + h * 0.88
    if kind == "sea" or kind == "lighthouse":
        rbox(d, (x0 - w, hz, x1 + w, far), fill=T(170))
        for i in range(28):
            yy = hz + (y1 - hz) * (rng.random() ** 1.6) * 0.6
            xx = x0 + rng.random() * w + drift * w * 0.5
            ln = w * 0.02 * (1 + (yy - hz) / (y1 - hz) * 4)
            arc(d, xx, yy, ln, ln * 0.25, 200, 340, T(120 if i % 2 else 215), lw)
        shore = [(x0 - w, y0 + h * 0.7)]
        for i in range(13):
            shore.append((x0 + w * i / 12, y0 + h * (0.68 + 0.03 * math.sin(i * 1.3 + seed % 7))))
        shore += [(x1 + w, y0 + h * 0.7), (x1 + w, far), (x0 - w, far)]
        poly(d, shore, fill=T(214))
        d.line(shore[:-2], fill=T(245), width=lw * 2)
        _strokes(d, rng, (x0, y0 + h * 0.72, x1, y1), T, 26, 170, lw)
        if re.search(r"harbou?r|port|docks?|pier|wharf|jetty", name.lower()):
            # a pier running out to sea, in perspective
            pa, pb, pt = (x0 + w * 0.56, y0 + h * 0.72), (x0 + w * 0.74, y0 + h * 0.72), (hz + h * 0.05)
            qa, qb = (x0 + w * 0.6, pt), (x0 + w * 0.63, pt)
            for k in range(7):
                t = k / 6
                x = pa[0] + (qa[0] - pa[0]) * t
                y = pa[1] + (pt - pa[1]) * t
                d.line([(x, y), (x, y + h * 0.06 * (1 - t) + h * 0.01)], fill=T(60), width=lw + 1)
                x = pb[0] + (qb[0] - pb[0]) * t
                d.line([(x, y), (x, y + h * 0.06 * (1 - t) + h * 0.01)], fill=T(60), width=lw + 1)
            poly(d, [pa, pb, qb, qa], fill=T(140), outline=T(60), width=lw)
            for k in range(1, 12):
                t = 1 - (1 - k / 12) ** 1.8
                y = pa[1] + (pt - pa[1]) * t
                d.line(
                    [(pa[0] + (qa[0] - pa[0]) * t, y), (pb[0] + (qb[0] - pb[0]) * t, y)], fill=T(100),
                    width=lw,
                )
            bx = x0 + w * 0.25
            poly(d, [
                (bx - w * 0.07, hz + h * 0.06), (bx + w * 0.07, hz + h * 0.06),
                (bx + w * 0.05, hz + h * 0.1), (bx - w * 0.05, hz + h * 0.1),
            ], fill=T(90), outline=T(50), width=lw)
            d.line([(bx, hz + h * 0.06), (bx, hz - h * 0.08)], fill=T(50), width=lw + 1)
            poly(d, [
                (bx + w * 0.004, hz - h * 0.07), (bx + w * 0.05, hz + h * 0.05),
                (bx + w * 0.004, hz + h * 0.05),
            ], fill=T(240), outline=T(90), width=lw)
        elif kind == "sea":
            poly(d, [
                (x0 - w, hz), (x0 + w * 0.04, hz - h * 0.16), (x0 + w * 0.14, hz - h * 0.1),
                (x0 + w * 0.2, y0 + h * 0.7), (x0 - w, y0 + h * 0.72),
            ], fill=T(130), outline=T(70), width=lw)
        if kind == "lighthouse":
            rx = x0 + w * 0.74
            rock = [
                (rx - w * 0.17, y0 + h * 0.72), (rx - w * 0.13, hz + h * 0.04),
                (rx - w * 0.08, hz - h * 0.02), (rx - w * 0.02, hz - h * 0.05),
                (rx + w * 0.07, hz - h * 0.04), (rx + w * 0.12, hz + h * 0.03),
                (rx + w * 0.21, y0 + h * 0.72),
            ]
            poly(d, rock, fill=T(110), outline=T(60), width=lw)
            for a, b in (
                ((rx - w * 0.1, hz + h * 0.05), (rx - w * 0.05, hz + h * 0.12)),
                ((rx + w * 0.05, hz + h * 0.02), (rx + w * 0.11, hz + h * 0.14)),
            ):
                d.line([a, b], fill=T(70), width=lw)
            base, top_ = hz - h * 0.04, y0 + h * 0.14
            tw0, tw1 = w * 0.045, w * 0.03
            if T.night:
                poly(
                    d,
                    [(rx, top_ + h * 0.03), (x0 - w * 0.1, top_ - h * 0.12), (x0 - w * 0.1, top_ + h * 0.2)],
                    fill=LIGHT + (70,),
                )
                poly(
                    d,
                    [(rx, top_ + h * 0.03), (x0 - w * 0.1, top_ - h * 0.04), (x0 - w * 0.1, top_ + h * 0.1)],
                    fill=LIGHT + (80,),
                )
                ellipse(d, rx, top_ + h * 0.03, w * 0.05, w * 0.05, fill=LIGHT + (90,))
            poly(d, [
                (rx - tw0, base), (rx - tw1, top_ + h * 0.06), (rx + tw1, top_ + h * 0.06), (rx + tw0, base),
            ], fill=T(242), outline=T(60), width=lw + 1)
            for k in (0.25, 0.6):
                yy = base + (top_ + h * 0.06 - base) * k
                ww = tw0 + (tw1 - tw0) * k
                rbox(
                    d, (rx - ww, yy - h * 0.03, rx + ww, yy + h * 0.03), fill=mix(T(200), (176, 52, 46), 0.7)
                )
            rbox(
                d, (rx - tw1 * 0.8, top_, rx + tw1 * 0.8, top_ + h * 0.06), fill=LIGHT if T.night else T(250),
                outline=T(60), width=lw,
            )
            poly(d, [(rx - tw1 * 1.1, top_), (rx, top_ - h * 0.05), (rx + tw1 * 1.1, top_)], fill=T(70))
        return Plate(kind, hz, ground)

    rbox(d, (x0 - w, hz, x1 + w, far), fill=T(196))
    if kind == "desert":
        for layer, (v, amp, base) in enumerate(((222, 0.05, 0.52), (206, 0.06, 0.64), (188, 0.05, 0.8))):
            pts = [(x0 - w, far)]
            ph = rng.random() * 6
            for i in range(25):
                xx = x0 - w * 0.1 + w * 1.2 * i / 24
                pts.append((xx, y0 + h * base - h * amp * (1 + math.sin(i * 0.55 + ph + layer)) / 2))
            pts.append((x1 + w, far))
            poly(d, pts, fill=T(v))
            d.line(pts[1:-1], fill=T(v - 60), width=lw)
        poly(d, [
            (x0 + w * 0.6, hz + h * 0.02), (x0 + w * 0.64, hz - h * 0.08), (x0 + w * 0.76, hz - h * 0.08),
            (x0 + w * 0.8, hz + h * 0.02),
        ], fill=T(168), outline=T(100), width=lw)
        _strokes(d, rng, (x0, y0 + h * 0.7, x1, y1), T, 20, 160, lw)
    elif kind == "forest":
        for layer, (v, n, wid) in enumerate(((200, 16, 0.012), (150, 10, 0.022), (80, 4, 0.05))):
            for i in range(n):
                tx = x0 + w * ((i + rng.random() * 0.8) / n) + drift * w * 0.15 * layer
                tb = hz + h * (0.02 + 0.1 * layer) + rng.random() * h * 0.04
                tw = w * wid * (0.7 + rng.random() * 0.6)
                if layer == 2 and 0.25 < (tx - x0) / w < 0.75:
                    continue
                tt = y0 - h * 0.1 if layer == 2 else hz - h * (0.25 + 0.1 * rng.random() + 0.1 * layer)
                rbox(d, (tx - tw / 2, tt, tx + tw / 2, tb), fill=T(v - 20), outline=T(v - 60), width=lw)
                cr = tw * (3.2 if layer < 2 else 2.2)
                for k in range(3 if layer < 2 else 2):
                    ellipse(
                        d, tx + (k - 1) * cr * 0.6, tt + cr * (0.2 + 0.3 * (k % 2)), cr, cr * 0.8,
                        fill=T(v + 10 - 10 * k), outline=T(v - 50), width=lw,
                    )
        poly(d, [
            (cx - w * 0.02, hz + h * 0.03), (cx + w * 0.02, hz + h * 0.03), (cx + w * 0.3, far),
            (cx - w * 0.3, far),
        ], fill=T(214))
        _strokes(d, rng, (x0, hz, x1, y1), T, 40, 130, lw)
    elif kind == "mountain":
        for layer, (v, amp) in enumerate(((176, 0.3), (140, 0.22))):
            pts = [(x0 - w, hz + h * 0.02)]
            n = 5 + layer * 2
            for i in range(n + 1):
                xx = x0 - w * 0.05 + w * 1.1 * i / n
                yy = (
                    hz - h * amp * (0.45 + 0.55 * rng.random())
                    if i % 2
                    else hz - h * amp * 0.25 * rng.random()
                )
                pts.append((xx, yy + layer * h * 0.05))
            pts.append((x1 + w, hz + h * 0.02))
            poly(d, pts, fill=T(v), outline=T(v - 70), width=lw)
            for i in range(1, len(pts) - 1):
                (px, py), (lx, ly), (qx, qy) = pts[i], pts[i - 1], pts[i + 1]
                if py < ly and py < qy:
                    k = 0.3
                    poly(d, [
                        (px, py), (px + (lx - px) * k, py + (ly - py) * k),
                        (px + (qx - px) * k, py + (qy - py) * k),
                    ], fill=T(250))
        _strokes(d, rng, (x0, hz + h * 0.05, x1, y1), T, 30, 140, lw)
    elif kind in ("street", "city"):
        vx = cx
        road_top = hz
        if kind == "city":
            for layer, v in enumerate((200, 160)):
                xx = x0 - w * 0.02
                while xx < x1:
                    bw = w * (0.04 + 0.05 * rng.random())
                    bh = h * (0.12 + 0.22 * rng.random()) * (1.2 - layer * 0.3)
                    rbox(d, (xx, hz - bh, xx + bw, hz + h * 0.01), fill=T(v), outline=T(v - 60), width=lw)
                    for wy in range(int(bh / (h * 0.03))):
                        for wx in range(int(bw / (w * 0.015))):
                            lit = T.night and rng.random() < 0.35
                            if lit or (layer == 1 and rng.random() < 0.5):
                                rbox(d, (
                                    xx + w * 0.006 + wx * w * 0.015, hz - bh + h * 0.012 + wy * h * 0.03,
                                    xx + w * 0.012 + wx * w * 0.015, hz - bh + h * 0.024 + wy * h * 0.03,
                                ), fill=LIGHT if lit else T(v + 30))
                    xx += bw + w * 0.004
        for sgn in (-1, 1):  # building fronts receding to the vanishing point
            if kind == "city":
                break
            edge = x0 if sgn < 0 else x1
            k = 0.0
            while k < 0.8:
                k2 = min(0.86, k + 0.12 + 0.12 * rng.random())
                xa, xb = edge + (vx - edge) * k, edge + (vx - edge) * k2
                ba, bb = y1 + (hz - y1) * k, y1 + (hz - y1) * k2
                hgt = h * (0.55 + 0.35 * rng.random())
                ta, tb = ba - hgt * (1 - k), bb - hgt * (1 - k2)
                v = 170 + int(40 * rng.random())
                poly(d, [(xa, ba), (xb, bb), (xb, tb), (xa, ta)], fill=T(v), outline=T(80), width=lw)
                for r in range(3):
                    for c in range(2):
                        fa, fb = 0.2 + 0.35 * c, 0.4 + 0.35 * c
                        fy0, fy1 = 0.2 + 0.25 * r, 0.33 + 0.25 * r
                        pa = (xa + (xb - xa) * fa, ba + (bb - ba) * fa)
                        pb = (xa + (xb - xa) * fb, ba + (bb - ba) * fb)
                        ha_ = (ba - ta) + ((bb - tb) - (ba - ta)) * fa
                        hb_ = (ba - ta) + ((bb - tb) - (ba - ta)) * fb
                        lit = T.night and rng.random() < 0.4
                        poly(d, [
                            (pa[0], pa[1] - ha_ * fy0), (pb[0], pb[1] - hb_ * fy0),
                            (pb[0], pb[1] - hb_ * fy1), (pa[0], pa[1] - ha_ * fy1),
                        ], fill=LIGHT if lit else T(v - 50))
                k = k2
        if kind == "street":
            poly(d, [
                (vx - w * 0.015, road_top), (vx + w * 0.015, road_top), (x1 - w * 0.08, far),
                (x0 + w * 0.08, far),
            ], fill=T(150))
            d.line([(vx, road_top), (vx, far)], fill=T(235), width=lw * 2)
            for sgn in (-1, 1):
                for k in (0.15, 0.45, 0.7):
                    px = x0 + w * 0.5 + sgn * w * 0.42 * (1 - k)
                    pb = y1 + (hz - y1) * k
                    ph = h * 0.45 * (1 - k)
                    d.line([(px, pb), (px, pb - ph)], fill=T(60), width=max(1, round(lw * 2 * (1 - k))))
                    if T.night:
                        ellipse(d, px, pb - ph, w * 0.05 * (1 - k), w * 0.05 * (1 - k), fill=LIGHT + (60,))
                    ellipse(
                        d, px, pb - ph, w * 0.008 * (1 - k) + 1, w * 0.008 * (1 - k) + 1,
                        fill=LIGHT if T.night else T(240), outline=T(60), width=lw,
                    )
        else:
            rbox(d, (x0 - w, hz + h * 0.01, x1 + w, far), fill=T(186))
            for i in range(-6, 7):
                d.line([(cx + i * w * 0.02, hz + h * 0.01), (cx + i * w * 0.25, far)], fill=T(160), width=lw)
    elif kind == "field":
        for layer, v in enumerate((210, 188)):
            pts = [(x0 - w, far)]
            for i in range(21):
                xx = x0 - w * 0.05 + w * 1.1 * i / 20
                pts.append((
                    xx,
                    hz
                    - h * 0.05 * (1 - layer)
                    + h * 0.04 * math.sin(i * 0.6 + layer * 2)
                    + layer * h * 0.06,
                ))
            pts.append((x1 + w, far))
            poly(d, pts, fill=T(v), outline=T(v - 60), width=lw)
        tx = x0 + w * 0.78
        rbox(d, (tx - w * 0.008, hz - h * 0.12, tx + w * 0.008, hz + h * 0.05), fill=T(90))
        for k in range(3):
            ellipse(
                d, tx + (k - 1) * w * 0.03, hz - h * (0.15 + 0.04 * (k % 2)), w * 0.04, h * 0.07, fill=T(150),
                outline=T(80), width=lw,
            )
        for i in range(9):
            fx = x0 + w * (0.05 + i * 0.06)
            fy = y0 + h * (0.66 + i * 0.012)
            d.line([(fx, fy), (fx, fy - h * 0.06)], fill=T(80), width=lw + 1)
        d.line([(x0 + w * 0.05, y0 + h * 0.63), (x0 + w * 0.53, y0 + h * 0.726)], fill=T(80), width=lw + 1)
        _strokes(d, rng, (x0, hz, x1, y1), T, 40, 140, lw)
    else:  # open ground
        poly(d, [
            (x0 - w, hz), (x0 + w * 0.2, hz - h * 0.05), (x0 + w * 0.45, hz - h * 0.02),
            (x0 + w * 0.7, hz - h * 0.07), (x1 + w, hz),
        ], fill=T(200), outline=T(140), width=lw)
        for i in range(-5, 6):
            d.line([(cx + i * w * 0.03, hz), (cx + i * w * 0.3, far)], fill=T(178), width=lw)
        _strokes(d, rng, (x0, hz, x1, y1), T, 30, 150, lw)
    if kind not in ("street", "city"):
        d.line([(x0 - w, hz), (x1 + w, hz)], fill=T(120), width=lw)
    return Plate(kind, hz, ground)


# --- panel composition --------------------------------------------------------------------------------------


FRAMINGS = ("wide", "medium", "close-up", "insert", "pov")
MOVES = ("static", "push-in", "pull-out", "pan-left", "pan-right", "tilt-up", "tilt-down")


def _as_list(v) -> list:
    if v is None:
        return []
    if isinstance(v, (list, tuple)):
        return list(v)
    return [v]


def _chars(spec) -> list[dict]:
    out = []
    for c in _as_list(spec.get("characters")):
        if isinstance(c, dict):
            out.append({"name": clean(c.get("name") or ""), "state": clean(c.get("state") or "")})
        elif c is not None:
            out.append({"name": clean(c), "state": ""})
    return out


def _props(spec) -> list[str]:
    out = []
    for p in _as_list(spec.get("props")):
        name = p.get("name") if isinstance(p, dict) else p
        if name is not None and clean(name):
            out.append(clean(name))
    return out


def _location(spec) -> dict:
    loc = spec.get("location")
    if isinstance(loc, dict):
        return {
            "name": clean(loc.get("name") or ""), "time_of_day": clean(loc.get("time_of_day") or ""),
            "description": clean(loc.get("description") or ""),
        }
    return {"name": clean(loc or ""), "time_of_day": "", "description": ""}


def _world(stage, move: str, last: bool):
    """The box the scene is laid out in: the camera move shifts or scales it between the A and B frames."""
    x0, y0, x1, y1 = stage
    w, h = x1 - x0, y1 - y0
    cx, cy = (x0 + x1) / 2, y0 + h * 0.5
    s, dx, dy = 1.0, 0.0, 0.0
    if move == "push-in":
        s = 1.22 if last else 1.0
    elif move == "pull-out":
        s = 1.0 if last else 1.22
    elif move in ("pan-left", "pan-right"):
        s = 1.14
        dx = (0.055 if last else -0.055) * (1 if move == "pan-left" else -1)
    elif move in ("tilt-up", "tilt-down"):
        s = 1.14
        dy = (0.055 if last else -0.055) * (1 if move == "tilt-up" else -1)
    if s == 1.0 and not dx and not dy:
        return stage
    wx0 = cx + dx * w - (cx - x0) * s
    wy0 = cy + dy * h - (cy - y0) * s
    return (wx0, wy0, wx0 + w * s, wy0 + h * s)


def _zoom(box, k: float, ax: float, ay: float):
    x0, y0, x1, y1 = box
    return (ax + (x0 - ax) * k, ay + (y0 - ay) * k, ax + (x1 - ax) * k, ay + (y1 - ay) * k)


def _move_glyph(d, x0, y0, g, move, ink, lw) -> None:
    cx, cy = x0 + g / 2, y0 + g / 2
    head = g * 0.2
    if move == "push-in" or move == "pull-out":
        rect(d, cx - g * 0.14, cy - g * 0.1, cx + g * 0.14, cy + g * 0.1, outline=ink, width=lw)
        for sx in (-1, 1):
            for sy in (-1, 1):
                a, b = (cx + sx * g * 0.4, cy + sy * g * 0.36), (cx + sx * g * 0.19, cy + sy * g * 0.15)
                if move == "pull-out":
                    a, b = b, a
                arrow(d, *a, *b, ink, lw, head * 0.7)
    elif move in ("pan-left", "pan-right", "tilt-up", "tilt-down"):
        vx, vy = {"pan-left": (-1, 0), "pan-right": (1, 0), "tilt-up": (0, -1), "tilt-down": (0, 1)}[move]
        arrow(
            d, cx - vx * g * 0.36, cy - vy * g * 0.36, cx + vx * g * 0.38, cy + vy * g * 0.38, ink, lw * 1.6,
            head,
        )
    else:  # static: a camera on a tripod
        rect(d, cx - g * 0.22, cy - g * 0.28, cx + g * 0.14, cy - g * 0.02, fill=ink, radius=g * 0.03)
        poly(d, [
            (cx + g * 0.14, cy - g * 0.2), (cx + g * 0.3, cy - g * 0.28), (cx + g * 0.3, cy - g * 0.02),
            (cx + g * 0.14, cy - g * 0.1),
        ], fill=ink)
        for fx in (-0.25, 0.0, 0.25):
            d.line(
                [(cx - g * 0.04, cy - g * 0.02), (cx + fx * g, cy + g * 0.38)], fill=ink,
                width=max(1, round(lw)),
            )


@functools.lru_cache(maxsize=8)
def _eyelid_mask(w: int, h: int) -> Image.Image:
    sw, sh = max(8, w // 8), max(8, h // 8)
    m = Image.new("L", (sw, sh), 0)
    md = ImageDraw.Draw(m)
    md.ellipse((-sw * 0.06, sh * 0.1, sw * 1.06, sh * 0.92), fill=255)
    m = m.filter(ImageFilter.GaussianBlur(max(1.0, min(sw, sh) * 0.06)))
    return m.resize((w, h), Image.BILINEAR).point(lambda v: 255 - v)  # where the lids darken


def caption_layout(spec: dict, width: int, height: int) -> dict:
    """Where a panel's caption goes: its wrapped lines, the band's box, the margin, the fonts.

    ``lines`` are (speaker prefix, text, colour); the band spans the panel's width at the bottom and never
    takes more than 40% of its height (lines past that are dropped, the last one ellipsised).
    """
    spec = spec if isinstance(spec, dict) else {}
    w, h = max(16, int(width)), max(16, int(height))
    u = min(w, h) / 1000
    m = max(2.0, min(w, h) * 0.035)
    lines, fnt, bold, lh = _band(spec, w, h, u, m)
    band_h = (len(lines) * lh + m * 0.9) if lines else 0.0
    return {
        "lines": lines, "band": (0.0, h - band_h, float(w), float(h)), "margin": m, "font": fnt, "bold": bold,
        "line_height": lh,
    }


def _band(spec, w, h, u, m):
    """Caption band lines: [(speaker or "", text line, colour)], font, bold font, line height."""
    fnt = font(34 * u, "regular")
    bold = font(34 * u, "bold")
    max_lines = 3 if w > h * 1.2 else (5 if h > w * 1.2 else 4)
    max_lines = min(max_lines, int((h * 0.4 - m * 0.9) / (fnt.size * 1.3)))
    max_w = w - 2 * m
    caption = clean(spec.get("caption") or "")
    dialogue = []
    for line in _as_list(spec.get("dialogue")):
        if isinstance(line, dict):
            who, text = clean(line.get("character") or ""), clean(line.get("text") or "")
        else:
            who, text = "", clean(line)
        if text:
            dialogue.append((who, text))
    if caption and any(caption.strip("\"'“”") == t.strip("\"'“”") for _, t in dialogue):
        caption = ""
    out = []
    budget = max_lines
    if caption:
        n = budget if not dialogue else max(1, budget - len(dialogue) * 1 - (1 if budget > 3 else 0))
        for ln in wrap(caption, fnt, max_w, n):
            out.append(("", ln, INK))
        budget -= len(out)
    for i, (who, text) in enumerate(dialogue):
        if budget <= 0:
            if out:
                last = out[-1]
                out[-1] = (last[0], ellipsize(fnt, last[1].rstrip("…") + " …", max_w), last[2])
            break
        prefix = f"{who.upper()}: " if who else ""
        colour = mix(ident(who).palette[0], INK, 0.35) if who else INK
        remaining = len(dialogue) - i - 1
        n = max(1, budget - remaining) if remaining else budget
        lines = wrap(f"“{text}”", fnt, max_w, n, indent=text_w(bold, prefix))
        for k, ln in enumerate(lines):
            out.append((prefix if k == 0 else "", ln, colour))
        budget -= len(lines)
    return out, fnt, bold, fnt.size * 1.3


def draw_frame(spec: dict, width: int, height: int) -> Image.Image:
    """A storyboard panel of ``width`` x ``height`` from a shot spec (every key optional).

    ``shot_number``; ``moment`` "first" (frame A) or "last" (B); ``framing`` wide, medium, close-up, insert
    or pov; ``camera_move`` static, push-in, pull-out, pan-left, pan-right, tilt-up, tilt-down; ``caption``;
    ``dialogue`` [{"character", "text"}]; ``location`` {"name", "time_of_day", "description"} (or a name);
    ``characters`` [{"name", "state"}] (or names); ``props`` [names]; ``pov_character``; ``establishing``
    (the stage shot: location and props, no characters).

    Wide: the location plate, everyone full figure and small, spread. Medium: one or two figures, waist up.
    Close-up: the first character's face. Insert: the first prop, large, on a surface. POV: through the POV
    character's eyes (eyelid vignette, their hands), the others ahead. Between A and B the figures step, turn
    and regroup and the camera move shifts or scales the view, so an in-between reads as motion. Overlays: the
    shot number top left, the framing and location under it, the camera-move glyph top right, the caption band
    at the bottom.
    """
    spec = spec if isinstance(spec, dict) else {}
    w, h = max(16, int(width)), max(16, int(height))
    img = Image.new("RGB", (w, h), PAPER)
    d = Pen(img)
    u = min(w, h) / 1000
    m = max(2.0, min(w, h) * 0.035)
    framing = clean(spec.get("framing")).lower().replace(" ", "-").replace("closeup", "close-up")
    framing = framing if framing in FRAMINGS else "wide"
    move = clean(spec.get("camera_move")).lower().replace(" ", "-").replace("_", "-")
    move = move if move in MOVES else "static"
    last = clean(spec.get("moment")).lower() == "last"
    chars = _chars(spec)
    props = _props(spec)
    loc = _location(spec)
    establishing = bool(spec.get("establishing"))
    pov = clean(spec.get("pov_character") or "")
    if establishing:
        chars = []
        framing = "wide" if framing not in ("wide", "insert") else framing
    if framing == "close-up" and not chars:
        framing = "insert" if props else "wide"
    if framing == "medium" and not chars:
        framing = "wide"
    if framing == "pov" and not pov and chars:
        pov = chars[0]["name"]

    cap = caption_layout(spec, w, h)
    lines, fnt, bold, lh = cap["lines"], cap["font"], cap["bold"], cap["line_height"]
    band_h = cap["band"][3] - cap["band"][1]
    stage = (0.0, 0.0, float(w), float(h - band_h))
    sx0, sy0, sx1, sy1 = stage
    sw_, sh_ = sx1 - sx0, sy1 - sy0
    world = _world(stage, move, last)
    if move == "static" and last and not chars and framing == "wide":  # an empty held shot: a slow drift in
        world = _zoom(world, 1.05, (sx0 + sx1) / 2, sy0 + sh_ * 0.5)
    wx0, wy0, wx1, wy1 = world
    ww, wh = wx1 - wx0, wy1 - wy0

    kind = place_kind(loc["name"], loc["description"])
    tod = time_of_day(loc["time_of_day"], loc["name"], loc["description"])
    tint = "night-int" if tod == "night" and kind == "interior" else tod
    dim = ((16, 20, 40), 0.22) if tod == "night" else None
    contrast = {"wide": 1.0, "pov": 0.9, "medium": 0.62, "close-up": 0.36, "insert": 0.3}.get(framing, 1.0)
    T = Tone(tint, contrast)
    portrait = h > w * 1.2
    horizon = 0.5 if portrait else 0.46
    seed_name = loc["name"] or loc["description"] or "nowhere"
    drift = 0.03 if last else 0.0
    bg_zoom = {"medium": 1.55, "close-up": 2.3, "insert": 2.6}.get(framing, 1.0)
    bg_box = _zoom(world, bg_zoom, (wx0 + wx1) / 2, wy0 + wh * horizon)
    plate = draw_plate(
        d, kind, bg_box, T, seed_name, tod=tod, drift=drift, name=loc["name"] or loc["description"],
        horizon=horizon,
    )
    lw = max(1.0, 2.2 * u)
    tagf, tagf2 = font(24 * u, "bold"), font(19 * u, "italic")
    tag_bounds = (m, m, w - m, sy1 - m * 0.3)

    placed_tags: list = []

    def label(c, x, y, anchor="bottom"):
        idn = ident(c["name"])
        rows = [(idn.label.upper(), tagf)]
        if c["state"]:
            rows.append((c["state"], tagf2))
        tag(d, rows, x, y, tag_bounds, swatch=idn.palette[0], anchor=anchor, pad=max(2.0, 6 * u),
            max_w=max(w * 0.3, 330 * u), avoid=placed_tags)

    # the ground where figures stand, in world coordinates (it follows the camera)
    ground_y = wy0 + wh * 0.86
    if framing == "wide":
        if kind == "interior":
            ground_y = max(plate.ground, wy0 + wh * 0.86)
        n = len(chars)
        slots = n + len(props)
        fig_h = min(wh * (0.34 if portrait else 0.42), ww * 0.95 / max(1, min(n, 6)) / 0.45)
        # where the characters stand: spread out, then closer together and a step forward at the B frame
        xs = []
        for i in range(n):
            if n == 1:
                fx = 0.34 if not last else 0.56
            else:
                fx = 0.16 + 0.68 * i / (n - 1)
                if last:
                    fx = 0.5 + (fx - 0.5) * (0.72 if n <= 3 else 0.9) + (0.04 if i % 2 == 0 else -0.02)
            xs.append(wx0 + ww * fx)
        order = sorted(range(n), key=lambda i: (i % 2 == 0, i))  # the ones further back first
        # props: on the ground at the sides
        for k, p in enumerate(props[:4]):
            side = 1 if k % 2 == 0 else -1
            px = wx0 + ww * (
                0.5 + side * (0.4 - 0.12 * (k // 2)) if n else 0.3 + 0.4 * k / max(1, len(props) - 1)
            )
            if n == 0 and len(props) == 1:
                px = wx0 + ww * 0.5
            ps = min(ww, wh) * (0.11 if n else 0.22)
            draw_prop(d, p, px, ground_y - ps * 0.4, ps, dim=dim, lw=lw)
            if n == 0 or slots <= 4:
                tag(d, [(p.upper(), tagf2)], px, ground_y - ps * 0.95, tag_bounds, pad=max(2.0, 4 * u))
        placed = []
        for i in order:
            c = chars[i]
            idn = ident(c["name"])
            back = n > 2 and i % 2 == 1
            k = (0.86 if back else 1.0) * (1.08 if last else 1.0)
            fh = fig_h * k
            gy = ground_y - (wh * 0.07 if back else 0) + (wh * 0.03 if last else 0)
            top = gy - body_height(idn, fh)
            facing = 0
            if last:
                facing = 1 if xs[i] < wx0 + ww * 0.48 else (-1 if xs[i] > wx0 + ww * 0.52 else 0)
                if n == 1:
                    facing = 1
            draw_figure(
                d, idn, xs[i], top, fh, facing=facing, pose="step" if last else "stand", state=c["state"],
                dim=dim, lw=lw,
            )
            placed.append((c, xs[i], top))
        for c, x, top in placed:
            label(c, x, top - m * 0.3)
    elif framing == "medium":
        two = chars[:2]
        n = len(two)
        stack = portrait and n == 2  # portrait two-shot: one figure in front, the other behind
        fig_h = min(wh * 1.7, ww * (0.92 if n == 1 else (0.78 if stack else 0.55)) / 0.5)
        tags = []
        for i in (1, 0) if n == 2 else (0,):
            c = two[i]
            idn = ident(c["name"])
            if n == 1:
                fx, facing = (0.44, 0) if not last else (0.54, 0)
            else:
                fx = ((0.3, 0.7) if stack else (0.28, 0.72))[i] if not last else ((0.36, 0.64) if stack else
                                                                                 (0.34, 0.66))[i]
                facing = 0 if not last else (0.5 if i == 0 else -0.5)
            fh = fig_h * (1.0 if not last else 1.07) * (0.8 if stack and i == 1 else 1.0)
            top = wy0 + wh * (0.2 if not last else 0.17)
            if portrait:
                top = wy0 + wh - fh * (0.6 if not stack or i == 0 else 0.82)
            draw_figure(
                d, idn, wx0 + ww * fx, top, fh, facing=facing, pose="step" if last and n == 1 else "stand",
                state=c["state"], look=(0.5 if last else -0.2) * (1 if i == 0 else -1),
                mouth=_speaks(spec, c["name"]) and last, dim=dim, lw=lw * 1.6,
            )
            tags.append((c, wx0 + ww * fx))
        for c, x in reversed(tags):
            label(c, x, sy1 - m * 0.4)
    elif framing == "close-up":
        c = chars[0]
        idn = ident(c["name"])
        hh = min(sh_ * 0.56, sw_ * 0.5 / 0.9)
        fh = hh / 0.14
        hx = wx0 + ww * (0.47 if not last else 0.53)
        top = wy0 + wh * 0.5 - hh * (0.62 if not last else 0.58)
        draw_figure(
            d, idn, hx, top, fh, facing=0 if not last else 0.5, state=c["state"],
            look=-0.6 if not last else 0.0, mouth=last and _speaks(spec, c["name"]), dim=dim, lw=lw * 2.2,
        )
        label(c, m + 60 * u, sy1 - m * 0.4)
    elif framing == "insert":
        ps = min(sw_, sh_) * 0.6
        pcx, pcy = (wx0 + wx1) / 2, wy0 + wh * 0.5
        ty = pcy - ps * 0.3
        rbox(d, (wx0 - ww, ty, wx1 + ww, h), fill=T(190))
        d.line([(wx0 - ww, ty), (wx1 + ww, ty)], fill=T(100), width=max(1, round(lw)))
        rng = random.Random(len(seed_name))
        for _ in range(14):  # wood grain
            gy = ty + (h - ty) * rng.random()
            gx = wx0 + ww * rng.random()
            d.line([(gx, gy), (gx + ww * 0.15, gy + (h - ty) * 0.01)], fill=T(160), width=max(1, round(lw)))
        name = props[0] if props else (clean(spec.get("caption") or "")[:24] or "insert")
        if last:
            pcx += ww * 0.03
            pcy -= wh * 0.02
        k = 1.0 if not last else 1.06
        draw_prop(d, name, pcx + ps * 0.035, pcy + ps * 0.045, ps * k, dim=(T(130), 1.0), lw=0, shadow=False)
        draw_prop(d, name, pcx, pcy, ps * k, dim=dim, lw=lw * 2, shadow=False)
        if last and chars:  # a hand reaches in
            idn = ident(chars[0]["name"])
            hx, hy = pcx + ps * 0.36, pcy + ps * 0.1
            limb(
                d, [(wx1 + ww * 0.1, hy + ps * 0.5), (hx + ps * 0.3, hy + ps * 0.16), (hx, hy)], ps * 0.16,
                idn.palette[0], lw * 2,
            )
            ellipse(d, hx, hy, ps * 0.1, ps * 0.085, fill=idn.skin, outline=INK, width=lw * 2)
            ellipse(
                d, hx - ps * 0.02, hy - ps * 0.08, ps * 0.035, ps * 0.05, fill=idn.skin, outline=INK,
                width=lw * 2,
            )
        tag(d, [(name.upper(), tagf)], pcx, sy1 - m * 0.4, tag_bounds, pad=max(2.0, 6 * u))
    elif framing == "pov":
        others = [c for c in chars if name_key(c["name"]) != name_key(pov)]
        n = len(others)
        if n:
            fig_h = min(wh * (0.6 if not last else 0.78), ww * 0.9 / max(1, n) / 0.45)
            pov_tags = []
            for i, c in enumerate(others[:4]):
                idn = ident(c["name"])
                fx = 0.5 if n == 1 else 0.25 + 0.5 * i / (n - 1)
                fh = fig_h
                top = wy0 + wh * (0.3 if not last else 0.22)
                draw_figure(
                    d, idn, wx0 + ww * fx, top, fh, state=c["state"], look=0.0,
                    mouth=last and _speaks(spec, c["name"]), dim=dim, lw=lw * 1.3,
                )
                pov_tags.append((c, wx0 + ww * fx, top + fh * 0.5))
        elif props:
            ps = min(ww, wh) * (0.32 if not last else 0.42)
            draw_prop(d, props[0], (wx0 + wx1) / 2, wy0 + wh * 0.55, ps, dim=dim, lw=lw * 1.5)
        if pov:  # the POV character's own hands at the bottom of the view
            idn = ident(pov)
            reach = 0.05 if last else 0.0
            r = min(sw_, sh_) * 0.06
            for sgn in (-1, 1):
                hx = sx0 + sw_ * (0.5 + sgn * (0.27 - reach))
                hy = sy1 - sh_ * (0.1 + reach)
                limb(
                    d,
                    [(sx0 + sw_ * (0.5 + sgn * 0.4), sy1 + sh_ * 0.15), (hx + sgn * r * 0.3, hy + r * 0.6)],
                    r * 1.5, idn.palette[0], lw * 1.5,
                )
                ellipse(d, hx, hy, r, r * 0.85, fill=idn.skin, outline=INK, width=lw * 1.5)
                ellipse(
                    d, hx - sgn * r * 0.95, hy + r * 0.1, r * 0.35, r * 0.5, fill=idn.skin, outline=INK,
                    width=lw * 1.2,
                )
        mask = _eyelid_mask(w, h)
        img.paste((18, 18, 22), (0, 0, w, h), mask)
        d = Pen(img)
        for c, x, y in pov_tags if n else []:
            label(c, x, y)
        if pov:
            tag(
                d, [(f"{ident(pov).label.upper()}'S POV", tagf)], w / 2, sy1 - m * 0.5, tag_bounds,
                swatch=ident(pov).palette[0], pad=max(2.0, 6 * u),
            )

    # overlays: caption band, shot number, framing, camera move, border
    if lines:
        by = h - band_h
        rbox(d, (0, by, w, h), fill=PAPER)
        d.line([(0, by), (w, by)], fill=INK, width=max(1, round(lw)))
        ty = by + m * 0.45 + lh / 2
        for prefix, text, colour in lines:
            x = m
            if prefix:
                d.text((x, ty), prefix, font=bold, fill=colour, anchor="lm")
                x += text_w(bold, prefix)
            d.text((x, ty), text, font=fnt, fill=INK, anchor="lm")
            ty += lh
    num = clean(spec.get("shot_label") or spec.get("shot_number"))
    label_txt = f"SHOT {num} · {'B' if last else 'A'}" if num else f"SHOT · {'B' if last else 'A'}"
    big = font(50 * u, "cond")
    pad = max(2.0, 10 * u)
    label_txt = ellipsize(big, clean(label_txt), w * 0.55)
    tw = text_w(big, label_txt)
    rect(d, m, m, m + tw + 2 * pad, m + big.size * 1.25 + pad, fill=INK + (235,), radius=pad * 0.6)
    d.text((m + pad, m + (big.size * 1.25 + pad) / 2), label_txt, font=big, fill=PAPER, anchor="lm")
    small = font(22 * u, "bold")
    info = framing.upper().replace("-", " ")
    if establishing:
        info = "ESTABLISHING · " + info
    where = loc["name"] or ""
    if (
        where
        and not re.search(r"\b(day|night|dusk|dawn|morning|evening)\b", where.lower())
        and loc["time_of_day"]
    ):
        where = f"{where} — {loc['time_of_day']}"
    y2 = m + big.size * 1.25 + pad * 1.6
    for txt in (info, where.upper()):
        if not txt:
            continue
        txt = ellipsize(small, txt, w * 0.6)
        tw2 = text_w(small, txt)
        rect(d, m, y2, m + tw2 + pad * 1.4, y2 + small.size * 1.5, fill=PAPER + (215,), radius=pad * 0.4)
        d.text((m + pad * 0.7, y2 + small.size * 0.75), txt, font=small, fill=INK, anchor="lm")
        y2 += small.size * 1.5 + pad * 0.4
    g = max(10.0, 78 * u)
    gx, gy = w - m - g, m
    rect(
        d, gx, gy, gx + g, gy + g, fill=PAPER + (225,), outline=INK, width=max(1, round(lw)), radius=g * 0.12
    )
    _move_glyph(d, gx, gy, g, move, INK, max(1.0, 3 * u))
    mv = ellipsize(small, move.upper().replace("-", " "), w * 0.3)
    mw = text_w(small, mv)
    rect(
        d, gx + g - mw - pad * 1.4, gy + g + pad * 0.4, gx + g, gy + g + pad * 0.4 + small.size * 1.5,
        fill=PAPER + (215,), radius=pad * 0.4,
    )
    d.text(
        (gx + g - pad * 0.7, gy + g + pad * 0.4 + small.size * 0.75), mv, font=small, fill=INK, anchor="rm"
    )
    rbox(d, (0, 0, w - 1, h - 1), outline=INK, width=max(1, round(2 * u)))
    return img


def _speaks(spec, name: str) -> bool:
    key = name_key(name)
    for line in _as_list(spec.get("dialogue")):
        if isinstance(line, dict) and name_key(line.get("character") or "") == key:
            return True
    return False
