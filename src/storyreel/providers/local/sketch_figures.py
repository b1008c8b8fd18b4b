"""The previz renderer's figures: fonts and text, identities, characters with their costume states, props.

Everything here draws with :mod:`PIL.ImageDraw` shapes on an ``RGBA``-mode draw (translucent fills blend), at
the size it is asked for: no per-pixel work, no randomness that is not seeded from the names drawn.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from PIL import ImageDraw, ImageFont

Color = tuple[int, int, int]

INK: Color = (40, 39, 37)
PAPER: Color = (244, 241, 234)
SHOE: Color = (46, 42, 40)
LIGHT: Color = (255, 214, 128)  # lamplight, lit windows, the lighthouse beam

# --- colours and shapes -------------------------------------------------------------------------------------


class Pen:
    """Two draws on one image: opaque shapes take Pillow's fast path, translucent ones (alpha < 255) blend.

    (A single ``ImageDraw.Draw(img, "RGBA")`` blends every shape, about ten times slower on big fills.)
    """

    def __init__(self, img):
        self._o = ImageDraw.Draw(img)
        self._a = ImageDraw.Draw(img, "RGBA")

    def __getattr__(self, name):
        fast, blend = getattr(self._o, name), getattr(self._a, name)

        def call(*args, **kw):
            for key in ("fill", "outline"):
                c = kw.get(key)
                if isinstance(c, tuple) and len(c) == 4 and c[3] < 255:
                    return blend(*args, **kw)
            return fast(*args, **kw)

        self.__dict__[name] = call
        return call


def mix(a, b, t: float) -> Color:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t), round(a[2] + (b[2] - a[2]) * t))


def darker(c, k: float = 0.25) -> Color:
    return mix(c, (0, 0, 0), k)


def lighter(c, k: float = 0.25) -> Color:
    return mix(c, (255, 255, 255), k)


def hexc(c) -> str:
    return "#{:02x}{:02x}{:02x}".format(*c[:3])


def ellipse(d, cx, cy, rx, ry, fill=None, outline=None, width=1) -> None:
    rx, ry = abs(rx), abs(ry)
    d.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=fill, outline=outline, width=max(1, round(width)))


def rect(d, x0, y0, x1, y1, fill=None, outline=None, width=1, radius=0) -> None:
    x0, x1 = min(x0, x1), max(x0, x1)
    y0, y1 = min(y0, y1), max(y0, y1)
    r = min(radius, (x1 - x0) / 2, (y1 - y0) / 2)
    if r >= 1:
        d.rounded_rectangle(
            (x0, y0, x1, y1), radius=r, fill=fill, outline=outline, width=max(1, round(width))
        )
    else:
        rbox(d, (x0, y0, x1, y1), fill=fill, outline=outline, width=max(1, round(width)))


def rbox(d, xy, fill=None, outline=None, width=1) -> None:
    """``ImageDraw.rectangle`` that takes its corners in any order."""
    x0, y0, x1, y1 = xy
    d.rectangle(
        (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), fill=fill, outline=outline,
        width=max(1, round(width)),
    )


def poly(d, pts, fill=None, outline=None, width=1) -> None:
    if len(pts) >= 3:
        d.polygon(
            [(float(x), float(y)) for x, y in pts], fill=fill, outline=outline, width=max(1, round(width))
        )


def limb(d, pts, w, fill, ow, ink=INK) -> None:
    """A thick rounded stroke with an outline: arms, legs, sleeves."""
    w = max(1.0, w)
    if ow > 0:
        for x, y in pts:
            ellipse(d, x, y, w / 2 + ow, w / 2 + ow, fill=ink)
        d.line(pts, fill=ink, width=max(1, round(w + 2 * ow)), joint="curve")
    for x, y in pts:
        ellipse(d, x, y, w / 2, w / 2, fill=fill)
    d.line(pts, fill=fill, width=max(1, round(w)), joint="curve")


def chord(d, cx, cy, rx, ry, start, end, fill=None, outline=None, width=1) -> None:
    rx, ry = abs(rx), abs(ry)
    d.chord(
        (cx - rx, cy - ry, cx + rx, cy + ry), start, end, fill=fill, outline=outline,
        width=max(1, round(width)),
    )


def arc(d, cx, cy, rx, ry, start, end, fill, width=1) -> None:
    rx, ry = abs(rx), abs(ry)
    if rx >= 1 and ry >= 1:
        d.arc((cx - rx, cy - ry, cx + rx, cy + ry), start, end, fill=fill, width=max(1, round(width)))


def arrow(d, x0, y0, x1, y1, fill, width, head) -> None:
    ang = math.atan2(y1 - y0, x1 - x0)
    bx, by = x1 - head * math.cos(ang), y1 - head * math.sin(ang)
    d.line([(x0, y0), (bx, by)], fill=fill, width=max(1, round(width)))
    nx, ny = -math.sin(ang) * head * 0.6, math.cos(ang) * head * 0.6
    poly(d, [(x1, y1), (bx + nx, by + ny), (bx - nx, by - ny)], fill=fill)


# --- fonts and text -----------------------------------------------------------------------------------------

_FONT_DIRS = (
    Path(__file__).with_name("fonts"), Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"), Path("/Library/Fonts"),
)
_FONT_FILES = {
    "regular": ("DejaVuSans.ttf",), "bold": ("DejaVuSans-Bold.ttf", "DejaVuSans.ttf"),
    "cond": ("DejaVuSansCondensed-Bold.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans.ttf"),
    "italic": ("DejaVuSans-Oblique.ttf", "DejaVuSans.ttf"),
}


@functools.lru_cache(maxsize=8)
def _font_path(style: str) -> str | None:
    for name in _FONT_FILES.get(style, _FONT_FILES["regular"]):
        for folder in _FONT_DIRS:
            p = folder / name
            if p.is_file():
                return str(p)
    return None


@functools.lru_cache(maxsize=512)
def font(size: float, style: str = "regular"):
    """A font of ``size`` pixels: DejaVu when installed, else Pillow's scalable default font."""
    size = max(6, int(round(size)))
    path = _font_path(style)
    if path:
        try:
            return ImageFont.truetype(path, size, layout_engine=ImageFont.Layout.BASIC)  # same on every host
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default()


def text_w(fnt, s: str) -> float:
    return fnt.getlength(s) if s else 0.0


def clean(text) -> str:
    """One line of drawable text: no control characters, no astral-plane emoji (no font draws them)."""
    if text is None:
        return ""
    out = []
    for ch in str(text):
        o = ord(ch)
        if o > 0xFFFF or 0xFE00 <= o <= 0xFE0F or o in (0x200D, 0x20E3):
            continue
        cat = unicodedata.category(ch)
        if cat in ("Zl", "Zp") or ch in "\t\n\r\v\f":
            out.append(" ")
        elif cat.startswith("C") or cat == "Mn" and not out:
            continue
        else:
            out.append(ch)
    return " ".join("".join(out).split())


def _fit(fnt, s: str, avail: float) -> int:
    """How many leading characters of ``s`` fit in ``avail`` pixels (at least one)."""
    lo, hi = 1, len(s)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if text_w(fnt, s[:mid]) <= avail:
            lo = mid
        else:
            hi = mid - 1
    return lo


def ellipsize(fnt, s: str, avail: float) -> str:
    if text_w(fnt, s) <= avail:
        return s
    if avail <= text_w(fnt, "…"):
        return ""
    return s[: _fit(fnt, s, avail - text_w(fnt, "…"))].rstrip() + "…"


def wrap(text: str, fnt, max_w: float, max_lines: int, indent: float = 0.0) -> list[str]:
    """Word-wrap ``text`` into at most ``max_lines`` lines; the last is ellipsised when text is left over.

    ``indent`` is taken off the first line only (room for a bold speaker name). Words longer than a line are
    broken.
    """
    words = clean(text).split(" ")
    if max_lines < 1 or not words or words == [""]:
        return []
    lines: list[str] = []
    cur = ""
    avail = max(1.0, max_w - indent)
    over = False
    for word in words:
        trial = f"{cur} {word}" if cur else word
        if text_w(fnt, trial) <= avail:
            cur = trial
            continue
        if cur:
            lines.append(cur)
            cur = ""
            avail = max_w
        while word and text_w(fnt, word) > avail:
            n = _fit(fnt, word, avail)
            lines.append(word[:n])
            word = word[n:]
            avail = max_w
            if len(lines) > max_lines:
                break
        cur = word
        if len(lines) >= max_lines:
            over = True
            break
    if cur and not over:
        lines.append(cur)
    if len(lines) > max_lines or over:
        lines = lines[:max_lines]
        last_avail = max_w if max_lines > 1 else max(1.0, max_w - indent)
        last = lines[-1]
        lines[-1] = (
            ellipsize(fnt, last + "…", last_avail) if text_w(fnt, last + "…") > last_avail else last + "…"
        )
    return lines


