"""The screenplay editor's text: the Film's scenes as Fountain, and saving edited Fountain back.

* A project made from an imported screenplay edits ``inputs.screenplay`` (the whole text; the script re-reads
  it).
* Otherwise the text is the scenes' scripts written as Fountain; saving parses it and edits, for every scene
  whose action, dialogue or transition changed, ``scenes.<id>.script``. The scene headings are the outline's:
  they, and the number of scenes, cannot be changed here (that is a new outline: edit the story and run
  again).
"""

from __future__ import annotations

from storyreel.errors import InputError
from storyreel.film.models import DialogueLine, Film, SceneScript
from storyreel.inputs import fountain
from storyreel.studio import Studio
from storyreel.web.actions import target

MAX_TEXT = 5_000_000


def mode_of(film: Film) -> str:
    if film.inputs.screenplay is not None:
        return "imported"
    if any(s.script for s in film.scenes or []):
        return "scenes"
    return "empty"


def text_of(film: Film) -> str:
    mode = mode_of(film)
    if mode == "imported":
        return film.inputs.screenplay or ""
    if mode == "empty":
        return ""
    scenes = []
    for s in film.scenes or []:
        script = s.script or SceneScript()
        scenes.append(
            fountain.Scene(
                heading=s.outline.heading or f"SCENE {s.index + 1}",
                action=script.action,
                transition=script.transition,
                dialogue=[
                    fountain.Line(d.character, d.extension, d.parenthetical, d.text, d.dual)
                    for d in script.dialogue
                ],
            )
        )
    return fountain.write(fountain.Screenplay(scenes=scenes))


def parse(text: str) -> fountain.Screenplay:
    if not isinstance(text, str):
        raise InputError("the screenplay must be text")
    if len(text) > MAX_TEXT:
        raise InputError("the screenplay is over 5 MB")
    try:
        return fountain.parse(text)
    except fountain.FountainError as e:
        raise InputError(f"the screenplay cannot be read: {e}") from None


def save(studio: Studio, name: str, text: str, *, branch: bool = False) -> dict:
    film = studio.film(name)
    mode = mode_of(film)
    parsed = parse(text)
    if mode == "imported":
        if not parsed.scenes or not any(s.heading for s in parsed.scenes):
            raise InputError("the screenplay has no scene heading (e.g. 'INT. KITCHEN - DAY')")
        if text == film.inputs.screenplay:
            return {"project": name, "changed": 0}
        proj = target(studio, name, "story", branch)
        version = studio.edit(proj, "inputs.screenplay", text)
        return {"project": proj, "changed": 1, "version": version}
    if mode == "empty":
        raise InputError("there is no screenplay yet: run the project through the script stage first")
    scenes = film.scenes or []
    got = [s for s in parsed.scenes if s.heading or s.action.strip() or s.dialogue]
    if parsed.preamble.strip() or (got and not got[0].heading):
        raise InputError("there is text before the first scene heading; every scene starts with its heading")
    if len(got) != len(scenes):
        raise InputError(
            f"the film has {len(scenes)} scenes and the text has {len(got)}: scenes cannot be added "
            "or removed in the editor"
        )
    edits = []
    for scene, new in zip(scenes, got, strict=True):
        heading = scene.outline.heading or f"SCENE {scene.index + 1}"
        if new.heading.strip().upper() != heading.strip().upper():
            raise InputError(
                f"scene {scene.index + 1}'s heading is {heading!r}: headings come from the outline "
                "and cannot be changed here"
            )
        lines = [
            DialogueLine(
                id=f"{scene.id}-d{i + 1:02d}",
                character=d.character,
                extension=d.extension,
                parenthetical=d.parenthetical,
                text=d.text,
                dual=d.dual,
            )
            for i, d in enumerate(new.dialogue)
        ]
        script = SceneScript(action=new.action, dialogue=lines, transition=new.transition)
        if scene.script is None or script.model_dump() != scene.script.model_dump():
            edits.append((scene.id, script.model_dump(mode="json")))
    if not edits:
        return {"project": name, "changed": 0}
    proj = target(studio, name, "script", branch)
    version = None
    for sid, value in edits:
        version = studio.edit(proj, f"scenes.{sid}.script", value)
    return {"project": proj, "changed": len(edits), "version": version}
