"""Locks and branches: lock a stage (the previous one first), unlock (always on a new branch), branch."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from storyreel.web.actions import check_stage
from storyreel.web.context import Web, get_web
from storyreel.web.tabs import branches_view

router = APIRouter(prefix="/api/projects", tags=["locks"])


class StageBody(BaseModel):
    stage: str = Field(
        ..., description="story, beats, script, assets, scenes, shots, keyframes, clips, sound, cut"
    )


class UnlockBody(StageBody):
    new_name: str | None = Field(None, description="Name of the branch (made from the project's when empty).")


class BranchBody(BaseModel):
    new_name: str | None = Field(None, description="Name of the branch (made from the project's when empty).")
    at: int | None = Field(None, ge=1, description="Version to branch from (the latest when empty).")


@router.get("/{name}/locks", summary="The locked stages")
def get_locks(name: str, web: Web = Depends(get_web)) -> dict:
    web.studio.film(name)
    return {"project": name, "locks": web.studio.store.project(name).locks}


@router.post("/{name}/locks", summary="Lock a stage (the previous stage must be locked, the stage done)")
def lock(name: str, body: StageBody, web: Web = Depends(get_web)) -> dict:
    return {"project": name, "locks": web.studio.lock(name, check_stage(body.stage))}


@router.post(
    "/{name}/unlock",
    status_code=201,
    summary="Unlock a stage: creates a branch with that stage and the later ones unlocked",
)
def unlock(name: str, body: UnlockBody, web: Web = Depends(get_web)) -> dict:
    new = web.studio.unlock(name, check_stage(body.stage), body.new_name or None)
    return {"project": new, "parent": name, "url": f"/p/{new}"}


@router.get("/{name}/branches", summary="The project's family: its parent, its branches, their parents")
def get_branches(name: str, web: Web = Depends(get_web)) -> dict:
    return branches_view(web.studio, name)


@router.post("/{name}/branches", status_code=201, summary="Branch the project (at a version)")
def branch(name: str, body: BranchBody, web: Web = Depends(get_web)) -> dict:
    new = web.studio.branch(name, body.new_name or None, at=body.at)
    return {"project": new, "parent": name, "url": f"/p/{new}"}