def tag(
    d, lines: list[tuple[str, object]], x: float, y: float, bounds, *, swatch=None, anchor="bottom",
    pad: float = 4, alpha: int = 232, max_w: float | None = None, avoid: list | None = None,
) -> tuple[float, float, float, float]:
    """A small label box: ``lines`` of (text, font), centred on ``x``; its bottom (or top) edge at ``y``.

    Clamped inside ``bounds`` (x0, y0, x1, y1); ``swatch`` draws a colour chip on the left; ``max_w`` caps its
    width (text is ellipsised). Boxes in ``avoid`` are stepped around (upwards, or downwards for
    ``anchor="top"``) and the new box is added to it. Returns its box.
    """
    bx0, by0, bx1, by1 = bounds
    lines = [(s, f) for s, f in lines if s]
    if not lines:
        return (x, y, x, y)
    sw = (lines[0][1].size * 0.7 + pad) if swatch else 0
    maxw = max(8.0, min(bx1 - bx0, max_w or bx1 - bx0) - 2 * pad - sw)
    lines = [(ellipsize(f, s, maxw), f) for s, f in lines]
    tw = max(text_w(f, s) for s, f in lines)
    hts = [f.size * 1.22 for _, f in lines]
    w, h = tw + 2 * pad + sw, sum(hts) + pad * 1.2
    x0 = min(max(x - w / 2, bx0), bx1 - w)
    y0 = y - h if anchor == "bottom" else y
    y0 = min(max(y0, by0), by1 - h)
    for _ in range(len(avoid or ())):
        hit = [b for b in avoid if x0 < b[2] and b[0] < x0 + w and y0 < b[3] and b[1] < y0 + h]
        if not hit:
            break
        y0 = min(b[1] for b in hit) - h - pad if anchor == "bottom" else max(b[3] for b in hit) + pad
        y0 = min(max(y0, by0), by1 - h)
    if avoid is not None:
        avoid.append((x0, y0, x0 + w, y0 + h))
    rect(d, x0, y0, x0 + w, y0 + h, fill=PAPER + (alpha,), outline=INK, width=max(1, pad / 4), radius=pad)
    if swatch:
        s = lines[0][1].size * 0.7
        rect(
            d, x0 + pad, y0 + pad * 0.6 + (hts[0] - s) / 2, x0 + pad + s, y0 + pad * 0.6 + (hts[0] + s) / 2,
            fill=swatch, outline=INK, width=1,
        )
    ty = y0 + pad * 0.6
    for (s, f), lh in zip(lines, hts, strict=True):
        d.text((x0 + pad + sw, ty + lh / 2), s, font=f, fill=INK, anchor="lm")
        ty += lh
    return (x0, y0, x0 + w, y0 + h)


# --- identities ---------------------------------------------------------------------------------------------

MAINS: tuple[Color, ...] = (
    (176, 62, 52), (50, 96, 152), (62, 122, 82), (196, 142, 44), (118, 72, 142), (34, 124, 132),
    (204, 104, 48), (152, 52, 92), (96, 112, 44), (72, 74, 116), (160, 92, 72), (46, 80, 70),
)
SECONDS: tuple[Color, ...] = (
    (62, 62, 68), (94, 76, 60), (52, 64, 92), (112, 106, 98), (72, 82, 60), (38, 38, 42), (142, 122, 98),
    (86, 60, 70),
)
ACCENTS: tuple[Color, ...] = (
    (224, 192, 92), (206, 84, 72), (96, 154, 196), (232, 230, 220), (124, 174, 112), (214, 142, 172),
    (242, 162, 72),
)
HAIR_COLORS: tuple[Color, ...] = (
    (32, 28, 26), (76, 52, 36), (124, 86, 50), (200, 164, 98), (154, 66, 38), (152, 150, 146),
    (226, 222, 214),
)
SKINS: tuple[Color, ...] = (
    (246, 216, 190), (236, 194, 162), (216, 166, 126), (180, 126, 92), (136, 92, 66), (100, 68, 50),
)
SILHOUETTES = ("tall", "short", "broad", "slim", "round")
HEADS = ("oval", "round", "square", "long", "heart")
HAIRS = ("short", "long", "bun", "bald", "curly", "ponytail", "spiky", "bob", "cap", "hat", "beanie")


@dataclass(frozen=True)
class Ident:
    name: str
    kind: str
    label: str
    palette: tuple[Color, ...]
    silhouette: str
    head: str
    hair: str
    hair_color: Color
    skin: Color
    seed: int

    def as_dict(self) -> dict:
        return {
            "name": self.name, "kind": self.kind, "label": self.label,
            "palette": [hexc(c) for c in self.palette], "silhouette": self.silhouette, "head": self.head,
            "hair": self.hair, "hair_color": hexc(self.hair_color), "skin": hexc(self.skin),
            "seed": self.seed,
        }


def name_key(name) -> str:
    """The name as identities are keyed: case, spacing and screenplay extensions like (V.O.) do not count."""
    s = re.sub(r"\([^)]*\)", " ", clean(name).lower())
    return " ".join(s.split()) or "unnamed"


@functools.lru_cache(maxsize=2048)
def ident(name, kind: str = "character") -> Ident:
    kind = clean(kind).lower() or "character"
    h = hashlib.sha256(f"{kind}|{name_key(name)}".encode()).digest()
    main = MAINS[h[0] % len(MAINS)]
    second = SECONDS[h[1] % len(SECONDS)]
    accent = ACCENTS[h[2] % len(ACCENTS)]
    palette = (main, second, accent) if kind == "character" else (main, accent)
    label = clean(name) or "?"
    if len(label) > 28:
        label = label[:27].rstrip() + "…"
    return Ident(
        name=clean(name), kind=kind, label=label, palette=palette,
        silhouette=SILHOUETTES[h[3] % len(SILHOUETTES)], head=HEADS[h[4] % len(HEADS)],
        hair=HAIRS[h[5] % len(HAIRS)], hair_color=HAIR_COLORS[h[6] % len(HAIR_COLORS)],
        skin=SKINS[h[7] % len(SKINS)], seed=int.from_bytes(h[8:12], "big"),
    )


# --- costume states -----------------------------------------------------------------------------------------

_COLOUR_WORDS: dict[str, Color] = {
    "red": (172, 42, 40), "crimson": (150, 24, 40), "scarlet": (190, 36, 36), "black": (34, 34, 38),
    "white": (236, 233, 226), "grey": (128, 128, 128), "gray": (128, 128, 128), "brown": (112, 82, 56),
    "blue": (52, 82, 160), "navy": (36, 46, 90), "green": (52, 112, 62), "yellow": (222, 192, 60),
    "gold": (204, 162, 52), "golden": (204, 162, 52), "silver": (184, 188, 194), "purple": (112, 62, 142),
    "orange": (222, 122, 42), "pink": (222, 142, 172), "tan": (182, 150, 110), "beige": (206, 190, 160),
}
_COSTUMES: tuple[tuple[str, str], ...] = (
    ("hood", r"hood(?:ed|ie|s)?|cowl|veil(?:ed)?"),
    ("hat", r"hats?|caps?|fedora|bowler|helmet(?:ed)?|beret|bonnet|stetson|sombrero"),
    ("crown", r"crown(?:ed)?|tiara|diadem"),
    ("cloak", r"cloak(?:ed)?|capes?|robes?|robed|poncho|habit|mantle|cassock|shawl|trench ?coat|overcoat"),
    ("beard", r"beard(?:ed)?|mustache|moustache|goatee|whiskers|sideburns"),
    ("mask", r"mask(?:ed)?|balaclava"), ("glasses", r"glasses|spectacles|sunglasses|shades|goggles|monocle"),
    ("scarf", r"scarf|scarves|muffler|bandana|cravat"),
    ("wet", r"wet|soaked|drenched|dripping|sodden|damp|rain(?:-?soaked)?|soaking"),
    ("blood", r"blood(?:y|ied|stained|-stained|ied)?|bleeding|wounded|injured|bruised"),
    ("bandage", r"bandage[sd]?|bandaging|sling|stitches|gauze|plaster"),
    ("dirt", r"dirty|muddy|mud|soot|sooty|grimy|dusty|filthy|grubby|ash-covered"),
)
# A disguise or role implies a costume.
_IMPLIED: tuple[tuple[str, dict[str, Color]], ...] = (
    (r"monks?|friars?|abbot", {"hood": (104, 82, 60), "cloak": (104, 82, 60)}),
    (r"nuns?", {"hood": (34, 34, 38), "cloak": (34, 34, 38)}),
    (r"wizard|sorcerer|witch", {"hat": (62, 52, 96), "cloak": (62, 52, 96)}),
    (r"kings?|queens?|princes?|princess|emperor|empress", {"crown": (204, 162, 52), "cloak": (150, 30, 44)}),
    (r"soldiers?|knight|guard", {"hat": (110, 116, 108)}), (r"pirate", {"hat": (34, 34, 38)}),
    (r"surgeon|nurse", {"mask": (150, 196, 210)}), (r"bride", {"hood": (240, 238, 232)}),
)
_DEFAULT_COSTUME: dict[str, Color] = {
    "hood": (92, 76, 62), "hat": (58, 54, 52), "crown": (204, 162, 52), "cloak": (74, 70, 78),
    "mask": (30, 30, 34), "glasses": (30, 30, 34), "scarf": (170, 52, 48), "wet": (80, 124, 190),
    "blood": (150, 18, 24), "bandage": (246, 244, 238), "dirt": (112, 86, 60),
}


