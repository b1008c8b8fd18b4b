"""Read and write screenplays in Fountain (https://fountain.io/syntax).

Why our own parser: the PyPI candidates were tried on the Brick & Steel fixture.
`fountain` 0.1.3 does not even import on Python 3 (``re.LOCALE`` on a str pattern); `jouvence` 0.4.2
misses the dual-dialogue cue ``BRICK ^`` (19 dialogue blocks instead of 20, the cue ends up in action);
`screenplain` 0.12.0 gets the fixture's structure right, but it deletes ``[[notes]]`` before parsing
(we keep them), keeps emphasis markers in title-page values, writes HTML, PDF and FDX but not Fountain,
and brings reportlab as a hard dependency. So this module is a small, stdlib-only, line-based parser
plus a writer whose output parses back to the same model.

Choices beyond the spec, all deliberate:

* ``interior`` is "INT", "EXT" (also for EST) or "INT/EXT" (INT./EXT, INT/EXT, I/E, EXT/INT, E/I);
  a forced heading gets one only if its text starts with such a prefix.
* ``time_of_day`` is the last " - " part of a heading when it names a time ("DAY", "LATER"...).
* Sections and synopses written before a heading belong to that scene; notes belong to the scene
  they are written in (those before the first heading go to the first scene).
* Lyrics (``~``) lose their tilde; they stay action (or dialogue inside a dialogue block).
* A character cue may not end with ':' (so "FLASHBACK:" above a line of action stays action).
* An unclosed ``/*`` or ``[[`` runs to the end of the text (the rest is boneyard, or one note).
* ``Scene.number`` keeps a scene number ``#12A#`` and ``Scene.layout`` the order of action
  paragraphs and dialogue blocks, so that ``write`` gives them back in order. The model does not keep
  where a parenthetical stood inside its block, nor centering: ``write`` puts the parenthetical
  under the cue and centered lines come back as (forced, ``!``) action.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from storyreel.errors import InputError

__all__ = ["FountainError", "Line", "Scene", "Screenplay", "parse", "write"]


class FountainError(InputError):
    """The text is not a Fountain screenplay we can read (or a model we cannot write)."""


@dataclass
class Line:
    """One dialogue block."""

    character: str
    extension: str = ""
    parenthetical: str = ""
    text: str = ""
    dual: bool = False


@dataclass
class Scene:
    heading: str = ""
    location: str = ""
    time_of_day: str = ""
    interior: str = ""
    forced: bool = False
    action: str = ""
    dialogue: list[Line] = field(default_factory=list)
    transition: str = ""
    synopses: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    number: str = ""
    layout: list[str] = field(default_factory=list)  # "action" / "dialogue", in the order written


@dataclass
class Screenplay:
    title_page: dict[str, str] = field(default_factory=dict)
    scenes: list[Scene] = field(default_factory=list)
    preamble: str = ""

    def speaking_characters(self) -> list[str]:
        seen: dict[str, str] = {}
        for scene in self.scenes:
            for line in scene.dialogue:
                seen.setdefault(line.character.upper(), line.character)
        return list(seen.values())

    def dialogue_count(self) -> int:
        return sum(len(scene.dialogue) for scene in self.scenes)


_HEADING = re.compile(r"(INT\.?/EXT|EXT\.?/INT|I/E|E/I|INT|EXT|EST)(?=[.\s])", re.IGNORECASE)
_SCENE_NUMBER = re.compile(r"[A-Za-z0-9.\-]+")
_TIME_SPLIT = re.compile(r"(?<!\s)\s+(?:-{1,2}|\u2013|\u2014)\s+")
_TIME_WORDS = frozenset(
    "DAY NIGHT MORNING AFTERNOON EVENING DUSK DAWN SUNSET SUNRISE NOON MIDNIGHT CONTINUOUS LATER "
    "SAME MOMENTS TWILIGHT NIGHTFALL DAYBREAK LATE EARLY MAGIC".split()
)
_TITLE_KEY = re.compile(r"([A-Za-z][A-Za-z0-9 _.'\-]{0,40}?)\s*:\s*(.*)$")
_PAGE_BREAK = re.compile(r"={3,}$")
_CENTERED = re.compile(r">(.*)<$")
_NATURAL_TRANSITION = re.compile(r"[A-Z0-9][A-Z0-9 .,'\-]*TO:")
_NOTE_MARK = re.compile("\x00([0-9]+)\x00")
# The content may not hold the marker itself, which keeps each pass linear; passes repeat for nesting.
_EMPHASIS = [
    re.compile(r"\*\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*\*"),
    re.compile(r"\*\*(?=[^\s*])([^*]+?)(?<=\S)\*\*"),
    re.compile(r"\*(?=[^\s*])([^*]+?)(?<=\S)\*"),
    re.compile(r"(?<!\w)_(?=[^\s_])([^_]+?)(?<=\S)_(?!\w)"),
]


def _strip_emphasis(text: str) -> str:
    if "*" not in text and "_" not in text:
        return text
    text = text.replace("\\*", "\x00\x01").replace("\\_", "\x00\x02")
    for _ in range(8):
        before = text
        for pattern in _EMPHASIS:
            text = pattern.sub(r"\1", text)
        if text == before:
            break
    return text.replace("\x00\x01", "*").replace("\x00\x02", "_")


def _escape(text: str) -> str:
    return text.replace("*", "\\*").replace("_", "\\_")


def _remove_spans(text: str, start: str, end: str, keep: list[str] | None) -> str:
    """Remove start...end spans (linear time); an unclosed start runs to the end of the text."""
    out: list[str] = []
    pos = 0
    while True:
        i = text.find(start, pos)
        if i < 0:
            break
        j = text.find(end, i + len(start))
        if j < 0:
            j = len(text)
        _join(out, text[pos:i])
        if keep is not None:
            out.append(f"\x00{len(keep)}\x00")
            keep.append(text[i + len(start) : j].strip())
        pos = j + len(end)
    _join(out, text[pos:])
    return "".join(out)


def _join(out: list[str], chunk: str) -> None:
    """Append chunk, with a space where removing something in between would make a new '/*' or '[['."""
    if out and out[-1][-1:] + chunk[:1] in ("/*", "[["):
        out.append(" ")
    out.append(chunk)


def _split_heading(text: str) -> tuple[str, str, str]:
    """'INT. BRICK'S PATIO - DAY' -> ('INT', "BRICK'S PATIO", 'DAY')."""
    interior = ""
    match = _HEADING.match(text)
    if match:
        prefix = match.group(1).upper()
        interior = "INT" if prefix == "INT" else "EXT" if prefix in ("EXT", "EST") else "INT/EXT"
        text = text[match.end() :].lstrip(". \t")
    parts = _TIME_SPLIT.split(text)
    if len(parts) > 1 and _TIME_WORDS.intersection(re.findall(r"[A-Z]+", parts[-1].upper())):
        return interior, " - ".join(parts[:-1]).strip(), parts[-1].strip()
    return interior, text.strip(), ""


