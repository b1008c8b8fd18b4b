"""Storyboard: shots with their keyframes and clips, the final film, and everything the project exports."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from storyreel.web.context import Web, get_web
from storyreel.web.tabs import downloads, storyboard_view

router = APIRouter(prefix="/api/projects", tags=["storyboard"])


@router.get("/{name}/storyboard", summary="Shots by scene with keyframes, captions and clips; the final film")
def get_storyboard(name: str, web: Web = Depends(get_web)) -> dict:
    return storyboard_view(web.studio, name)


@router.get("/{name}/downloads", summary="Everything the project exports: final MP4, SRT, film JSON, output/")
def get_downloads(name: str, web: Web = Depends(get_web)) -> list[dict]:
    return downloads(web.studio, name)


@router.get("/{name}/export.json", summary="The Film as JSON (Studio.export_json), as a download")
def export_json(name: str, web: Web = Depends(get_web)) -> Response:
    text = web.studio.export_json(name)
    return Response(
        text,
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}_film.json"'},
    )
