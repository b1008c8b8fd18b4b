"""The storyboard as a printable PDF: landscape A4 (or US Letter) pages drawn with Pillow at 150 dpi.

Page 1 is the title page: the chosen treatment's title and logline, running time, aspect, shot and scene
counts, tone, date, the opening frame and a scene index with the page each scene starts on. Then the board: a
grid of shot panels per page (3 rows x 2 for 16:9, 2 x 3 for 9:16, 2 x 2 for 1:1), each with its label
(scene.shot and the film's shot number), the first and last keyframes side by side (the camera move drawn over
the first one, as board artists do: an arrow for pans and tilts, the end frame for push-ins, the start frame
for pull-outs), the framing, camera move, length and transition out, the action and the dialogue (SPEAKER:
line). Each scene opens with its heading in a band; a scene that runs on to a new page repeats it as (CONT'D).

Pages are RGB images that Pillow's PDF writer stores as JPEG (quality 85, 4:4:4 so text stays clean), so a
40-shot board stays a few megabytes; they are drawn and written six at a time (appended to the PDF), so memory
does not grow with the film. Fonts are DejaVu Sans (or Liberation Sans) when installed, else Pillow's
own.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from storyreel.errors import InputError
from storyreel.film.models import Film, Scene, Shot
from storyreel.store import files

DPI = 150
PAPER = {"a4": (297 / 25.4, 210 / 25.4), "letter": (11.0, 8.5)}  # landscape, inches
GRID = {"16:9": (3, 2), "9:16": (2, 3), "1:1": (2, 2)}  # rows, columns
JPEG_QUALITY = 85
BATCH = 6  # pages drawn and written at a time

WHITE = (255, 255, 255)
INK = (28, 28, 30)
SOFT = (96, 96, 100)
FAINT = (150, 150, 154)
RULE = (208, 208, 212)
BAND = (238, 238, 234)
ACCENT = (200, 40, 48)  # board red: camera moves, transitions
MISSING = (244, 244, 242)

_FONT_FILES = {
    "regular": ("dejavu/DejaVuSans.ttf", "liberation/LiberationSans-Regular.ttf"),
    "bold": ("dejavu/DejaVuSans-Bold.ttf", "liberation/LiberationSans-Bold.ttf"),
    "italic": ("dejavu/DejaVuSans-Oblique.ttf", "liberation/LiberationSans-Italic.ttf"),
    "cond": ("dejavu/DejaVuSansCondensed-Bold.ttf", "liberation/LiberationSansNarrow-Bold.ttf"),
}
_FONT_DIRS = ("/usr/share/fonts/truetype", "/usr/local/share/fonts", "/usr/share/fonts")


def px(pt: float) -> int:
    """Points to pixels at DPI."""
    return int(round(pt * DPI / 72.0))


@lru_cache(maxsize=64)
def font(pt: float, style: str = "regular"):
    size = max(6, px(pt))
    for rel in _FONT_FILES.get(style, _FONT_FILES["regular"]):
        for base in _FONT_DIRS:
            p = Path(base) / rel
            if p.is_file():
                try:
                    return ImageFont.truetype(str(p), size, layout_engine=ImageFont.Layout.BASIC)
                except OSError:
                    continue
    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def _clean(text) -> str:
    """Drawable text: control characters and astral-plane symbols (no font has them) dropped."""
    return "".join(ch for ch in str(text or "") if ch in "\n" or (ord(ch) >= 32 and ord(ch) < 0x10000
                                                                  and not 0x7F <= ord(ch) < 0xA0))


def _w(fnt, s: str) -> float:
    return fnt.getlength(s) if s else 0.0


def ellipsize(fnt, s: str, avail: float) -> str:
    s = _clean(s).replace("\n", " ")
    if _w(fnt, s) <= avail:
        return s
    lo, hi = 0, len(s)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _w(fnt, s[:mid].rstrip() + "…") <= avail:
            lo = mid
        else:
            hi = mid - 1
    return (s[:lo].rstrip() + "…") if lo else ""


def wrap(text: str, fnt, width: float, max_lines: int, first_indent: float = 0.0) -> list[str]:
    """Word-wrap into at most max_lines; the last line is ellipsised when text is left over."""
    words = _clean(text).split()
    lines: list[str] = []
    cur = ""
    avail = width - first_indent
    i = 0
    while i < len(words):
        word = words[i]
        trial = f"{cur} {word}" if cur else word
        if _w(fnt, trial) <= avail:
            cur, i = trial, i + 1
            continue
        if not cur:  # a word longer than the line: break it
            cut = max(1, len(ellipsize(fnt, word, avail).rstrip("…")))
            cur, words[i] = word[:cut], word[cut:]
        lines.append(cur)
        cur, avail = "", width
        if len(lines) == max_lines:
            break
    if cur and len(lines) < max_lines:
        lines.append(cur)
        cur = ""
    if lines and (i < len(words) or cur):
        rest = " ".join([cur, *words[i:]]).strip()
        lines[-1] = ellipsize(fnt, lines[-1] + " " + rest, width if len(lines) > 1 else avail)
    return lines


# --- data -------------------------------------------------------------------------------------------------


@dataclass
class Panel:
    shot: Shot
    scene: Scene | None
    label: str
    first: Path | None
    last: Path | None
    dialogue: list[tuple[str, str]]


def _panels(film: Film, project_dir: Path) -> list[Panel]:
    scenes = {s.id: s for s in film.scenes or []}
    lines = {d.id: d for d in film.dialogue_lines()}
    out = []
    for shot in film.shots or []:
        sc = scenes.get(shot.scene_id)
        dialogue = []
        for lid in shot.dialogue:
            d = lines.get(lid)
            if d is None:
                continue
            who = " ".join(d.character.split()).upper()
            who += f" ({d.extension.strip('()')})" if d.extension else ""
            text = (f"({d.parenthetical.strip('()')}) " if d.parenthetical else "") + " ".join(d.text.split())
            dialogue.append((who, text))
        label = f"{(sc.index + 1) if sc else 0}.{shot.index + 1}"
        out.append(Panel(shot, sc, label, _image(project_dir, shot.first_frame),
                         _image(project_dir, shot.last_frame), dialogue))
    return out


def _image(project_dir: Path, kf) -> Path | None:
    if kf is None or not kf.image:
        return None
    try:
        p = files.inside(project_dir, kf.image)
    except InputError:
        return None
    return p if p.is_file() else None


def _thumb(path: Path | None, w: int, h: int) -> Image.Image | None:
    if path is None:
        return None
    try:
        with Image.open(path) as im:
            im.draft("RGB", (w, h))  # JPEG keyframes decode at a fraction of their size
            im = ImageOps.exif_transpose(im).convert("RGB")
            if im.width > 2 * w:
                im = im.reduce(max(1, im.width // (2 * w)))
            return ImageOps.fit(im, (w, h), Image.Resampling.LANCZOS)
    except (OSError, ValueError, Image.DecompressionBombError):
        return None


def _fmt_time(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}:{s % 60:02d}"


def film_duration(film: Film) -> float:
    if film.cut and film.cut.duration:
        return float(film.cut.duration)
    shots = film.shots or []
    if shots:
        crossfades = sum(1 for s in shots[:-1] if s.transition == "crossfade")
        return sum(s.duration for s in shots) - 0.5 * crossfades
    return float(film.inputs.duration)


# --- page layout ------------------------------------------------------------------------------------------


class Page:
    def __init__(self, size: tuple[int, int]):
        self.img = Image.new("RGB", size, WHITE)
        self.d = ImageDraw.Draw(self.img)
        self.W, self.H = size
        self.M = px(34)  # ~12 mm margins


class Layout:
    """Geometry of the board pages for a page size and aspect ratio."""

    def __init__(self, size: tuple[int, int], aspect: str):
        self.W, self.H = size
        self.M = px(34)
        self.header_h = px(30)
        self.footer_h = px(16)
        self.top = self.M + self.header_h
        self.bottom = self.H - self.M - self.footer_h
        self.content_w = self.W - 2 * self.M
        self.band_h = px(21)
        self.rows, self.cols = GRID.get(aspect, GRID["16:9"])
        aw, ah = (int(v) for v in aspect.split(":")) if aspect in GRID else (16, 9)
        self.gutter_x = px(20)
        self.gutter_y = px(8)
        self.cell_w = (self.content_w - (self.cols - 1) * self.gutter_x) // self.cols
        # room for two scene bands per page, so a short scene does not push the next one to a new page
        self.row_h = (self.bottom - self.top - 2 * self.band_h - self.rows * self.gutter_y) // self.rows
        self.label_h = px(15)
        self.pad = px(4)
        self.side_w = max(px(64), min(px(92), int(self.cell_w * 0.24)))
        self.line_h = px(10.5)
        min_text = 4 * self.line_h + self.pad
        tw_max = (self.cell_w - self.side_w - 2 * self.pad) / 2
        th_max = self.row_h - self.label_h - min_text - self.pad
        self.thumb_w = int(min(tw_max, th_max * aw / ah))
        self.thumb_h = int(round(self.thumb_w * ah / aw))
        self.text_lines = max(2, (self.row_h - self.label_h - self.thumb_h - 2 * self.pad) // self.line_h)


def storyboard(film: Film, project_dir: Path, *, paper: str = "a4", today: date | None = None) -> bytes:
    """The storyboard PDF of the Film, as bytes."""
    if paper not in PAPER:
        raise InputError(f"paper must be one of {', '.join(PAPER)}, got {paper!r}")
    project_dir = Path(project_dir)
    panels = _panels(film, project_dir)
    if not any(p.first or p.last for p in panels):
        raise InputError("the project has no keyframes yet, so there is no storyboard: run it at least until "
                         "'keyframes' first")
    wi, hi = PAPER[paper]
    size = (int(round(wi * DPI)), int(round(hi * DPI)))
    aspect = film.inputs.aspect if film.inputs.aspect in GRID else "16:9"
    lay = Layout(size, aspect)
    plan = _paginate(panels, lay)
    today = today or date.today()
    from storyreel.export.bundle import title_of

    title = title_of(film)
    total = len(plan) + 1
    scene_pages: dict[str, int] = {}
    for n, page_items in enumerate(plan, start=2):
        for kind, data, _ in page_items:
            if kind == "band" and not data[1]:
                scene_pages.setdefault(data[0].id if data[0] else "", n)
    def pages():
        yield _title_page(film, size, title, panels, scene_pages, today, total)
        for n, page_items in enumerate(plan, start=2):
            yield _board_page(film, lay, title, page_items, n, total, today)

    # Pages are drawn and written BATCH at a time (a page is 6.5 MB of pixels at 150 dpi): the first batch
    # makes the PDF, the next ones are appended to it, so a long film's board never holds all its pages.
    buf = io.BytesIO()
    treatment = film.chosen_treatment()
    meta = {"title": f"{title} — storyboard", "author": "storyreel", "creator": "storyreel",
            "subject": (treatment.logline if treatment else "") or film.inputs.prompt[:200],
            "producer": "storyreel (Pillow)"}
    it = pages()
    first = True
    while batch := [p for _, p in zip(range(BATCH), it, strict=False)]:
        buf.seek(0)
        batch[0].save(buf, "PDF", save_all=True, append_images=batch[1:], append=not first,
                      resolution=float(DPI), quality=JPEG_QUALITY, subsampling=0, **(meta if first else {}))
        first = False
    return buf.getvalue()


def _paginate(panels: list[Panel], lay: Layout) -> list[list[tuple[str, object, int]]]:
    """Pages of items (kind, data, height): ('band', (scene, continued, panels), h), ('row', [panels], h)."""
    rows: list[tuple[Scene | None, list[Panel]]] = []
    for p in panels:
        if rows and rows[-1][0] is p.scene and len(rows[-1][1]) < lay.cols:
            rows[-1][1].append(p)
        else:
            rows.append((p.scene, [p]))
    count: dict[int, list[Panel]] = {}
    for p in panels:
        count.setdefault(id(p.scene), []).append(p)
    avail = lay.bottom - lay.top
    row_h = lay.row_h + lay.gutter_y
    pages: list[list] = [[]]
    used = 0
    prev_scene: object = object()
    for scene, row in rows:
        new_scene = scene is not prev_scene
        need = row_h + (lay.band_h if new_scene else 0)
        if pages[-1] and used + need > avail:
            pages.append([])
            used = 0
        if new_scene or not pages[-1]:
            pages[-1].append(("band", (scene, not new_scene, count[id(scene)]), lay.band_h))
            used += lay.band_h
        pages[-1].append(("row", row, row_h))
        used += row_h
        prev_scene = scene
    return [p for p in pages if p]


# --- drawing ---------------------------------------------------------------------------------------------


def _header(pg: Page, title: str, right: str) -> None:
    d, M = pg.d, pg.M
    y = M + px(10)
    tf = font(13, "bold")
    d.text((M, y), ellipsize(tf, title, pg.W * 0.6), font=tf, fill=INK, anchor="ls")
    d.text((pg.W - M, y), right, font=font(9, "bold"), fill=SOFT, anchor="rs")
    d.line([(M, y + px(8)), (pg.W - M, y + px(8))], fill=INK, width=max(1, px(1.2)))


def _footer(pg: Page, left: str, right: str) -> None:
    d, M = pg.d, pg.M
    y = pg.H - M
    d.line([(M, y - px(12)), (pg.W - M, y - px(12))], fill=RULE, width=1)
    d.text((M, y), left, font=font(7.5), fill=FAINT, anchor="ls")
    d.text((pg.W - M, y), right, font=font(7.5), fill=FAINT, anchor="rs")


def _title_page(film: Film, size, title: str, panels: list[Panel], scene_pages: dict[str, int], today: date,
                total: int) -> Image.Image:
    pg = Page(size)
    d, M, W, H = pg.d, pg.M, pg.W, pg.H
    t = film.chosen_treatment()
    lore = film.chosen_lore()
    left_w = int((W - 2 * M) * 0.52)
    d.text((M, M + px(6)), "STORYBOARD", font=font(11, "bold"), fill=ACCENT, anchor="lt")
    y = M + px(30)
    tf = font(34, "bold")
    for line in wrap(title, tf, left_w, 3):
        d.text((M, y), line, font=tf, fill=INK, anchor="lt")
        y += px(40)
    y += px(8)
    logline = (t.logline if t else "") or film.inputs.prompt
    lf = font(14, "italic")
    for line in wrap(logline, lf, left_w, 4):
        d.text((M, y), line, font=lf, fill=SOFT, anchor="lt")
        y += px(19)
    y += px(14)
    d.line([(M, y), (M + left_w, y)], fill=RULE, width=max(1, px(0.8)))
    y += px(12)
    shots = film.shots or []
    scenes = film.scenes or []
    facts = [
        ("Running time", f"{_fmt_time(film_duration(film))}  ({film_duration(film):.1f} s)"),
        ("Aspect", f"{film.inputs.aspect}"),
        ("Scenes / shots", f"{len(scenes)} scenes, {len(shots)} shots"),
        ("Tone", (t.tone if t else "") or (lore.tone if lore else "")),
        ("Date", today.strftime("%d %B %Y").lstrip("0")),
        ("Project", film.name),
    ]
    kf, vf = font(8.5, "bold"), font(11)
    for k, v in facts:
        if not v:
            continue
        d.text((M, y + px(2)), k.upper(), font=kf, fill=FAINT, anchor="lt")
        d.text((M + px(110), y), ellipsize(vf, v, left_w - px(110)), font=vf, fill=INK, anchor="lt")
        y += px(19)
    synopsis = t.synopsis if t else ""
    if synopsis:
        y += px(10)
        sf = font(10)
        for line in wrap(synopsis, sf, left_w, max(0, (H - M - px(40) - y) // px(14))):
            d.text((M, y), line, font=sf, fill=SOFT, anchor="lt")
            y += px(14)
    # right column: the opening frame and the scene index
    x0 = M + left_w + px(36)
    rw = W - M - x0
    opener = next((p.first or p.last for p in panels if p.first or p.last), None)
    ry = M + px(30)
    aw, ah = (int(v) for v in film.inputs.aspect.split(":")) if film.inputs.aspect in GRID else (16, 9)
    ih = min(int(rw * ah / aw), int((H - 2 * M) * 0.48))
    iw = int(ih * aw / ah)
    im = _thumb(opener, iw, ih)
    if im is not None:
        pg.img.paste(im, (x0, ry))
        d.rectangle([x0, ry, x0 + iw - 1, ry + ih - 1], outline=INK, width=max(1, px(0.8)))
        ry += ih + px(16)
    d.text((x0, ry), "SCENES", font=font(8.5, "bold"), fill=FAINT, anchor="lt")
    d.text((W - M, ry), "PAGE", font=font(8.5, "bold"), fill=FAINT, anchor="rt")
    ry += px(16)
    sf, nf = font(9.5, "bold"), font(9.5)
    room = (H - M - px(24) - ry) // px(15)
    for i, sc in enumerate(scenes):
        if i >= room - 1 and len(scenes) > room:
            d.text((x0, ry), f"… and {len(scenes) - i} more", font=nf, fill=SOFT, anchor="lt")
            break
        page = scene_pages.get(sc.id)
        n_shots = sum(1 for s in shots if s.scene_id == sc.id)
        d.text((x0, ry), f"{sc.index + 1}", font=sf, fill=INK, anchor="lt")
        right = f"{n_shots} shot{'s' if n_shots != 1 else ''}   {page if page else '–'}"
        d.text((W - M, ry), right, font=nf, fill=SOFT, anchor="rt")
        heading = ellipsize(sf, sc.outline.heading or f"Scene {sc.index + 1}",
                            rw - px(22) - _w(nf, right) - px(12))
        d.text((x0 + px(22), ry), heading, font=sf, fill=INK, anchor="lt")
        ry += px(15)
    _footer(pg, f"{film.name} · storyreel draft · {today.isoformat()}", f"1 / {total}")
    return pg.img


def _board_page(film: Film, lay: Layout, title: str, items, n: int, total: int, today: date) -> Image.Image:
    pg = Page((lay.W, lay.H))
    _header(pg, title, f"STORYBOARD   {n} / {total}")
    y = lay.top
    for kind, data, h in items:
        if kind == "band":
            _band(pg, lay, y, *data)
        else:
            for c, panel in enumerate(data):
                _panel(pg, lay, lay.M + c * (lay.cell_w + lay.gutter_x), y, panel)
        y += h
    _footer(pg, f"{film.name} · {film.inputs.aspect} · {_fmt_time(film_duration(film))} · storyreel draft · "
            f"{today.isoformat()}", f"{n} / {total}")
    return pg.img


def _band(pg: Page, lay: Layout, y: int, scene: Scene | None, continued: bool, shots: list[Panel]) -> None:
    d = pg.d
    x0, x1 = lay.M, lay.W - lay.M
    h = lay.band_h - px(5)
    d.rectangle([x0, y, x1, y + h], fill=BAND)
    d.rectangle([x0, y, x0 + px(4), y + h], fill=INK)
    cy = y + h // 2
    num = f"SCENE {scene.index + 1}" if scene else "SCENE"
    nf, hf, sf = font(8.5, "bold"), font(11, "bold"), font(9, "italic")
    d.text((x0 + px(11), cy), num, font=nf, fill=ACCENT, anchor="lm")
    x = x0 + px(11) + _w(nf, num) + px(10)
    heading = (scene.outline.heading if scene else "") or "UNTITLED SCENE"
    heading = " ".join(heading.split()).upper() + (" (CONT'D)" if continued else "")
    secs = sum(p.shot.duration for p in shots)
    meta = f"{len(shots)} shot{'s' if len(shots) != 1 else ''} · {secs:.1f} s"
    mw = _w(font(8.5), meta)
    d.text((x1 - px(8), cy), meta, font=font(8.5), fill=SOFT, anchor="rm")
    heading = ellipsize(hf, heading, x1 - px(8) - mw - px(16) - x)
    d.text((x, cy), heading, font=hf, fill=INK, anchor="lm")
    x += _w(hf, heading) + px(12)
    summary = scene.outline.summary if scene and not continued else ""
    room = x1 - px(8) - mw - px(16) - x
    if summary and room > px(60):
        d.text((x, cy), ellipsize(sf, summary, room), font=sf, fill=SOFT, anchor="lm")


def _panel(pg: Page, lay: Layout, x: int, y: int, p: Panel) -> None:
    d = pg.d
    shot = p.shot
    # label bar: scene.shot chip, film shot number, length
    lf = font(10, "bold")
    chip = p.label
    cw = int(_w(lf, chip)) + px(10)
    d.rounded_rectangle([x, y, x + cw, y + lay.label_h - px(3)], radius=px(3), fill=INK)
    d.text((x + cw / 2, y + (lay.label_h - px(3)) / 2), chip, font=lf, fill=WHITE, anchor="mm")
    d.text((x + cw + px(6), y + (lay.label_h - px(3)) / 2), f"SHOT {shot.number}", font=font(8, "bold"),
           fill=SOFT, anchor="lm")
    pair_w = 2 * lay.thumb_w + lay.pad
    d.text((x + pair_w, y + (lay.label_h - px(3)) / 2), shot.id, font=font(7), fill=FAINT, anchor="rm")
    # keyframes
    ty = y + lay.label_h
    for k, (path, tag) in enumerate(((p.first, "FIRST"), (p.last, "LAST"))):
        tx = x + k * (lay.thumb_w + lay.pad)
        im = _thumb(path, lay.thumb_w, lay.thumb_h)
        box = [tx, ty, tx + lay.thumb_w - 1, ty + lay.thumb_h - 1]
        if im is None:
            d.rectangle(box, fill=MISSING)
            d.text((tx + lay.thumb_w / 2, ty + lay.thumb_h / 2), "no keyframe", font=font(8, "italic"),
                   fill=FAINT, anchor="mm")
        else:
            pg.img.paste(im, (tx, ty))
            if k == 0:
                _move_overlay(d, box, shot.camera_move)
        d.rectangle(box, outline=INK, width=1)
        tf = font(6.5, "bold")
        tw = _w(tf, tag) + px(6)
        d.rectangle([tx + 1, ty + lay.thumb_h - px(11), tx + 1 + tw, ty + lay.thumb_h - 2], fill=WHITE)
        d.text((tx + 1 + tw / 2, ty + lay.thumb_h - px(6.5)), tag, font=tf, fill=INK, anchor="mm")
    # side column: framing, move, length, transition out
    sx = x + pair_w + px(8)
    sw = x + lay.cell_w - sx
    kf, vf = font(6.5, "bold"), font(9, "bold")
    step = max(px(19), lay.thumb_h // 4)
    out = {"cut": "Cut", "crossfade": "Dissolve", "fade-to-black": "Fade out"}[shot.transition]
    rows = [("FRAMING", shot.framing.capitalize()),
            ("CAMERA", shot.camera_move.replace("-", " ").capitalize()),
            ("LENGTH", f"{shot.duration:.1f} s · {max(1, round(shot.duration * 24))} fr"), ("OUT", out)]
    sy = ty
    for key, val in rows:
        if sy + px(17) > ty + lay.thumb_h + px(2):
            break
        d.text((sx, sy), key, font=kf, fill=FAINT, anchor="lt")
        colour = ACCENT if (key == "OUT" and shot.transition != "cut") or (key == "CAMERA" and
                                                                        shot.camera_move != "static") else INK
        d.text((sx, sy + px(8)), ellipsize(vf, val, sw), font=vf, fill=colour, anchor="lt")
        sy += step
    # action, then dialogue
    yy = ty + lay.thumb_h + lay.pad + px(1)
    width = lay.cell_w
    af, nf, df = font(8.5), font(8.5, "bold"), font(8.5, "italic")
    budget = lay.text_lines
    n_dialogue = sum(1 for _ in p.dialogue)
    action_lines = wrap(shot.action, af, width, max(1, budget - min(n_dialogue, budget // 2)))
    for line in action_lines:
        d.text((x, yy), line, font=af, fill=INK, anchor="lt")
        yy += lay.line_h
    budget -= len(action_lines)
    for k, (who, text) in enumerate(p.dialogue):
        if budget <= 0:
            break
        if budget == 1 and k < len(p.dialogue) - 1:  # no room for all: say so
            left = len(p.dialogue) - k
            d.text((x, yy), f"+ {left} more line{'s' if left > 1 else ''} of dialogue", font=df, fill=SOFT,
                   anchor="lt")
            break
        name = f"{who}: "
        d.text((x, yy), name, font=nf, fill=INK, anchor="lt")
        share = max(1, budget - (len(p.dialogue) - k - 1))
        wl = wrap(f"“{text}”", df, width, min(share, 2), first_indent=_w(nf, name))
        for j, line in enumerate(wl):
            d.text((x + (_w(nf, name) if j == 0 else 0), yy), line, font=df, fill=SOFT, anchor="lt")
            yy += lay.line_h
        budget -= max(1, len(wl))


def _move_overlay(d: ImageDraw.ImageDraw, box: list[int], move: str) -> None:
    """The camera move drawn over the first keyframe in board red."""
    if move == "static":
        return
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    lw = max(2, px(1.4))
    if move in ("push-in", "pull-out"):
        s = 1 / 1.15  # media.video.MOVE_SCALE: the tight frame of the move
        ix0, iy0 = x0 + w * (1 - s) / 2, y0 + h * (1 - s) / 2
        ix1, iy1 = x1 - w * (1 - s) / 2, y1 - h * (1 - s) / 2
        _dashed_rect(d, (ix0, iy0, ix1, iy1), ACCENT, lw)
        corners = ((x0, y0, ix0, iy0), (x1, y0, ix1, iy0), (x0, y1, ix0, iy1), (x1, y1, ix1, iy1))
        for cx, cy, ix, iy in corners:
            a, b = ((cx + (ix - cx) * 0.15, cy + (iy - cy) * 0.15), (ix, iy))
            if move == "pull-out":
                a, b = b, (cx + (ix - cx) * 0.15, cy + (iy - cy) * 0.15)
            _arrow(d, a, b, ACCENT, lw)
        return
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    dx = w * 0.3 if move in ("pan-left", "pan-right") else 0
    dy = h * 0.3 if move in ("tilt-up", "tilt-down") else 0
    if move in ("pan-left", "tilt-up"):
        dx, dy = -dx, -dy
    _arrow(d, (cx - dx, cy - dy), (cx + dx, cy + dy), ACCENT, max(3, px(2.2)), head=px(9))


def _arrow(d, a, b, colour, width: int, head: int | None = None) -> None:
    (ax, ay), (bx, by) = a, b
    ang = math.atan2(by - ay, bx - ax)
    head = head or max(6, width * 3)
    d.line([(ax, ay), (bx - math.cos(ang) * head * 0.6, by - math.sin(ang) * head * 0.6)], fill=colour,
           width=width)
    pts = [(bx, by), (bx - head * math.cos(ang - 0.45), by - head * math.sin(ang - 0.45)),
           (bx - head * math.cos(ang + 0.45), by - head * math.sin(ang + 0.45))]
    d.polygon(pts, fill=colour)


def _dashed_rect(d, box, colour, width: int, dash: int = 8, gap: int = 6) -> None:
    x0, y0, x1, y1 = box
    for (ax, ay), (bx, by) in (((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)),
                               ((x0, y1), (x0, y0))):
        length = math.hypot(bx - ax, by - ay)
        t = 0.0
        while t < length:
            e = min(length, t + dash)
            d.line([(ax + (bx - ax) * t / length, ay + (by - ay) * t / length),
                    (ax + (bx - ax) * e / length, ay + (by - ay) * e / length)], fill=colour, width=width)
            t = e + gap


__all__ = ["storyboard", "PAPER", "GRID", "DPI"]