def _parse_cue(line: str) -> tuple[str, str, bool] | None:
    """A character cue -> (name, extension, dual), or None if the line is not one."""
    forced = line.startswith("@")
    body = line[1:].strip() if forced else line
    dual = body.endswith("^")
    if dual:
        body = body[:-1].rstrip()
    name, paren, rest = body.partition("(")
    name = name.strip()
    extensions: list[str] = []
    if paren:
        rest = "(" + rest
        extensions = [match.strip() for match in re.findall(r"\(([^()]*)\)", rest)]
        if re.sub(r"\(([^()]*)\)", "", rest).strip():
            return None
    if not name or "^" in name:
        return None
    if not forced and (name != name.upper() or not any(c.isalpha() for c in name) or name.endswith(":")):
        return None
    return name, " ".join(e for e in extensions if e), dual


def _is_transition(line: str) -> bool:
    return line.endswith("TO:") and line == line.upper()


def _check(text: object) -> str:
    if not isinstance(text, str):
        raise FountainError(f"a screenplay must be text (str), not {type(text).__name__}")
    if "\x00" in text:
        raise FountainError("the screenplay contains NUL bytes: is it a binary file?")
    text = text.removeprefix("\ufeff")
    if not text.strip():
        raise FountainError("the screenplay is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _title_page(lines: list[str]) -> tuple[dict[str, str], int]:
    """Title-page fields and the number of lines they take (0 when there is no title page)."""
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    block = lines[start:end]
    if not block or _HEADING.match(block[0]) or not _TITLE_KEY.match(block[0]):
        return {}, 0
    fields: dict[str, list[str]] = {}
    key = ""
    for raw in block:
        match = None if raw[:1] in " \t" else _TITLE_KEY.match(raw)
        if match:
            key = match.group(1).strip().lower()
            fields.setdefault(key, [])
            if match.group(2).strip():
                fields[key].append(_strip_emphasis(match.group(2).strip()))
        elif raw.startswith(("\t", "   ")):
            fields[key].append(_strip_emphasis(raw.strip()))
        else:
            return {}, 0
    return {k: "\n".join(v) for k, v in fields.items()}, end


class _Parser:
    def __init__(self, lines: list[str], line_notes: list[list[str]]):
        self.lines = lines
        self.line_notes = line_notes
        self.pre = Scene()
        self.cur = self.pre
        self.pre_items: list[str] = []
        self.scenes: list[Scene] = []
        self.preamble = ""
        self.paragraphs: dict[int, list[str]] = {}
        self.para: list[str] = []
        self.pending_sections: list[str] = []
        self.pending_synopses: list[str] = []

    def flush(self) -> None:
        if self.para:
            text = "\n".join(self.para)
            self.paragraphs.setdefault(id(self.cur), []).append(text)
            self.cur.layout.append("action")
            if self.cur is self.pre:
                self.pre_items.append(text)
            self.para = []

    def finish_scene(self) -> None:
        self.flush()
        self.cur.action = "\n\n".join(self.paragraphs.get(id(self.cur), []))

    def start_scene(self, scene: Scene) -> None:
        self.finish_scene()
        if self.cur is self.pre:
            if self.pre.dialogue:
                self.scenes.append(self.pre)
            else:
                self.preamble = "\n\n".join(self.pre_items)
                scene.synopses.extend(self.pre.synopses)
                scene.notes.extend(self.pre.notes)
        scene.sections.extend(self.pending_sections)
        scene.synopses.extend(self.pending_synopses)
        self.pending_sections, self.pending_synopses = [], []
        self.scenes.append(scene)
        self.cur = scene

    def heading(self, text: str, forced: bool) -> Scene:
        number = ""
        if text.endswith("#") and (start := text.rfind("#", 0, -1)) > 0 and text[start - 1].isspace():
            if _SCENE_NUMBER.fullmatch(text[start + 1 : -1]) and text[:start].strip():
                number, text = text[start + 1 : -1], text[:start].rstrip()
        interior, location, time_of_day = _split_heading(text)
        return Scene(text, location, time_of_day, interior, forced, number=number)

    def run(self) -> Screenplay:
        lines, n = self.lines, len(self.lines)
        prev_blank = True
        i = 0
        while i < n:
            notes = self.line_notes[i]
            raw = lines[i]
            line = raw.strip()
            next_blank = i + 1 >= n or not lines[i + 1].strip()
            i += 1
            if not line or _PAGE_BREAK.match(line):
                self.flush()
                prev_blank = True
            elif line.startswith("!"):
                if line[1:].strip():
                    self.para.append(_strip_emphasis(line[1:].strip()))
                prev_blank = False
            elif line.startswith("#"):
                self.flush()
                self.pending_sections.append(line.lstrip("#").strip())
                prev_blank = True
            elif line.startswith("="):
                self.flush()
                target = self.pending_synopses if self.pending_sections else self.cur.synopses
                target.append(line[1:].strip())
                prev_blank = True
            elif line.startswith("~"):
                if text := _strip_emphasis(line[1:].strip()):
                    self.para.append(text)
                prev_blank = False
            elif _CENTERED.match(line):
                text = _strip_emphasis(line[1:-1].strip())
                if text:
                    self.para.append(text)
                prev_blank = False
            elif line.startswith(">"):
                self.flush()
                self.cur.transition = _strip_emphasis(line[1:].strip())
                if self.cur is self.pre and self.cur.transition:
                    self.pre_items.append(self.cur.transition)
                prev_blank = False
            elif prev_blank and line.startswith(".") and not line.startswith("..") and line[1:].strip():
                self.start_scene(self.heading(line[1:].strip(), True))
                prev_blank = True  # lenient: a cue may follow a heading without a blank line
            elif prev_blank and _HEADING.match(line):
                self.start_scene(self.heading(line, False))
                prev_blank = True
            elif prev_blank and next_blank and _is_transition(line):
                self.flush()
                self.cur.transition = _strip_emphasis(line)
                if self.cur is self.pre:
                    self.pre_items.append(self.cur.transition)
                prev_blank = False
            elif prev_blank and not next_blank and (cue := _parse_cue(line)):
                self.flush()
                i = self.dialogue(cue, i)
                prev_blank = True
            else:
                self.para.append(_strip_emphasis(line))
                prev_blank = False
            self.cur.notes.extend(notes)
        self.finish_scene()
        if self.cur is self.pre:
            if not self.pre.dialogue:
                raise FountainError("no scene headings or dialogue found: is this a Fountain screenplay?")
            self.scenes.append(self.pre)
        last = self.scenes[-1]
        last.sections.extend(self.pending_sections)
        last.synopses.extend(self.pending_synopses)
        return Screenplay({}, self.scenes, self.preamble)

    def dialogue(self, cue: tuple[str, str, bool], i: int) -> int:
        """Read the dialogue block after a cue from line i; returns the index after it."""
        parens: list[str] = []
        text: list[str] = []
        open_paren: list[str] = []
        lines = self.lines
        while i < len(lines):
            raw = lines[i]
            line = raw.strip()
            if not line and not (len(raw) >= 2 and set(raw) == {" "}):
                break
            self.cur.notes.extend(self.line_notes[i])
            i += 1
            if open_paren:
                open_paren.append(line)
                if line.endswith(")"):
                    parens.append(_strip_emphasis(" ".join(open_paren)[1:-1].strip()))
                    open_paren = []
            elif line.startswith("(") and line.endswith(")") and len(line) > 1:
                parens.append(_strip_emphasis(line[1:-1].strip()))
            elif line.startswith("(") and ")" not in line:
                open_paren = [line]
            else:
                text.append(_strip_emphasis(line.removeprefix("~").strip()))
        text.extend(_strip_emphasis(t) for t in open_paren)
        name, extension, dual = cue
        parenthetical = " ".join(p for p in parens if p)
        self.cur.dialogue.append(Line(name, extension, parenthetical, "\n".join(text), dual))
        self.cur.layout.append("dialogue")
        return i


def parse(text: str) -> Screenplay:
    """Parse Fountain text. Raises FountainError (one line) for anything that is not a screenplay."""
    text = _check(text)
    text = _remove_spans(text, "/*", "*/", None)
    notes: list[str] = []
    text = _remove_spans(text, "[[", "]]", notes)
    lines: list[str] = []
    line_notes: list[list[str]] = []
    carry: list[str] = []  # notes of a line that held only notes (not a blank line): on to the next line
    for raw in text.split("\n"):
        found = [notes[int(k)] for k in _NOTE_MARK.findall(raw)]
        if found:
            out: list[str] = []
            for piece in _NOTE_MARK.split(raw)[0::2]:
                _join(out, piece)
            raw = "".join(out)
            if not raw.strip():
                carry.extend(n for n in found if n)
                continue
            raw = raw.rstrip()
        lines.append(raw)
        line_notes.append(carry + [n for n in found if n])
        carry = []
    if carry:
        lines.append("")
        line_notes.append(carry)
    title, used = _title_page(lines)
    body_notes = [n for notes_ in line_notes[:used] for n in notes_]
    parser = _Parser(lines[used:] or [""], line_notes[used:] or [[]])
    parser.pre.notes.extend(body_notes)
    screenplay = parser.run()
    screenplay.title_page = title
    return screenplay


def _action_lines(paragraph: str, first_of_file: bool) -> list[str]:
    out = []
    for line in paragraph.split("\n"):
        line = line.strip()
        if not line:
            continue
        force = (
            line[0] in "!@#=~>.([/"
            or bool(_HEADING.match(line))
            or (line == line.upper() and any(c.isalpha() for c in line))
            or (first_of_file and not out and bool(_TITLE_KEY.match(line)))
        )
        out.append(("!" if force else "") + _escape(line))
    return out


def _cue_line(line: Line) -> str:
    name = line.character.strip()
    natural = _parse_cue(name)
    cue = name if natural is not None and natural[0] == name and not natural[2] else "@" + name
    if name[:1] in "!@#=~>.[/" or _HEADING.match(name) or _is_transition(name):
        cue = "@" + name
    if line.extension:
        cue += f" ({line.extension})"
    return cue + (" ^" if line.dual else "")


def _dialogue_lines(line: Line, first_of_file: bool) -> list[str]:
    cue = _cue_line(line)
    out = ["@" + cue if first_of_file and ":" in cue and not cue.startswith("@") else cue]
    if line.parenthetical:
        out.append(f"({_escape(line.parenthetical)})")
    for text in line.text.split("\n") if line.text or not line.parenthetical else []:
        text = text.strip()
        if text.startswith("("):  # would read as a parenthetical: an italic "(" keeps it dialogue
            out.append("*(*" + _escape(text[1:]))
        elif text.startswith("~"):
            out.append("~" + _escape(text))
        elif text:
            out.append(_escape(text))
        else:  # a blank line inside dialogue; right under the cue a lone "~" (a lyric marker) stands for it
            out.append("~" if len(out) == 1 else "  ")
    return out


def write(screenplay: Screenplay) -> str:
    """Fountain text for a Screenplay; parse(write(s)) gives s back for any s that parse() made."""
    blocks: list[list[str]] = []
    if screenplay.title_page:
        title: list[str] = []
        for key, value in screenplay.title_page.items():
            if not _TITLE_KEY.fullmatch(f"{key}:") or ":" in key:
                raise FountainError(f"title page key {key!r} cannot be written in Fountain")
            values = [_escape(v.strip()) for v in value.split("\n") if v.strip()]
            if len(values) == 1:
                title.append(f"{key.strip().title()}: {values[0]}")
            else:
                title.append(f"{key.strip().title()}:")
                title.extend("    " + v for v in values)
        blocks.append(title)
    first = not screenplay.title_page
    if screenplay.preamble.strip():
        for paragraph in screenplay.preamble.split("\n\n"):
            if lines := _action_lines(paragraph, first):
                blocks.append(lines)
                first = False
    for index, scene in enumerate(screenplay.scenes):
        blocks.extend([f"# {s}"] for s in scene.sections)
        heading = scene.heading.strip() + (f" #{scene.number}#" if scene.number else "")
        if scene.heading.strip():
            natural = not scene.forced and _HEADING.match(heading) and not heading.startswith(".")
            blocks.append([heading if natural else (". " if heading.startswith(".") else ".") + heading])
            first = False
        elif index > 0:
            raise FountainError(f"scene {index + 1} has no heading: only the first scene may go without one")
        blocks.extend([f"= {s}"] for s in scene.synopses)
        blocks.extend([f"[[{n}]]"] for n in scene.notes)
        paragraphs = [p for p in scene.action.split("\n\n") if p.strip()]
        layout = scene.layout
        if layout.count("action") != len(paragraphs) or layout.count("dialogue") != len(scene.dialogue):
            layout = ["action"] * len(paragraphs) + ["dialogue"] * len(scene.dialogue)
        actions, dialogues = iter(paragraphs), iter(scene.dialogue)
        for kind in layout:
            if kind == "action":
                if lines := _action_lines(next(actions), first):
                    blocks.append(lines)
                    first = False
            else:
                blocks.append(_dialogue_lines(next(dialogues), first))
                first = False
        transition = scene.transition.strip()
        if transition:
            natural = _NATURAL_TRANSITION.fullmatch(transition) and not _HEADING.match(transition)
            blocks.append([transition if natural else "> " + _escape(transition)])
    return "\n\n".join("\n".join(block) for block in blocks) + "\n"