@functools.lru_cache(maxsize=1024)
def costume(state) -> dict[str, object]:
    """The overlays a state asks for: {tag: colour}, plus style notes ("mask_style": eyes/face/full)."""
    s = clean(state).lower()
    out: dict[str, object] = {}
    if not s:
        return out
    for pat, implied in _IMPLIED:
        if re.search(rf"\b(?:{pat})\b", s):
            for k, v in implied.items():
                out.setdefault(k, v)
    for key, pat in _COSTUMES:
        m = re.search(rf"\b(?:{pat})\b", s)
        if not m:
            continue
        before = re.findall(r"[a-z]+", s[max(0, m.start() - 28) : m.start()])[-3:]
        colour = next((_COLOUR_WORDS[w] for w in reversed(before) if w in _COLOUR_WORDS), None)
        if colour is None and key == "beard":
            colour = (150, 132, 112) if "fake" in before or "false" in before else None
        out[key] = colour or out.get(key) or _DEFAULT_COSTUME.get(key)
        if key == "mask":
            out["mask_style"] = (
                "full"
                if re.search(r"balaclava|ski mask", s)
                else "face"
                if re.search(r"surgical|gas mask|face mask|medical", s)
                else "eyes"
            )
            if out["mask_style"] == "face" and colour is None:
                out["mask"] = (150, 196, 210) if "gas" not in s else (70, 74, 70)
        if key == "glasses":
            out["glasses_dark"] = bool(re.search(r"sunglasses|shades|goggles", s))
        if key == "hat":
            styles = (("helmet", r"helmet"), ("cap", r"\bcaps?\b|baseball"), ("beanie", r"beanie|woolly"))
            out["hat_style"] = next((style for style, pat in styles if re.search(pat, s)), "fedora")
    return out


# --- characters ---------------------------------------------------------------------------------------------

# length factor, shoulder half-width, hip half-width, limb width (fractions of the nominal height)
SIL: dict[str, tuple[float, float, float, float]] = {
    "tall": (1.10, 0.104, 0.080, 0.046), "short": (0.86, 0.114, 0.096, 0.050),
    "broad": (1.00, 0.150, 0.114, 0.060), "slim": (1.04, 0.086, 0.066, 0.040),
    "round": (0.94, 0.118, 0.140, 0.052),
}
HEAD_W = {"oval": 0.78, "round": 0.92, "square": 0.86, "long": 0.68, "heart": 0.82}


def body_height(idn: Ident, h: float) -> float:
    """Head-to-toe height of a figure of nominal height ``h`` (tall figures are taller)."""
    return h * SIL[idn.silhouette][0]


def _head_pts(cx, cy, rx, ry, shape: str) -> list[tuple[float, float]]:
    pts = []
    for i in range(36):
        t = 2 * math.pi * i / 36
        c, s = math.cos(t), math.sin(t)
        if shape == "square":
            x, y = rx * math.copysign(abs(c) ** 0.5, c), ry * math.copysign(abs(s) ** 0.5, s)
        else:
            x, y = rx * c, ry * s
        if s > 0:  # the jaw narrows
            x *= 1 - (0.36 if shape == "heart" else 0.12) * s
        pts.append((cx + x, cy + y))
    return pts


def _spot(d, rng, x, y, r, fill) -> None:
    pts = []
    for i in range(10):
        t = 2 * math.pi * i / 10
        rr = r * (1.0 if i % 2 == 0 else 0.45) * (0.8 + 0.4 * rng.random())
        pts.append((x + rr * math.cos(t), y + rr * math.sin(t)))
    poly(d, pts, fill=fill)


