"""The Film's screenplay as Fountain text (https://fountain.io), written by
:func:`storyreel.inputs.fountain.write`.

A title page (the chosen treatment's title, "Written with storyreel (draft)", the date), then every scene: its
heading, its action paragraphs, its dialogue (character, extension, parenthetical, dual ``^``) and its
transition. The Film keeps a scene's action and dialogue apart, not their order on the page, so the dialogue
blocks are spread evenly between the action paragraphs after the first one (which sets the scene). A scene
with no written transition gets the one its last shot plays (DISSOLVE TO: for a crossfade, FADE TO BLACK. for
a fade), and the last scene ends on FADE OUT. A scene not written yet shows its outline summary as action.
"""

from __future__ import annotations

from datetime import date

from storyreel.errors import InputError
from storyreel.film.models import DialogueLine, Film
from storyreel.inputs import fountain as ftn

CREDIT = "Written with storyreel (draft)"
_SHOT_TRANSITION = {"crossfade": "DISSOLVE TO:", "fade-to-black": "FADE TO BLACK."}


def screenplay(film: Film, today: date | None = None) -> str:
    """Fountain text of the Film's scenes; parses back (inputs.fountain.parse) to the same scenes, lines."""
    if not film.scenes:
        raise InputError("the project has no scenes yet, so there is no screenplay: run it at least until "
                         "'script' first")
    from storyreel.export.bundle import title_of

    title = {"title": title_of(film), "credit": CREDIT,
             "draft date": (today or date.today()).isoformat()}
    scenes = [_scene(film, i) for i in range(len(film.scenes))]
    return ftn.write(ftn.Screenplay(title_page=title, scenes=scenes))


def _scene(film: Film, i: int) -> ftn.Scene:
    sc = film.scenes[i]
    script = sc.script
    heading = " ".join(sc.outline.heading.split()) or f"SCENE {i + 1}"
    action = script.action if script else sc.outline.summary
    paragraphs = [p.strip() for p in (action or "").replace("\r", "").split("\n\n") if p.strip()]
    lines = [_line(d) for d in script.dialogue] if script else []
    layout = _layout(len(paragraphs), [d.dual for d in script.dialogue] if script else [])
    transition = (script.transition.strip() if script else "") or _derived_transition(film, i)
    return ftn.Scene(heading=heading, action="\n\n".join(paragraphs), dialogue=lines, transition=transition,
                     layout=layout)


def _line(d: DialogueLine) -> ftn.Line:
    name = " ".join(d.character.split()) or "UNKNOWN"
    return ftn.Line(character=name, extension=" ".join(d.extension.strip().strip("()").split()),
                    parenthetical=" ".join(d.parenthetical.strip().strip("()").split()), text=d.text.strip(),
                    dual=bool(d.dual))


def _layout(n_paragraphs: int, duals: list[bool]) -> list[str]:
    """First paragraph, then the other paragraphs and the dialogue blocks interleaved evenly.

    A dual line stays right after the line it is spoken with (Fountain pairs a ``^`` cue with the block
    before it).
    """
    groups: list[int] = []  # dialogue blocks per group (a line plus the dual lines that follow it)
    for k, dual in enumerate(duals):
        if dual and k > 0:
            groups[-1] += 1
        else:
            groups.append(1)
    out = ["action"] if n_paragraphs else []
    rest = max(0, n_paragraphs - 1)
    total = rest + len(groups)
    a = g = 0
    for step in range(total):
        # place a dialogue group when the dialogue is behind its even share of the positions so far
        want_dialogue = g < len(groups) and (a >= rest or (g + 0.5) * total / len(groups) <= step + 1)
        if want_dialogue:
            out += ["dialogue"] * groups[g]
            g += 1
        else:
            out.append("action")
            a += 1
    return out


def _derived_transition(film: Film, i: int) -> str:
    scenes = film.scenes or []
    if i == len(scenes) - 1:
        return "FADE OUT."
    shots = [s for s in film.shots or [] if s.scene_id == scenes[i].id]
    return _SHOT_TRANSITION.get(shots[-1].transition, "") if shots else ""


__all__ = ["screenplay", "CREDIT"]
