"""Review: the lore and treatment options (pick one), confirming them, and the screenplay editor's text."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from storyreel.web import actions, overview, screenplay
from storyreel.web import state as web_state
from storyreel.web.context import Web, get_web

router = APIRouter(prefix="/api/projects", tags=["review"])


class ChooseBody(BaseModel):
    step: Literal["lore", "treatment"]
    option: int = Field(..., description="1-based number of the option.")


class ScreenplayBody(BaseModel):
    text: str = Field(..., description="The whole screenplay in Fountain.")


@router.get("/{name}/options", summary="Lore and treatment options, the chosen ones (1-based), beats")
def get_options(name: str, web: Web = Depends(get_web)) -> dict:
    film = web.studio.film(name)
    row = web.studio.store.project(name)
    wstate = web_state.load(web.studio.project_dir(name))
    return {
        "lore": {"options": [o.model_dump() for o in film.lore.options], "chosen": film.lore.chosen + 1},
        "treatment": {
            "options": [o.model_dump() for o in film.treatment.options],
            "chosen": film.treatment.chosen + 1,
        },
        "beats": [b.model_dump() for b in film.beats or []],
        "needs_review": overview.story_needs_review(film, row.locks, wstate),
    }


@router.post("/{name}/choose", summary="Pick a lore or treatment option (Studio.choose, 1-based)")
def choose(name: str, body: ChooseBody, branch: bool = Query(False), web: Web = Depends(get_web)) -> dict:
    return actions.choose(web.studio, name, body.step, body.option, branch=branch)


@router.post(
    "/{name}/review", summary="Keep the story options as they are (the story no longer needs review)"
)
def confirm_review(name: str, web: Web = Depends(get_web)) -> dict:
    return actions.mark_reviewed(web.studio, name)


@router.get("/{name}/screenplay", summary="The screenplay as Fountain text, and where edits go")
def get_screenplay(name: str, web: Web = Depends(get_web)) -> dict:
    film = web.studio.film(name)
    return {
        "project": name,
        "mode": screenplay.mode_of(film),
        "text": screenplay.text_of(film),
        "version": web.studio.store.project(name).head,
    }


@router.put("/{name}/screenplay", summary="Save the edited screenplay (409 when its stage is locked)")
def put_screenplay(
    name: str, body: ScreenplayBody, branch: bool = Query(False), web: Web = Depends(get_web)
) -> dict:
    return screenplay.save(web.studio, name, body.text, branch=branch)
