"""Users' notes documents: markdown sections such as ``## Script``, ``## Plot`` or ``## Vibe``.

Headings of level 1 to 3 (``#`` to ``###``) name a section, case-insensitively, with an optional trailing
colon (``## Plot:``) and optional emphasis (``## **Plot**``). Known sections and their synonyms:

=================  =========================================
field              heading names
=================  =========================================
``script``         Script, Screenplay
``plot``           Plot, Story, Synopsis
``dialogue_rules`` Dialogue rules, Dialog rules
``characters``     Characters
``vibe``           Vibe, Tone, Mood
``shot_style``     Shot style, Style, Visual style
``story_rules``    Story rules, Rules
=================  =========================================

Nothing is lost: text before the first known heading and under unknown headings (with the heading line
itself) goes to ``other``. A deeper unknown heading inside a known section (``### Brick`` under
``## Characters``) stays in that section. Inside ``Script`` every unknown heading stays in the script,
because Fountain uses ``#`` for its own sections (``# ACT ONE``); only a known heading ends it. Lines in
fenced code blocks (```` ``` ````) are never headings, and a script written as one fenced block loses the
fence. A section that appears twice in one document is joined with a blank line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from storyreel.errors import InputError

__all__ = ["DocumentError", "Sections", "merge", "parse_sections", "read_text_file"]


class DocumentError(InputError):
    """A notes document cannot be read or combined. The message is one line."""


@dataclass
class Sections:
    script: str | None = None  # None when no document has a non-empty Script section
    plot: str = ""
    dialogue_rules: str = ""
    characters: str = ""
    vibe: str = ""
    shot_style: str = ""
    story_rules: list[str] = field(default_factory=list)
    other: str = ""


_NAMES = {
    "script": "script",
    "screenplay": "script",
    "plot": "plot",
    "story": "plot",
    "synopsis": "plot",
    "dialogue rules": "dialogue_rules",
    "dialog rules": "dialogue_rules",
    "characters": "characters",
    "vibe": "vibe",
    "tone": "vibe",
    "mood": "vibe",
    "shot style": "shot_style",
    "style": "shot_style",
    "visual style": "shot_style",
    "story rules": "story_rules",
    "rules": "story_rules",
}
_TEXT_FIELDS = ("plot", "dialogue_rules", "characters", "vibe", "shot_style", "other")
_HEADING = re.compile(r" {0,3}(#{1,3})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
_FENCE = re.compile(r" {0,3}(```|~~~)")
_BULLET = re.compile(r"(?:[-*+\u2022]|\d{1,3}[.)])\s+")


def _section_name(title: str) -> str | None:
    title = title.strip().strip("*_").strip().rstrip(":").strip().strip("*_").strip()
    return _NAMES.get(re.sub(r"\s+", " ", title).lower())


def _clean(lines: list[str]) -> str:
    return "\n".join(lines).strip("\n").rstrip()


def _unfence(text: str) -> str:
    lines = text.split("\n")
    if len(lines) >= 2 and _FENCE.match(lines[0]) and lines[-1].strip() in ("```", "~~~"):
        inner = lines[1:-1]
        if not any(_FENCE.match(line) for line in inner):
            return _clean(inner)
    return text


def _rules(text: str) -> list[str]:
    """One rule per bullet (indented lines under a bullet continue it) or per non-empty line."""
    rules: list[str] = []
    last_was_bullet = False
    for line in text.split("\n"):
        if not line.strip():
            last_was_bullet = False
            continue
        stripped = line.strip()
        bullet = _BULLET.match(stripped)
        if bullet:
            rules.append(stripped[bullet.end() :].strip())
            last_was_bullet = True
        elif last_was_bullet and line[:1] in (" ", "\t") and rules:
            rules[-1] = f"{rules[-1]} {stripped}"
        else:
            heading = _HEADING.match(line)
            rules.append(heading.group(2).strip() if heading else stripped)
            last_was_bullet = False
    return [rule for rule in rules if rule]


def parse_sections(text: str) -> Sections:
    """Split one notes document into its known sections (see the module docstring)."""
    if not isinstance(text, str):
        raise DocumentError(f"a notes document must be text (str), not {type(text).__name__}")
    text = text.removeprefix("\ufeff")
    parts: dict[str, list[str]] = {}  # field -> its texts, in order
    current = "other"
    current_level = 0
    buffer: list[str] = []
    in_fence = False

    def close() -> None:
        body = _clean(buffer)
        if current == "script":
            body = _unfence(body)
        if body or current == "script":
            parts.setdefault(current, []).append(body)
        buffer.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            buffer.append(line)
            continue
        heading = None if in_fence else _HEADING.match(line)
        if heading is None:
            buffer.append(line)
            continue
        level, name = len(heading.group(1)), _section_name(heading.group(2))
        if name is None and current != "other" and (current == "script" or level > current_level):
            buffer.append(line)  # a subsection of the current known section
            continue
        close()
        if name is None:
            current, current_level = "other", 0
            buffer.append(line)  # keep the unknown heading with its text
        else:
            current, current_level = name, level
    close()

    sections = Sections()
    scripts = [s for s in parts.get("script", []) if s.strip()]
    sections.script = "\n\n".join(scripts) if scripts else None
    for name in _TEXT_FIELDS:
        setattr(sections, name, "\n\n".join(t for t in parts.get(name, []) if t))
    sections.story_rules = [r for t in parts.get("story_rules", []) for r in _rules(t)]
    return sections


def _dedupe(rules: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    for rule in rules:
        key = re.sub(r"\s+", " ", rule).strip().casefold()
        if key and key not in seen:
            seen.add(key)
            out.append(rule)
    return out


def merge(docs: list[Sections]) -> Sections:
    """Combine several documents: texts joined by blank lines, rules concatenated without duplicates.

    At most one document may carry a (non-empty) script: two scripts raise DocumentError.
    """
    merged = Sections()
    scripts = [doc.script for doc in docs if doc.script and doc.script.strip()]
    if len(scripts) > 1:
        raise DocumentError(
            f"{len(scripts)} documents have a Script section; keep the screenplay in one document only"
        )
    merged.script = scripts[0] if scripts else None
    for name in _TEXT_FIELDS:
        texts = [getattr(doc, name).strip("\n") for doc in docs]
        setattr(merged, name, "\n\n".join(t for t in texts if t.strip()))
    merged.story_rules = _dedupe(rule for doc in docs for rule in doc.story_rules)
    return merged


def read_text_file(path: str | os.PathLike[str], *, max_bytes: int = 5_000_000) -> str:
    """The text of a UTF-8 file (BOM stripped), or DocumentError with one clear line."""
    p = Path(path)
    try:
        if not p.exists():
            raise DocumentError(f"{p}: no such file")
        if p.is_dir():
            raise DocumentError(f"{p} is a directory, not a text file")
        if not p.is_file():
            raise DocumentError(f"{p} is not a regular file")
        size = p.stat().st_size
        if size > max_bytes:
            raise DocumentError(f"{p} is too big ({size:,} bytes; the limit is {max_bytes:,})")
        with p.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except PermissionError:
        raise DocumentError(f"{p} cannot be read: permission denied") from None
    except OSError as exc:
        raise DocumentError(f"{p} cannot be read: {exc.strerror or exc}") from None
    return decode_text(data, str(p), max_bytes=max_bytes)


def decode_text(data: bytes, label: str, *, max_bytes: int = 5_000_000) -> str:
    """UTF-8 text of a file's bytes (BOM dropped), or DocumentError naming ``label`` in one line."""
    if len(data) > max_bytes:
        raise DocumentError(f"{label} is too big (over {max_bytes:,} bytes)")
    if b"\x00" in data:
        raise DocumentError(f"{label} contains NUL bytes: is it a binary file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{label} is not UTF-8 text (bad byte at offset {exc.start})") from None
    return text.removeprefix("\ufeff")