def draw_figure(
    d, idn: Ident, cx: float, top: float, h: float, *, facing: float = 0, pose: str = "stand",
    state: str = "", look: float = 0.0, mouth: bool = False, dim=None, lw: float | None = None,
) -> dict:
    """Draw a character, head top at ``top``, nominal height ``h``.

    ``facing`` 0 is front, ±0.5 a three-quarter turn to the right (+) or left (-), ±1 a profile. ``pose`` is
    "stand" or "step" (mid-stride, one arm up); ``state`` adds costume overlays; ``dim`` (colour, amount)
    darkens it for night. Returns anchors: head box, hand position, foot y, box.
    """
    cos = costume(state)
    lf, shw, hpw, lmw = SIL[idn.silhouette]
    f = 1 if facing > 0 else -1
    side = abs(facing) >= 0.75
    tq = 0 < abs(facing) < 0.75
    s_ = f if side else 0  # the profile direction, 0 when not in profile
    turn = f if tq else 0
    hh = 0.14 * h
    hw = hh * HEAD_W[idn.head]
    hb = h * lf
    body = hb - hh
    foot = top + hb
    sy = top + hh * 1.12
    hy = top + hh + body * 0.44
    sw, hp, lm = h * shw * (0.86 if tq else 1.0), h * hpw * (0.9 if tq else 1.0), h * lmw
    round_ = idn.silhouette == "round"
    waist = hp * 1.1 if round_ else (sw * 0.84 if idn.silhouette == "broad" else max(hp * 0.96, sw * 0.76))
    ow = lw if lw is not None else max(1.0, min(6.0, h / 170))

    def col(c):
        return mix(c, dim[0], dim[1]) if dim else c

    main, second, accent = (col(c) for c in idn.palette[:3])
    skin, hairc = col(idn.skin), col(idn.hair_color)
    cloak = col(cos["cloak"]) if "cloak" in cos else None
    hood = col(cos["hood"]) if "hood" in cos else None
    sleeve = cloak or main
    ink = INK
    hcx, hcy = cx + turn * hw * 0.06, top + hh / 2
    rx = hw / 2 if not side else hh * 0.4
    rng = random.Random(idn.seed)
    st = clean(state).lower()

    # shadow
    ellipse(d, cx, foot, sw * 1.4, max(1.0, hh * 0.1), fill=(0, 0, 0, 44))
    # behind the body: cape, hood, long hair
    if cloak and not side:
        poly(d, [
            (cx - sw * 1.02, sy + hh * 0.1), (cx - sw * 1.5, foot - body * 0.06),
            (cx + sw * 1.5, foot - body * 0.06), (cx + sw * 1.02, sy + hh * 0.1),
        ], fill=darker(cloak, 0.3), outline=ink, width=ow)
    elif cloak:
        poly(d, [
            (cx - f * sw * 0.5, sy), (cx - f * sw * 1.3, foot - body * 0.05),
            (cx + f * sw * 0.5, foot - body * 0.05), (cx + f * sw * 0.4, sy),
        ], fill=darker(cloak, 0.3), outline=ink, width=ow)
    if hood:
        ellipse(
            d, hcx - s_ * rx * 0.25 - turn * hw * 0.06, hcy + hh * 0.02, hw * 0.8 if not side else rx * 1.45,
            hh * 0.64, fill=hood, outline=ink, width=ow,
        )
    hair = idn.hair
    if not hood and cos.get("mask_style") != "full":
        bx = hcx - s_ * rx * 0.35 - turn * hw * 0.08
        if hair == "long":
            rect(
                d, bx - hw * 0.6, top + hh * 0.1, bx + hw * 0.6, sy + hh * 0.9, fill=hairc, outline=ink,
                width=ow, radius=hw * 0.35,
            )
        elif hair == "bob":
            rect(
                d, bx - hw * 0.6, top + hh * 0.1, bx + hw * 0.6, top + hh * 0.98, fill=hairc, outline=ink,
                width=ow, radius=hw * 0.3,
            )
        elif hair == "bun":
            ellipse(
                d, bx - s_ * rx * 0.3, top + hh * (0.02 if not side else 0.2), hh * 0.19, hh * 0.17,
                fill=hairc, outline=ink, width=ow,
            )
        elif hair == "ponytail":
            px = hcx + (hw * 0.56 if not s_ else -s_ * rx * 1.1) - turn * hw * 0.2
            ellipse(d, px, top + hh * 0.62, hw * 0.2, hh * 0.36, fill=hairc, outline=ink, width=ow)

    # legs
    leg_top = hy - body * 0.02
    if not side:
        spread = (0.95, 0.78) if pose == "step" else (0.55, 0.55)
        for sgn, k in ((-1, spread[0]), (1, spread[1])):
            xt, xb = cx + sgn * hp * 0.5, cx + sgn * hp * k
            poly(d, [
                (xt - hp * 0.48, leg_top), (xt + hp * 0.48, leg_top), (xb + lm * 0.5, foot - lm * 0.4),
                (xb - lm * 0.5, foot - lm * 0.4),
            ], fill=second, outline=ink, width=ow)
            ellipse(
                d, xb + (turn * 0.3 or sgn * 0.15) * lm, foot - lm * 0.32, lm * 0.72, lm * 0.4,
                fill=col(SHOE), outline=ink, width=ow,
            )
    else:
        stride = body * (0.17 if pose == "step" else 0.035)
        for k, shade in ((-1, 0.22), (1, 0.0)):
            xb = cx + f * k * stride
            limb(d, [(cx, leg_top), (xb, foot - lm * 0.45)], lm * 1.25, darker(second, shade), ow)
            ellipse(
                d, xb + f * lm * 0.35, foot - lm * 0.32, lm * 0.9, lm * 0.38, fill=col(SHOE), outline=ink,
                width=ow,
            )
    # back arm (profile)
    if side:
        back = [
            (cx - f * sw * 0.1, sy + hh * 0.25), (cx - f * body * 0.07, sy + body * 0.2),
            (cx - f * body * (0.15 if pose == "step" else 0.05), hy),
        ]
        limb(d, back, lm * 0.95, darker(sleeve, 0.25), ow)
        ellipse(d, *back[-1], lm * 0.6, lm * 0.6, fill=darker(skin, 0.15), outline=ink, width=ow)
    # neck
    rect(
        d, hcx - hw * 0.19, top + hh * 0.75, hcx + hw * 0.19, sy + hh * 0.12, fill=skin, outline=ink, width=ow
    )
    # torso: shoulders, waist, hips (the waist makes the silhouette: a round build bulges)
    mid_y = (sy + hy) / 2 + body * 0.05
    if not side:
        tx = cx + turn * sw * 0.05
        right = [
            (sw * 0.7, sy - hh * 0.05), (sw, sy + hh * 0.3), (waist, mid_y), (hp * 1.04, hy + body * 0.06),
        ]
        torso = [(tx - x, y) for x, y in right] + [(tx + x, y) for x, y in reversed(right)]
    else:
        dp = sw * (0.62 if idn.silhouette == "broad" else 0.52)
        belly = hp * 0.55 if round_ else 0.0
        torso = [
            (cx - f * dp * 0.75, sy - hh * 0.05), (cx + f * dp * 0.55, sy - hh * 0.04),
            (cx + f * dp * 0.95, sy + hh * 0.5), (cx + f * (dp * 0.85 + belly), mid_y),
            (cx + f * hp * 0.8, hy + body * 0.06), (cx - f * hp * 0.8, hy + body * 0.06),
            (cx - f * dp * 0.9, mid_y), (cx - f * dp * 0.95, sy + hh * 0.45),
        ]
    poly(d, torso, fill=main, outline=ink, width=ow)
    if not side:  # collar in the accent colour
        ncx = hcx
        poly(
            d, [(ncx - hw * 0.26, sy - hh * 0.05), (ncx + hw * 0.26, sy - hh * 0.05), (ncx, sy + hh * 0.42)],
            fill=accent, outline=ink, width=ow,
        )
    belt = (
        [(cx - hp * 1.0, hy - body * 0.01), (cx + hp * 1.0, hy - body * 0.01)]
        if not side
        else [(cx - f * hp * 0.8, hy - body * 0.01), (cx + f * hp * 0.85, hy - body * 0.01)]
    )
    d.line(belt, fill=darker(second, 0.3), width=max(1, round(lm * 0.3)))
    if cloak:
        if not side:
            right = [
                (sw * 0.62, sy - hh * 0.06), (sw * 1.05, sy + hh * 0.2),
                (max(sw * 1.12, waist * 1.08), mid_y), (max(sw * 1.3, waist * 1.2), foot - body * 0.1),
            ]
            poly(
                d, [(cx - x, y) for x, y in right] + [(cx + x, y) for x, y in reversed(right)], fill=cloak,
                outline=ink, width=ow,
            )
            d.line(
                [(cx + turn * sw * 0.2, sy + hh * 0.3), (cx + turn * sw * 0.3, foot - body * 0.1)],
                fill=darker(cloak, 0.4), width=max(1, round(ow)),
            )
        else:
            front = max(sw * 0.7, sw * 0.52 * 0.95 + (hp * 0.6 if round_ else 0))
            poly(d, [
                (cx - f * sw * 0.6, sy - hh * 0.06), (cx + f * sw * 0.5, sy - hh * 0.05),
                (cx + f * front, mid_y), (cx + f * sw * 1.0, foot - body * 0.1),
                (cx - f * sw * 1.05, foot - body * 0.1), (cx - f * sw * 0.7, mid_y),
            ], fill=cloak, outline=ink, width=ow)
        d.line(
            [(cx - hp * 0.9, hy), (cx + hp * 0.9, hy)], fill=col((196, 170, 120)),
            width=max(1, round(lm * 0.25)),
        )
    if "scarf" in cos:
        sc = col(cos["scarf"])
        rect(
            d, cx - sw * 0.62, sy - hh * 0.12, cx + sw * 0.62, sy + hh * 0.16, fill=sc, outline=ink, width=ow,
            radius=hh * 0.08,
        )
        rect(
            d, cx + f * sw * 0.2, sy, cx + f * sw * 0.2 + f * hh * 0.22, sy + body * 0.25, fill=sc,
            outline=ink, width=ow,
        )
    # arms
    if not side:
        arms = []
        for sgn in (-1, 1):
            s0 = (cx + sgn * sw * 0.86 + turn * sw * 0.05, sy + hh * 0.22)
            if pose == "step" and sgn == (turn or 1):
                arms.append(
                    [s0, (cx + sgn * sw * 1.45, sy + body * 0.2), (cx + sgn * sw * 1.75, sy + body * 0.02)]
                )
            else:
                out_ = max(sw * 1.04, waist + lm * 0.55)
                arms.append(
                    [s0, (cx + sgn * out_, sy + body * 0.22), (cx + sgn * out_ * 0.97, hy + body * 0.03)]
                )
    else:
        s0 = (cx + f * sw * 0.05, sy + hh * 0.25)
        if pose == "step":
            arms = [[s0, (cx + f * body * 0.1, sy + body * 0.2), (cx + f * body * 0.24, sy + body * 0.14)]]
        else:
            arms = [[s0, (cx + f * lm * 0.3, sy + body * 0.21), (cx + f * lm * 1.0, hy + body * 0.01)]]
    for a in arms:
        limb(d, a, lm * (1.15 if cloak else 0.95), sleeve, ow)
        ellipse(d, *a[-1], lm * 0.6, lm * 0.6, fill=skin, outline=ink, width=ow)
    if hood:  # the hood's drape over the shoulders
        if not side:
            pts = [
                (hcx - hw * 0.66, top + hh * 0.78), (hcx + hw * 0.66, top + hh * 0.78),
                (cx + sw * 0.92, sy + hh * 0.42), (cx - sw * 0.92, sy + hh * 0.42),
            ]
        else:
            pts = [
                (hcx - f * rx * 1.5, top + hh * 0.5), (hcx + f * rx * 0.2, top + hh * 0.95),
                (cx + f * sw * 0.6, sy + hh * 0.42), (cx - f * sw * 0.8, sy + hh * 0.42),
            ]
        poly(d, pts, fill=hood, outline=ink, width=ow)

    # head
    head = _head_pts(hcx, hcy, rx, hh / 2, idn.head)
    poly(d, head, fill=skin, outline=ink, width=ow)
    eye_y = top + hh * 0.52
    mouth_y = top + hh * 0.79
    detail = hh >= 14
    if side:
        nose = [
            (hcx + f * rx * 0.9, eye_y + hh * 0.0), (hcx + f * rx * 1.22, eye_y + hh * 0.17),
            (hcx + f * rx * 0.93, eye_y + hh * 0.21),
        ]
        poly(d, nose, fill=skin)
        d.line(nose, fill=ink, width=max(1, round(ow)), joint="curve")
        ellipse(
            d, hcx - f * rx * 0.12, top + hh * 0.56, rx * 0.15, hh * 0.11, fill=skin, outline=ink, width=ow
        )
    elif tq:
        ellipse(
            d, hcx - turn * hw * 0.47, top + hh * 0.56, hw * 0.07, hh * 0.1, fill=skin, outline=ink, width=ow
        )
    if detail:
        _face(d, hcx, hw, hh, eye_y, mouth_y, rx, s_, look + turn * 1.3, mouth, ow, skin)

    if "beard" in cos:
        bc = col(cos["beard"] or idn.hair_color)
        if not side:
            o = turn * hw * 0.08
            pts = [
                (hcx - hw * 0.47 + o, top + hh * 0.52), (hcx - hw * 0.42 + o, top + hh * 0.84),
                (hcx - hw * 0.18 + o, top + hh * 1.1), (hcx + o * 1.5, top + hh * 1.2),
                (hcx + hw * 0.18 + o, top + hh * 1.1), (hcx + hw * 0.42 + o, top + hh * 0.84),
                (hcx + hw * 0.47 + o, top + hh * 0.52), (hcx + hw * 0.3 + o, top + hh * 0.7),
                (hcx + o, top + hh * 0.68), (hcx - hw * 0.3 + o, top + hh * 0.7),
            ]
        else:
            pts = [
                (hcx - f * rx * 0.05, top + hh * 0.55), (hcx + f * rx * 0.95, top + hh * 0.68),
                (hcx + f * rx * 1.05, top + hh * 0.95), (hcx + f * rx * 0.55, top + hh * 1.18),
                (hcx - f * rx * 0.15, top + hh * 0.95),
            ]
        poly(d, pts, fill=bc, outline=ink, width=ow)
        if detail:
            mx = hcx + (f * rx * 0.75 if side else (look + turn * 1.3) * hw * 0.09)
            d.line(
                [(mx - hw * 0.12, mouth_y), (mx + hw * 0.12, mouth_y)], fill=darker(bc, 0.5),
                width=max(1, round(ow * 1.4)),
            )
    if "mask" in cos:
        mc = col(cos["mask"])
        style = cos.get("mask_style", "eyes")
        if style == "full":
            poly(d, head, fill=mc, outline=ink, width=ow)
            rect(
                d, hcx - hw * 0.36 + s_ * rx * 0.3, eye_y - hh * 0.07, hcx + hw * 0.36 + s_ * rx * 0.5,
                eye_y + hh * 0.07, fill=skin, radius=hh * 0.05,
            )
            if detail:
                _eyes(d, hcx, hw, hh, eye_y, rx, s_, look + turn * 1.3, ow)
        elif style == "face":
            x0, x1 = (hcx - hw * 0.44, hcx + hw * 0.44) if not side else sorted((hcx, hcx + f * rx * 1.1))
            rect(d, x0, top + hh * 0.6, x1, top + hh * 0.95, fill=mc, outline=ink, width=ow, radius=hh * 0.08)
        else:
            x0, x1 = (
                (hcx - hw * 0.52, hcx + hw * 0.52) if not side else sorted((hcx - f * rx * 0.2, hcx + f * rx))
            )
            rect(
                d, x0, eye_y - hh * 0.09, x1, eye_y + hh * 0.07, fill=mc, outline=ink, width=ow,
                radius=hh * 0.06,
            )
            if detail:
                _eyes(d, hcx, hw, hh, eye_y, rx, s_, look + turn * 1.3, ow, holes=skin)
    if "glasses" in cos and detail:
        gc = col(cos["glasses"])
        fill = gc if cos.get("glasses_dark") else None
        if not side:
            o = (look + turn * 1.3) * hw * 0.09
            for sgn in (-1, 1):
                ellipse(
                    d, hcx + sgn * hw * 0.21 + o, eye_y, hw * 0.15, hh * 0.08, fill=fill, outline=gc,
                    width=ow * 1.2,
                )
            d.line(
                [(hcx - hw * 0.07 + o, eye_y), (hcx + hw * 0.07 + o, eye_y)], fill=gc, width=max(1, round(ow))
            )
        else:
            ellipse(d, hcx + f * rx * 0.62, eye_y, rx * 0.2, hh * 0.08, fill=fill, outline=gc, width=ow * 1.2)
            d.line(
                [(hcx + f * rx * 0.42, eye_y), (hcx - f * rx * 0.1, eye_y - hh * 0.02)], fill=gc,
                width=max(1, round(ow)),
            )

    # hair, hats, hood
    hat = cos.get("hat")
    if not hood and cos.get("mask_style") != "full":
        _hair(
            d, idn, hcx - turn * hw * 0.05, top, hw, hh, rx, s_, hairc, accent, second, ow,
            hat_override=col(hat) if hat else None, hat_style=cos.get("hat_style"),
        )
    if hood:
        hx = hcx - s_ * rx * 0.25 - turn * hw * 0.06
        hr = hw * 0.8 if not side else rx * 1.45
        if side:
            start, end = (110, 330) if f > 0 else (210, 430)
            chord(d, hx, hcy + hh * 0.02, hr, hh * 0.64, start, end, fill=hood, outline=ink, width=ow)
        else:
            arc(d, hx, hcy + hh * 0.04, hw * 0.72, hh * 0.62, 150, 390, fill=hood, width=hh * 0.22)
            arc(d, hx, hcy + hh * 0.04, hw * 0.72, hh * 0.62, 150, 390, fill=ink, width=ow)
            arc(
                d, hx, hcy + hh * 0.04, hw * 0.72 - hh * 0.21, hh * 0.41, 150, 390, fill=darker(hood, 0.45),
                width=ow * 1.5,
            )
        if hat:
            _hat(d, hcx, top - hh * 0.1, hw, hh, s_, col(hat), accent, ow, cos.get("hat_style"))
    if "crown" in cos:
        cc = col(cos["crown"])
        base = top + hh * 0.12
        pts = [
            (hcx - hw * 0.42, base), (hcx - hw * 0.42, base - hh * 0.2), (hcx - hw * 0.22, base - hh * 0.08),
            (hcx, base - hh * 0.28), (hcx + hw * 0.22, base - hh * 0.08), (hcx + hw * 0.42, base - hh * 0.2),
            (hcx + hw * 0.42, base),
        ]
        poly(d, pts, fill=cc, outline=ink, width=ow)
    if "bandage" in cos:
        bc = col(cos["bandage"])
        on_arm = bool(re.search(r"\b(arm|arms|hand|hands|wrist|elbow|shoulder|sling)\b", st))
        on_head = bool(re.search(r"\b(head|forehead|brow|skull|temple)\b", st)) or not on_arm
        if on_head:
            y0 = top + hh * 0.24
            x0, x1 = hcx - rx * 0.98, hcx + rx * 0.98
            rect(d, x0, y0, x1, y0 + hh * 0.13, fill=bc, outline=ink, width=ow)
            if detail:
                for k in (0.3, 0.55, 0.8):
                    xx = x0 + (x1 - x0) * k
                    d.line(
                        [(xx - hh * 0.03, y0 + hh * 0.02), (xx + hh * 0.03, y0 + hh * 0.11)],
                        fill=(170, 168, 160), width=max(1, round(ow * 0.7)),
                    )
        if on_arm:
            a = arms[0]
            for t in (0.35, 0.65):
                ex, ey = a[1][0] + (a[2][0] - a[1][0]) * t, a[1][1] + (a[2][1] - a[1][1]) * t
                ellipse(d, ex, ey, lm * 0.72, lm * 0.3, fill=bc, outline=ink, width=ow)
    if "blood" in cos:
        bc = col(cos["blood"])
        sx = f if side else 1
        for x, y, r in (
            (hcx + (f * rx * 0.4 if side else -hw * 0.3), top + hh * 0.35, hh * 0.09),
            (cx + sw * 0.3 * sx, sy + body * 0.12, lm * 0.9),
            (cx - sw * 0.35 * sx, sy + body * 0.3, lm * 0.7), (cx + hp * 0.2, hy - body * 0.05, lm * 0.6),
        ):
            _spot(d, rng, x, y, r, bc)
            d.line([(x, y), (x + r * 0.1, y + r * 2.2)], fill=bc, width=max(1, round(r * 0.35)))
    if "dirt" in cos:
        dc = col(cos["dirt"]) + (110,)
        for x, y, r in (
            (hcx + hw * 0.2, top + hh * 0.7, hh * 0.1), (cx - sw * 0.4, sy + body * 0.2, lm * 1.2),
            (cx + sw * 0.4, hy - body * 0.02, lm), (cx - hp * 0.5, foot - body * 0.2, lm),
        ):
            ellipse(d, x, y, r, r * 0.6, fill=dc)
    if "wet" in cos:
        wc = col(cos["wet"])
        poly(d, torso, fill=wc + (60,))
        for _ in range(16):
            x = cx + (rng.random() - 0.5) * sw * 3.4
            y = top + rng.random() * hb * 0.85
            ln = hh * (0.18 + 0.25 * rng.random())
            d.line([(x, y), (x - ln * 0.12, y + ln)], fill=wc + (200,), width=max(1, round(ow)))
        for i in range(3):
            ellipse(
                d, hcx + (i - 1) * hw * 0.35, top + hh * (1.05 + 0.1 * (i % 2)), hh * 0.035, hh * 0.055,
                fill=wc,
            )
    return {
        "head": (hcx - rx, top, hcx + rx, top + hh), "hand": arms[-1][-1], "foot": foot,
        "box": (cx - sw * 1.8, top, cx + sw * 1.8, foot),
    }


