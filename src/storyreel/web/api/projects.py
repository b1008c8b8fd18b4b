"""Projects: list, create (from a prompt, notes documents or a screenplay), read, folders, generic edits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from storyreel.errors import InputError
from storyreel.web import actions, overview
from storyreel.web.context import Web, get_web
from storyreel.web.uploads import MAX_DOCUMENTS, check_document

router = APIRouter(prefix="/api/projects", tags=["projects"])


class CreateBody(BaseModel):
    prompt: str = Field("", description="What the film is about, in the user's words.")
    name: str | None = Field(None, description="Project name (folder name); made from the prompt when empty.")
    duration: float | None = Field(
        None, description="Target length in seconds (default 30, or from the script)."
    )
    aspect: str = Field("16:9", description="16:9, 9:16 or 1:1.")
    style: str = Field("", description="Visual and written style.")
    rules: list[str] | str = Field(default_factory=list, description="Story rules: a list, or one per line.")
    folder: str = Field("", description="Folder to group the project in on the dashboard.")
    script: str | None = Field(None, description="A screenplay in Fountain: skip straight to script.")
    start: bool = Field(False, description="Start a run right away.")


class FolderBody(BaseModel):
    folder: str = Field("", max_length=128)


class TabBody(BaseModel):
    tab: str


class EditBody(BaseModel):
    path: str = Field(..., description="Film field path, e.g. 'inputs.prompt' or 'scenes.s01.script.action'.")
    value: Any = Field(..., description="The new value (JSON).")


def _rules(rules: list[str] | str) -> list[str]:
    items = rules.splitlines() if isinstance(rules, str) else rules
    return [r.strip().lstrip("-*• ").strip() for r in items if isinstance(r, str) and r.strip()]


def _created(web: Web, name: str, start: bool) -> dict:
    if start:
        web.runner.start(web.studio, name)
    return {"project": name, "url": f"/p/{name}"}


@router.get("", summary="List projects (dashboard cards)")
def list_projects(web: Web = Depends(get_web)) -> list[dict]:
    return [overview.card(web.studio, web.runner, p["name"]) for p in web.studio.projects()]


@router.post("", status_code=201, summary="Create a project from a prompt or a pasted screenplay")
def create(body: CreateBody, web: Web = Depends(get_web)) -> dict:
    script = body.script if body.script and body.script.strip() else None
    name = web.studio.create(
        body.name or None,
        body.prompt,
        script=script,
        duration=body.duration,
        aspect=body.aspect,
        style=body.style,
        rules=_rules(body.rules),
        folder=body.folder,
    )
    return _created(web, name, body.start)


@router.post("/import", status_code=201, summary="Create a project from uploaded notes or a screenplay file")
async def create_from_files(
    documents: list[UploadFile] = File(default=[], description="Markdown notes (## Plot, ## Characters...)."),
    screenplay: UploadFile | None = File(None, description="A Fountain screenplay (skip to script)."),
    screenplay_text: str = Form("", description="A pasted Fountain screenplay."),
    prompt: str = Form(""),
    name: str = Form(""),
    duration: str = Form(""),
    aspect: str = Form("16:9"),
    style: str = Form(""),
    rules: str = Form(""),
    folder: str = Form(""),
    start: bool = Form(False),
    web: Web = Depends(get_web),
) -> dict:
    docs = [d for d in documents if d.filename]
    if len(docs) > MAX_DOCUMENTS:
        raise InputError(f"at most {MAX_DOCUMENTS} documents at a time")
    texts = [
        (d.filename or "notes.md", check_document(await d.read(5_000_001), d.filename or "")) for d in docs
    ]
    script = screenplay_text if screenplay_text.strip() else None
    if screenplay is not None and screenplay.filename:
        script = check_document(await screenplay.read(5_000_001), screenplay.filename)
        if not script.strip():
            raise InputError(f"{screenplay.filename!r} is empty")
    if not texts and script is None and not prompt.strip():
        raise InputError("give notes documents, a screenplay or a prompt")
    try:
        dur = float(duration) if duration.strip() else None
    except ValueError:
        raise InputError(f"duration {duration!r} is not a number of seconds") from None
    made = await run_in_threadpool(
        lambda: web.studio.create(
            name.strip() or None,
            prompt,
            script=script,
            documents=texts,
            duration=dur,
            aspect=aspect,
            style=style,
            rules=_rules(rules),
            folder=folder,
        )
    )
    return await run_in_threadpool(_created, web, made, start)


@router.get("/{name}", summary="A project's card: stages, position, progress, run")
def get_project(name: str, web: Web = Depends(get_web)) -> dict:
    return overview.card(web.studio, web.runner, name)


@router.get("/{name}/film", summary="The project's Film (the single source of truth)")
def get_film(name: str, version: int | None = Query(None, ge=1), web: Web = Depends(get_web)) -> dict:
    return web.studio.film(name, version).model_dump(mode="json")


@router.get("/{name}/versions", summary="Every version of the Film, with its note")
def get_versions(name: str, web: Web = Depends(get_web)) -> list[dict]:
    return web.studio.versions(name)


@router.put("/{name}/folder", summary="Put the project in a folder (empty: no folder)")
def set_folder(name: str, body: FolderBody, web: Web = Depends(get_web)) -> dict:
    web.studio.set_folder(name, body.folder)
    return {"project": name, "folder": web.studio.store.project(name).folder}


@router.put("/{name}/tab", summary="Remember the tab last viewed (where the project opens)")
def set_tab(name: str, body: TabBody, web: Web = Depends(get_web)) -> dict:
    if body.tab not in overview.TAB_NAMES:
        raise InputError(f"unknown tab {body.tab!r}; tabs: {', '.join(overview.TAB_NAMES)}")
    web.studio.film(name)
    actions.remember_tab(web.studio, name, body.tab)
    return {"project": name, "tab": body.tab}


@router.post(
    "/{name}/edit", summary="Set one field of the Film (a locked stage answers 409 unless branch=true)"
)
def edit(
    name: str,
    body: EditBody,
    branch: bool = Query(False, description="Edit on a new branch if locked."),
    web: Web = Depends(get_web),
) -> dict:
    return actions.edit(web.studio, name, body.path, body.value, branch=branch)
