"""What every route needs: the Studio, the run registry, the templates. One per app, in ``app.state.web``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates

from storyreel.studio import Studio
from storyreel.web.runner import Runner

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@dataclass
class Web:
    data_dir: Path
    studio: Studio
    runner: Runner
    templates: Jinja2Templates
    poll_interval: float = 0.7


def get_web(request: Request) -> Web:
    return request.app.state.web


def media_url(project: str, path: str | None) -> str:
    """URL of a media file of a project (a path relative to its folder)."""
    if not path:
        return ""
    return f"/media/{quote(project, safe='')}/{quote(path.lstrip('/'), safe='/')}"


def static_version() -> str:
    return str(int(max((p.stat().st_mtime for p in STATIC.iterdir() if p.is_file()), default=0)))


def make_templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES))
    env = templates.env
    env.globals["media_url"] = media_url
    env.globals["static_v"] = static_version()
    env.filters["media"] = lambda path, project: media_url(project, path)
    return templates