def _eyes(d, hcx, hw, hh, eye_y, rx, f, look, ow, holes=None) -> None:
    big = hh >= 70
    dx = look * hw * 0.09
    xs = [hcx - hw * 0.21, hcx + hw * 0.21] if not f else [hcx + f * rx * 0.55]
    for i, x in enumerate(xs):
        k = (
            1.0 if f or abs(look) < 1.0 else (0.8 if (i == 1) == (look > 0) else 1.0)
        )  # the far eye is narrower
        if big and not f:
            ellipse(
                d, x + dx * 0.6, eye_y, hw * 0.1 * k, hh * 0.045, fill=holes or (250, 249, 244), outline=INK,
                width=ow * 0.8,
            )
            ellipse(d, x + dx, eye_y, hh * 0.028, hh * 0.03, fill=INK)
        elif holes:
            ellipse(d, x + dx * 0.5, eye_y, hw * 0.09, hh * 0.045, fill=holes)
            ellipse(d, x + dx, eye_y, max(1.0, hh * 0.035), max(1.0, hh * 0.035), fill=INK)
        else:
            ellipse(d, x + dx, eye_y, max(1.0, hh * 0.035 * k), max(1.0, hh * 0.04), fill=INK)


def _face(d, hcx, hw, hh, eye_y, mouth_y, rx, f, look, mouth, ow, skin) -> None:
    _eyes(d, hcx, hw, hh, eye_y, rx, f, look, ow)
    lwid = max(1, round(ow * 1.1))
    dx = look * hw * 0.09
    if hh < 30:
        return
    if not f:
        for sgn in (-1, 1):
            x = hcx + sgn * hw * 0.21 + dx * 0.6
            d.line(
                [(x - hw * 0.1, eye_y - hh * 0.085), (x + hw * 0.1, eye_y - hh * 0.095 - sgn * hh * 0.005)],
                fill=INK, width=lwid,
            )
        nx = hcx + dx * 1.3
        tip = hw * (0.05 + 0.05 * max(-1.0, min(1.0, look)))
        d.line([
            (nx, eye_y + hh * 0.03), (nx + tip, eye_y + hh * 0.15),
            (nx - hw * 0.03 + tip * 0.3, eye_y + hh * 0.17),
        ], fill=darker(skin, 0.45), width=lwid, joint="curve")
        mx = hcx + dx
        if mouth:
            ellipse(d, mx, mouth_y, hw * 0.1, hh * 0.045, fill=(96, 40, 40), outline=INK, width=ow * 0.8)
        else:
            d.line([
                (mx - hw * 0.12, mouth_y - hh * 0.005), (mx, mouth_y + hh * 0.012),
                (mx + hw * 0.12, mouth_y - hh * 0.005),
            ], fill=darker(skin, 0.55), width=lwid, joint="curve")
    else:
        ex = hcx + f * rx * 0.55
        d.line(
            [(ex - f * hw * 0.08, eye_y - hh * 0.09), (ex + f * hw * 0.1, eye_y - hh * 0.1)], fill=INK,
            width=lwid,
        )
        mx = hcx + f * rx * 0.72
        if mouth:
            ellipse(d, mx, mouth_y, hw * 0.06, hh * 0.04, fill=(96, 40, 40))
        else:
            d.line(
                [(mx - f * hw * 0.1, mouth_y), (mx + f * hw * 0.08, mouth_y - hh * 0.01)],
                fill=darker(skin, 0.55), width=lwid,
            )


