"""Assets: the checklist (drop those not worth a reference sheet), favourites, regenerating, uploads."""

from __future__ import annotations

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from storyreel.web import actions
from storyreel.web.context import Web, get_web, media_url
from storyreel.web.uploads import MAX_IMAGE

router = APIRouter(prefix="/api/projects", tags=["assets"])


class DropBody(BaseModel):
    dropped: bool = Field(..., description="True: no reference sheet for this asset.")


class FavouriteBody(BaseModel):
    path: str = Field(..., description="Path of an image in the asset's history.")


class RegenerateBody(BaseModel):
    note: str = Field("", max_length=2000, description="Guidance for the new generation.")


@router.get("/{name}/assets", summary="Every asset with its views, references and history")
def list_assets(name: str, web: Web = Depends(get_web)) -> list[dict]:
    film = web.studio.film(name)
    out = []
    for a in film.assets or []:
        d = a.model_dump(mode="json")
        d["references_urls"] = {r.view: media_url(name, r.path) for r in a.references}
        out.append(d)
    return out


@router.put(
    "/{name}/assets/{asset_id}/dropped", summary="Drop an asset from the reference sheets, or bring it back"
)
def set_dropped(
    name: str, asset_id: str, body: DropBody, branch: bool = Query(False), web: Web = Depends(get_web)
) -> dict:
    return actions.set_dropped(web.studio, name, asset_id, body.dropped, branch=branch)


@router.put(
    "/{name}/assets/{asset_id}/favourite", summary="Make an image of the history the view's reference"
)
def set_favourite(
    name: str, asset_id: str, body: FavouriteBody, branch: bool = Query(False), web: Web = Depends(get_web)
) -> dict:
    return actions.set_favourite(web.studio, name, asset_id, body.path, branch=branch)


@router.post(
    "/{name}/assets/{asset_id}/regenerate",
    status_code=202,
    summary="Set a guidance note and start a run that draws the asset's views again",
)
def regenerate(
    name: str, asset_id: str, body: RegenerateBody, branch: bool = Query(False), web: Web = Depends(get_web)
) -> dict:
    return actions.regenerate(web.studio, web.runner, name, asset_id, body.note, branch=branch)


@router.post(
    "/{name}/assets/{asset_id}/upload",
    status_code=201,
    summary="Upload your own image (PNG, JPEG or WebP, at most 20 MB) as a view's reference",
)
async def upload(
    name: str,
    asset_id: str,
    file: UploadFile = File(...),
    view: str = Form(""),
    branch: bool = Query(False),
    web: Web = Depends(get_web),
) -> dict:
    data = await file.read(MAX_IMAGE + 1)
    return await run_in_threadpool(
        lambda: actions.upload_reference(
            web.studio, name, asset_id, view, data, file.content_type, file.filename or "", branch=branch
        )
    )
