"""Scenes: each scene's asset instances, where each takes its look from, the "use reference as is" toggle."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from storyreel.web import actions
from storyreel.web.context import Web, get_web
from storyreel.web.tabs import scenes_view

router = APIRouter(prefix="/api/projects", tags=["scenes"])


class InstanceBody(BaseModel):
    derives_from: str | None = Field(None, description="'master', an earlier scene id, or 'default'.")
    use_reference_as_is: bool | None = Field(None, description="Use the reference image as is.")
    state: str | None = Field(None, max_length=2000, description="The asset's visual state in the scene.")


@router.get("/{name}/scenes", summary="Scenes with their asset instances, derive choices and earlier images")
def list_scenes(name: str, web: Web = Depends(get_web)) -> list[dict]:
    return scenes_view(web.studio, name)


@router.put("/{name}/scenes/{scene_id}/instances/{asset_id}", summary="Change an asset instance of a scene")
def set_instance(
    name: str,
    scene_id: str,
    asset_id: str,
    body: InstanceBody,
    branch: bool = Query(False),
    web: Web = Depends(get_web),
) -> dict:
    return actions.set_instance(
        web.studio,
        name,
        scene_id,
        asset_id,
        derives_from=body.derives_from,
        use_reference_as_is=body.use_reference_as_is,
        state=body.state,
        branch=branch,
    )