def _hat(d, hcx, top, hw, hh, f, colour, accent, ow, style) -> None:
    if style == "helmet":
        chord(d, hcx, top + hh * 0.42, hw * 0.6, hh * 0.5, 180, 360, fill=colour, outline=INK, width=ow)
        rect(
            d, hcx - hw * 0.66, top + hh * 0.36, hcx + hw * 0.66, top + hh * 0.45, fill=darker(colour, 0.2),
            outline=INK, width=ow,
        )
        return
    if style in ("cap", "beanie"):
        ry = hh * (0.48 if style == "cap" else 0.56)
        chord(d, hcx, top + hh * 0.42, hw * 0.58, ry, 180, 360, fill=colour, outline=INK, width=ow)
        if style == "cap":
            bx, brx = (hcx + f * hw * 0.5, hw * 0.4) if f else (hcx, hw * 0.56)
            ellipse(d, bx, top + hh * 0.4, brx, hh * 0.06, fill=darker(colour, 0.25), outline=INK, width=ow)
        else:
            rect(d, hcx - hw * 0.6, top + hh * 0.28, hcx + hw * 0.6, top + hh * 0.42,
                 fill=darker(colour, 0.2), outline=INK, width=ow, radius=hh * 0.05)
        return
    rect(
        d, hcx - hw * 0.42, top - hh * 0.28, hcx + hw * 0.42, top + hh * 0.24, fill=colour, outline=INK,
        width=ow, radius=hw * 0.15,
    )
    rect(d, hcx - hw * 0.42, top + hh * 0.1, hcx + hw * 0.42, top + hh * 0.2, fill=accent)
    ellipse(
        d, hcx + f * hw * 0.05, top + hh * 0.24, hw * 0.88, hh * 0.085, fill=colour, outline=INK, width=ow
    )


def _hair(
    d, idn, hcx, top, hw, hh, rx, f, hairc, accent, second, ow, hat_override=None, hat_style=None
) -> None:
    """Hair or the identity's hat; ``f`` is the profile direction (0 front)."""
    style = idn.hair
    ox = -f * rx * 0.1
    cap_rx = (rx if f else hw / 2) * 1.08

    def back_hair():  # under a hat: in profile only the back of the head shows hair
        if f:
            start, end = (100, 235) if f > 0 else (305, 440)
            chord(d, hcx, top + hh * 0.5, rx * 1.04, hh * 0.52, start, end, fill=hairc, outline=INK, width=ow)
        elif style != "bald":
            chord(d, hcx + ox, top + hh * 0.4, cap_rx, hh * 0.42, 180, 360, fill=hairc, outline=INK, width=ow)

    if hat_override is not None:
        back_hair()
        _hat(d, hcx, top, hw, hh, f, hat_override, accent, ow, hat_style)
        return
    if style == "bald":
        for sgn in (-1, 1) if not f else (-f,):
            ellipse(
                d, hcx + sgn * rx * (0.92 if not f else 0.5), top + hh * 0.5, hw * 0.07, hh * 0.12,
                fill=hairc, outline=INK, width=ow * 0.7,
            )
        return
    if style in ("cap", "beanie"):
        if style == "cap":
            back_hair()
            chord(
                d, hcx + ox, top + hh * 0.4, cap_rx * 0.98, hh * 0.48, 180, 360, fill=accent, outline=INK,
                width=ow,
            )
            if f:
                ellipse(
                    d, hcx + f * rx * 0.95, top + hh * 0.38, hw * 0.4, hh * 0.055, fill=darker(accent, 0.25),
                    outline=INK, width=ow,
                )
            else:
                ellipse(
                    d, hcx, top + hh * 0.39, hw * 0.56, hh * 0.07, fill=darker(accent, 0.25), outline=INK,
                    width=ow,
                )
        else:
            back_hair()
            chord(
                d, hcx + ox, top + hh * 0.4, cap_rx * 1.02, hh * 0.56, 180, 360, fill=accent, outline=INK,
                width=ow,
            )
            rect(
                d, hcx + ox - cap_rx * 1.02, top + hh * 0.27, hcx + ox + cap_rx * 1.02, top + hh * 0.42,
                fill=darker(accent, 0.2), outline=INK, width=ow, radius=hh * 0.05,
            )
            ellipse(d, hcx + ox, top - hh * 0.17, hh * 0.09, hh * 0.09, fill=accent, outline=INK, width=ow)
        return
    if style == "hat":
        back_hair()
        _hat(d, hcx, top, hw, hh, f, darker(second, 0.1), accent, ow, None)
        return
    if style == "curly":
        for i in range(9):
            t = math.pi + math.pi * i / 8
            x = hcx + ox + cap_rx * 0.95 * math.cos(t)
            y = top + hh * 0.4 + hh * 0.42 * math.sin(t)
            ellipse(d, x, y, hh * 0.14, hh * 0.14, fill=hairc, outline=INK, width=ow)
        chord(d, hcx + ox, top + hh * 0.4, cap_rx * 0.92, hh * 0.38, 180, 360, fill=hairc)
        return
    chord(d, hcx + ox, top + hh * 0.38, cap_rx, hh * 0.42, 180, 360, fill=hairc, outline=INK, width=ow)
    if f:  # the hair falls to the nape
        start, end = (90, 200) if f > 0 else (340, 450)
        chord(
            d, hcx + ox * 0.5, top + hh * 0.45, rx * 1.03, hh * 0.48, start, end, fill=hairc, outline=INK,
            width=ow,
        )
    if style == "spiky":
        for i in range(5):
            x = hcx + ox + (i - 2) * cap_rx * 0.36
            y = top + hh * 0.05 + abs(i - 2) * hh * 0.05
            poly(d, [
                (x - hh * 0.08, y + hh * 0.06), (x + hh * 0.02, y - hh * 0.16),
                (x + hh * 0.08, y + hh * 0.06),
            ], fill=hairc, outline=INK, width=ow)
    if not f and style in ("short", "spiky", "long", "bob", "bun", "ponytail"):  # a parting
        d.line(
            [(hcx - hw * 0.12, top + hh * 0.02), (hcx - hw * 0.2, top + hh * 0.3)], fill=darker(hairc, 0.4),
            width=max(1, round(ow)),
        )


# --- props --------------------------------------------------------------------------------------------------

_PROPS: tuple[tuple[str, str], ...] = (
    ("gun", r"guns?|pistols?|revolvers?|rifles?|shotguns?|firearms?|handguns?|musket|blaster"),
    ("sword", r"swords?|knife|knives|daggers?|blades?|machete|sabre|saber|scalpel|axe"),
    ("phone", r"phones?|smartphone|cellphone|mobile|iphone|tablet|walkie-talkie|radio"),
    ("book", r"books?|journal|diary|notebook|bible|ledger|novel|manuscript|album|logbook"),
    ("lamp", r"lamps?|lanterns?|torch|candles?|flashlight|candlestick"),
    ("cup", r"cups?|mugs?|coffee|tea|teacup|glass|goblet|chalice|wine|drink"),
    ("bottle", r"bottles?|flask|vial|potion|whisky|whiskey|beer|jar"),
    ("key", r"keys?|keycard"),
    ("car", r"cars?|truck|van|taxi|cab|jeep|bus|motorcycle|motorbike|vehicle|sedan|limo|limousine"),
    (
        "letter",
        r"letters?|envelope|note|notes|message|telegram|postcard|invitation|documents?|papers?|"
        r"contract|photos?|photograph|map|file|folder|ticket|newspaper|page",
    ),
    ("bag", r"bag|suitcase|briefcase|case|backpack|satchel|purse|luggage|handbag"),
    ("box", r"box|crate|chest|package|parcel|safe|trunk|casket|coffin"),
    ("clock", r"clock|watch|timer|stopwatch|hourglass"),
    ("ring", r"rings?|necklace|jewel|gem|diamond|pendant|locket|amulet|bracelet|coins?|medal"),
    ("camera", r"camera|camcorder|binoculars|telescope"),
    ("money", r"money|cash|banknotes?|bills|dollars|wallet"),
    ("flower", r"flowers?|rose|roses|bouquet|lily|tulip"),
    ("boat", r"boats?|rowboat|canoe|kayak|dinghy|raft|yacht|skiff|sailboat"),
)


@functools.lru_cache(maxsize=1024)
def prop_kind(name) -> str:
    """The icon a prop is drawn as: the keyword found last in its name wins (the head noun: "car keys")."""
    s = clean(name).lower()
    best, at = "generic", -1
    for kind, pat in _PROPS:
        for m in re.finditer(rf"\b(?:{pat})\b", s):
            if m.start() > at:
                best, at = kind, m.start()
    return best


def draw_prop(
    d, name: str, cx: float, cy: float, size: float, *, dim=None, lw: float | None = None, label_font=None,
    shadow: bool = True,
) -> None:
    """Draw prop ``name`` as a simple icon filling about ``size`` pixels square, centred on (cx, cy)."""
    kind = prop_kind(name)
    idn = ident(name, "prop")
    low = clean(name).lower()
    s = size
    ow = lw if lw is not None else max(1.0, min(6.0, s / 90))

    def col(c):
        return mix(c, dim[0], dim[1]) if dim else c

    main, acc = col(idn.palette[0]), col(idn.palette[1])
    metal = col(mix((78, 80, 86), idn.palette[0], 0.15))
    paper = col((236, 230, 212))
    ink = col(INK)

    def P(*pts):  # noqa: N802 - unit coordinates to pixels
        return [(cx + x * s, cy + y * s) for x, y in pts]

    def R(x0, y0, x1, y1, fill, r=0.0, outline=ink):  # noqa: N802
        rect(
            d, cx + x0 * s, cy + y0 * s, cx + x1 * s, cy + y1 * s, fill=fill, outline=outline, width=ow,
            radius=r * s,
        )

    def E(x, y, rx, ry, fill, outline=ink):  # noqa: N802
        ellipse(d, cx + x * s, cy + y * s, rx * s, ry * s, fill=fill, outline=outline, width=ow)

    if shadow:
        ellipse(d, cx, cy + s * 0.38, s * 0.4, s * 0.045, fill=(0, 0, 0, 40))
    if kind == "gun":
        R(-0.3, -0.16, 0.42, -0.02, metal, 0.02)
        R(-0.3, -0.2, 0.3, -0.12, darker(metal, 0.2), 0.02)
        poly(
            d, P((-0.28, -0.03), (-0.06, -0.03), (-0.12, 0.34), (-0.38, 0.31)), fill=darker(main, 0.35),
            outline=ink, width=ow,
        )
        arc(d, cx + 0.0 * s, cy + 0.02 * s, 0.09 * s, 0.1 * s, 0, 180, ink, ow * 1.5)
        d.line(P((0.0, -0.02), (0.02, 0.07)), fill=ink, width=max(1, round(ow * 1.5)))
    elif kind == "sword":
        short = bool(re.search(r"knife|knives|dagger|scalpel", low))
        k = 0.62 if short else 1.0
        ang = math.radians(-40)
        ca, sa = math.cos(ang), math.sin(ang)

        def T(*pts):  # noqa: N802 - rotated
            return [(cx + (x * ca - y * sa) * s, cy + (x * sa + y * ca) * s) for x, y in pts]

        poly(
            d, T((0, -0.5 * k), (0.05, -0.4 * k), (0.05, 0.16), (-0.05, 0.16), (-0.05, -0.4 * k)),
            fill=col((206, 210, 216)), outline=ink, width=ow,
        )
        d.line(T((0, -0.42 * k), (0, 0.14)), fill=col((150, 154, 160)), width=max(1, round(ow)))
        poly(
            d, T((-0.2, 0.16), (0.2, 0.16), (0.2, 0.22), (-0.2, 0.22)), fill=col((190, 150, 60)), outline=ink,
            width=ow,
        )
        poly(
            d, T((-0.035, 0.22), (0.035, 0.22), (0.035, 0.4), (-0.035, 0.4)), fill=darker(main, 0.3),
            outline=ink, width=ow,
        )
        ((px, py),) = T((0, 0.44))
        ellipse(d, px, py, 0.05 * s, 0.05 * s, fill=col((190, 150, 60)), outline=ink, width=ow)
    elif kind == "phone":
        R(-0.19, -0.4, 0.19, 0.4, col((40, 40, 46)), 0.05)
        R(-0.16, -0.34, 0.16, 0.32, col((176, 206, 232)), 0.02)
        R(-0.05, -0.38, 0.05, -0.365, col((20, 20, 22)), 0.0, outline=None)
        for i in range(3):
            R(
                -0.12, -0.26 + i * 0.1, 0.1 - i * 0.05, -0.22 + i * 0.1, col((120, 150, 180)), 0.01,
                outline=None,
            )
    elif kind == "book":
        poly(
            d, P((0.28, -0.36), (0.35, -0.31), (0.35, 0.41), (0.28, 0.38)), fill=paper, outline=ink, width=ow
        )
        poly(d, P((-0.3, 0.38), (0.28, 0.38), (0.35, 0.41), (-0.23, 0.41)), fill=paper, outline=ink, width=ow)
        R(-0.3, -0.38, 0.28, 0.38, main, 0.02)
        R(-0.3, -0.38, -0.22, 0.38, darker(main, 0.3), 0.0)
        R(-0.12, -0.22, 0.18, -0.1, acc, 0.0)
        R(-0.08, 0.0, 0.14, 0.03, darker(main, 0.3), 0.0, outline=None)
    elif kind == "lamp":
        if re.search(r"candle", low):
            E(0, -0.2, 0.1, 0.14, LIGHT + (90,), outline=None)
            R(-0.07, -0.1, 0.07, 0.32, col((240, 232, 210)), 0.01)
            poly(
                d, P((0, -0.32), (0.04, -0.18), (0, -0.12), (-0.04, -0.18)), fill=col((250, 180, 70)),
                outline=ink, width=ow,
            )
            E(0, 0.33, 0.2, 0.05, metal)
        elif re.search(r"\blamp", low) and not re.search(
            r"oil|lantern|hurricane|storm|paraffin|kerosene", low
        ):
            d.line(P((0, -0.1), (0, 0.32)), fill=ink, width=max(1, round(ow * 2.5)))
            E(0, 0.35, 0.18, 0.05, darker(main, 0.3))
            E(0, 0.02, 0.3, 0.16, LIGHT + (70,), outline=None)
            poly(
                d, P((-0.14, -0.4), (0.14, -0.4), (0.27, -0.08), (-0.27, -0.08)), fill=main, outline=ink,
                width=ow,
            )
        elif re.search(r"flashlight|torch", low):
            poly(d, P((0.1, -0.06), (0.5, -0.3), (0.5, 0.3), (0.1, 0.06)), fill=LIGHT + (90,))
            R(-0.4, -0.06, 0.02, 0.06, metal, 0.02)
            R(0.0, -0.09, 0.1, 0.09, darker(metal, 0.2), 0.02)
        else:  # lantern
            E(0, 0.02, 0.34, 0.34, LIGHT + (70,), outline=None)
            arc(d, cx, cy - s * 0.36, s * 0.1, s * 0.08, 180, 360, ink, ow * 1.5)
            poly(
                d, P((-0.18, -0.22), (0.18, -0.22), (0.1, -0.34), (-0.1, -0.34)), fill=metal, outline=ink,
                width=ow,
            )
            R(-0.15, -0.22, 0.15, 0.24, col((255, 226, 150)), 0.02)
            for x in (-0.15, 0.0, 0.15):
                d.line(P((x, -0.22), (x, 0.24)), fill=ink, width=max(1, round(ow)))
            poly(d, P((0, -0.1), (0.05, 0.05), (0, 0.12), (-0.05, 0.05)), fill=col((250, 170, 60)))
            R(-0.2, 0.24, 0.2, 0.32, metal, 0.02)
    elif kind == "cup":
        if re.search(r"wine|glass|goblet|chalice", low):
            chord(
                d, cx, cy - s * 0.2, s * 0.2, s * 0.22, 0, 180,
                fill=col((150, 30, 50)) if "wine" in low else col((210, 226, 232)), outline=ink, width=ow,
            )
            arc(d, cx, cy - s * 0.2, s * 0.2, s * 0.22, 180, 360, ink, ow)
            d.line(P((0, 0.02), (0, 0.3)), fill=ink, width=max(1, round(ow * 1.6)))
            E(0, 0.32, 0.14, 0.04, col((210, 226, 232)))
        else:
            arc(d, cx + s * 0.22, cy + s * 0.04, s * 0.12, s * 0.12, 270, 90, ink, s * 0.06)
            R(-0.24, -0.2, 0.22, 0.3, main, 0.06)
            R(-0.12, -0.02, 0.1, 0.1, acc, 0.0, outline=None)
            for i in range(3):
                x = -0.1 + i * 0.1
                d.line(
                    P((x, -0.26), (x + 0.03, -0.33), (x, -0.4)), fill=(120, 120, 120, 160),
                    width=max(1, round(ow)), joint="curve",
                )
    elif kind == "bottle":
        R(-0.16, -0.12, 0.16, 0.42, col((70, 110, 70)) if "potion" not in low else main, 0.06)
        R(-0.06, -0.38, 0.06, -0.1, col((70, 110, 70)) if "potion" not in low else main, 0.02)
        R(-0.07, -0.44, 0.07, -0.37, darker(main, 0.3), 0.01)
        R(-0.13, 0.05, 0.13, 0.25, paper, 0.0)
        R(-0.08, 0.11, 0.08, 0.14, acc, 0.0, outline=None)
    elif kind == "key":
        ang = math.radians(-20)
        ca, sa = math.cos(ang), math.sin(ang)

        def T(*pts):  # noqa: N802
            return [(cx + (x * ca - y * sa) * s, cy + (x * sa + y * ca) * s) for x, y in pts]

        gold = col((198, 164, 70))
        poly(
            d, T((-0.16, -0.04), (0.44, -0.04), (0.44, 0.04), (-0.16, 0.04)), fill=gold, outline=ink, width=ow
        )
        for x0 in (0.26, 0.36):
            poly(
                d, T((x0, 0.04), (x0 + 0.06, 0.04), (x0 + 0.06, 0.14), (x0, 0.14)), fill=gold, outline=ink,
                width=ow,
            )
        ((bx, by),) = T((-0.26, 0))
        ellipse(d, bx, by, s * 0.17, s * 0.17, fill=gold, outline=ink, width=ow)
        ellipse(d, bx, by, s * 0.06, s * 0.06, fill=PAPER, outline=ink, width=ow)
    elif kind == "car":
        poly(
            d,
            P(
                (-0.46, 0.16), (-0.46, -0.02), (-0.3, -0.06), (-0.16, -0.24), (0.18, -0.24), (0.3, -0.06),
                (0.46, -0.02), (0.46, 0.16),
            ),
            fill=main,
            outline=ink,
            width=ow,
        )
        poly(
            d, P((-0.13, -0.2), (0.0, -0.2), (0.0, -0.06), (-0.25, -0.06)), fill=col((196, 214, 226)),
            outline=ink, width=ow,
        )
        poly(
            d, P((0.03, -0.2), (0.16, -0.2), (0.26, -0.06), (0.03, -0.06)), fill=col((196, 214, 226)),
            outline=ink, width=ow,
        )
        for x in (-0.28, 0.28):
            E(x, 0.16, 0.1, 0.1, col((36, 36, 40)))
            E(x, 0.16, 0.04, 0.04, col((170, 170, 176)))
        R(0.4, -0.01, 0.46, 0.04, LIGHT, 0.0)
    elif kind == "letter":
        if re.search(r"\bmap\b", low):
            poly(
                d,
                P(
                    (-0.42, -0.28), (-0.14, -0.24), (0.14, -0.3), (0.42, -0.26), (0.42, 0.3), (0.14, 0.26),
                    (-0.14, 0.32), (-0.42, 0.28),
                ),
                fill=paper,
                outline=ink,
                width=ow,
            )
            for x in (-0.14, 0.14):
                d.line(P((x, -0.27), (x, 0.29)), fill=(170, 160, 140), width=max(1, round(ow)))
            d.line(
                P((-0.32, 0.18), (-0.15, 0.05), (0.05, 0.1), (0.22, -0.1)), fill=col((170, 50, 40)),
                width=max(1, round(ow * 1.4)),
            )
            d.line(P((0.2, -0.18), (0.3, -0.08)), fill=col((170, 50, 40)), width=max(1, round(ow * 2)))
            d.line(P((0.3, -0.18), (0.2, -0.08)), fill=col((170, 50, 40)), width=max(1, round(ow * 2)))
        elif re.search(r"photo", low):
            R(-0.36, -0.28, 0.36, 0.28, col((250, 250, 246)), 0.0)
            R(-0.3, -0.22, 0.3, 0.18, col((150, 160, 168)), 0.0)
            poly(
                d, P((-0.3, 0.18), (-0.1, -0.05), (0.05, 0.08), (0.15, 0.0), (0.3, 0.18)),
                fill=col((96, 104, 110)),
            )
            E(0.18, -0.12, 0.04, 0.04, col((230, 230, 220)), outline=None)
        elif re.search(r"envelope|letter|invitation|postcard|telegram", low):
            R(-0.42, -0.27, 0.42, 0.27, paper, 0.01)
            d.line(P((-0.42, -0.27), (0, 0.04), (0.42, -0.27)), fill=ink, width=max(1, round(ow)))
            R(0.26, -0.22, 0.36, -0.1, acc, 0.0)
            E(0, 0.05, 0.06, 0.06, col((160, 30, 36)))
        else:
            R(-0.3, -0.4, 0.3, 0.4, paper, 0.0)
            for i in range(7):
                w = 0.44 if i % 3 != 2 else 0.28
                d.line(
                    P((-0.22, -0.28 + i * 0.1), (-0.22 + w, -0.28 + i * 0.1)), fill=(150, 146, 138),
                    width=max(1, round(ow)),
                )
    elif kind == "bag":
        arc(d, cx, cy - s * 0.2, s * 0.12, s * 0.1, 180, 360, ink, s * 0.04)
        R(-0.4, -0.2, 0.4, 0.3, darker(main, 0.2), 0.04)
        d.line(P((-0.4, -0.04), (0.4, -0.04)), fill=ink, width=max(1, round(ow)))
        for x in (-0.25, 0.21):
            R(x, -0.07, x + 0.05, -0.01, col((200, 170, 80)), 0.0)
    elif kind == "clock":
        if re.search(r"watch", low):
            R(-0.1, -0.44, 0.1, 0.44, darker(main, 0.3), 0.03)
        E(0, 0, 0.3, 0.3, col((200, 170, 80)))
        E(0, 0, 0.25, 0.25, paper)
        for i in range(12):
            a = i * math.pi / 6
            d.line(
                P((0.2 * math.cos(a), 0.2 * math.sin(a)), (0.24 * math.cos(a), 0.24 * math.sin(a))), fill=ink,
                width=max(1, round(ow)),
            )
        d.line(P((0, 0), (0, -0.17)), fill=ink, width=max(1, round(ow * 1.6)))
        d.line(P((0, 0), (0.12, 0.05)), fill=ink, width=max(1, round(ow * 1.6)))
    elif kind == "ring":
        gold = col((204, 166, 60))
        if re.search(r"coin|medal", low):
            E(0, 0, 0.3, 0.3, gold)
            E(0, 0, 0.22, 0.22, lighter(gold, 0.2))
        elif re.search(r"necklace|pendant|locket|amulet", low):
            arc(d, cx, cy - s * 0.12, s * 0.3, s * 0.3, 200, 340, gold, ow * 2)
            arc(d, cx, cy - s * 0.1, s * 0.3, s * 0.32, 0, 180, gold, ow * 2)
            E(0, 0.26, 0.1, 0.12, acc)
        else:
            arc(d, cx, cy + s * 0.05, s * 0.26, s * 0.22, 0, 360, ink, ow * 1)
            arc(d, cx, cy + s * 0.05, s * 0.25, s * 0.21, 0, 360, gold, s * 0.06)
            poly(
                d, P((0, -0.32), (0.1, -0.22), (0, -0.12), (-0.1, -0.22)), fill=col((170, 214, 236)),
                outline=ink, width=ow,
            )
    elif kind == "camera":
        R(-0.4, -0.2, 0.4, 0.26, col((46, 46, 50)), 0.04)
        R(-0.24, -0.3, -0.02, -0.2, col((46, 46, 50)), 0.02)
        E(0.04, 0.04, 0.17, 0.17, col((90, 90, 96)))
        E(0.04, 0.04, 0.1, 0.1, col((150, 180, 210)))
        R(0.24, -0.16, 0.34, -0.1, acc, 0.0)
    elif kind == "money":
        for i in range(3):
            R(
                -0.38 + i * 0.03, -0.16 + i * 0.06, 0.34 + i * 0.03, 0.12 + i * 0.06, col((150, 184, 140)),
                0.01,
            )
        E(-0.0, 0.14, 0.07, 0.07, col((110, 150, 100)))
    elif kind == "boat":
        poly(d, P((-0.46, 0.02), (0.46, 0.02), (0.34, 0.2), (-0.36, 0.2)), fill=main, outline=ink, width=ow)
        R(-0.46, 0.0, 0.46, 0.05, darker(main, 0.3), 0.0)
        if re.search(r"sail|yacht", low):
            d.line(P((0.0, 0.02), (0.0, -0.44)), fill=ink, width=max(1, round(ow * 1.5)))
            poly(d, P((0.02, -0.42), (0.3, -0.02), (0.02, -0.02)), fill=paper, outline=ink, width=ow)
        else:
            for x in (-0.2, 0.16):
                d.line(
                    P((x, 0.02), (x - 0.16, -0.14)), fill=col((130, 100, 70)), width=max(1, round(ow * 1.8))
                )
        for x in (-0.2, 0.0, 0.2):
            d.line(P((x - 0.04, 0.26), (x + 0.04, 0.26)), fill=(90, 120, 170, 160), width=max(1, round(ow)))
    elif kind == "flower":
        d.line(
            P((0, 0.42), (0.02, 0.0), (0, -0.12)), fill=col((60, 120, 60)), width=max(1, round(ow * 2)),
            joint="curve",
        )
        E(0.1, 0.2, 0.09, 0.04, col((80, 140, 70)))
        for i in range(6):
            a = i * math.pi / 3
            E(0.11 * math.cos(a), -0.2 + 0.11 * math.sin(a), 0.09, 0.09, main)
        E(0, -0.2, 0.06, 0.06, col((230, 190, 70)))
    else:
        box = kind == "box" and bool(re.search(r"chest|trunk", low))
        poly(
            d, P((-0.34, -0.18), (-0.2, -0.3), (0.42, -0.3), (0.3, -0.18)), fill=lighter(main, 0.25),
            outline=ink, width=ow,
        )
        poly(
            d, P((0.3, -0.18), (0.42, -0.3), (0.42, 0.26), (0.3, 0.38)), fill=darker(main, 0.25), outline=ink,
            width=ow,
        )
        R(-0.34, -0.18, 0.3, 0.38, main, 0.0)
        if box:
            d.line(P((-0.34, -0.04), (0.3, -0.04)), fill=ink, width=max(1, round(ow)))
            R(-0.06, -0.08, 0.02, 0.02, col((200, 170, 80)), 0.0)
        elif kind == "box":
            d.line(P((-0.02, -0.18), (-0.02, 0.38)), fill=acc, width=max(1, round(s * 0.04)))
        else:
            R(-0.28, 0.02, 0.24, 0.22, paper, 0.0)
            fnt = label_font or font(s * 0.075, "cond")
            d.text(
                (cx - s * 0.02, cy + s * 0.12), ellipsize(fnt, clean(name).upper() or "PROP", s * 0.48),
                font=fnt, fill=INK, anchor="mm",
            )
