"""The pages: the dashboard, a project (one tab at a time, opening where the user left off), and /docs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from storyreel.errors import NotFound
from storyreel.steps import STAGES
from storyreel.studio import ASPECTS
from storyreel.web import actions, overview, tabs
from storyreel.web import state as web_state
from storyreel.web.context import Web, get_web

router = APIRouter(include_in_schema=False)


def _dashboard(web: Web) -> dict:
    cards = [overview.card(web.studio, web.runner, p["name"]) for p in web.studio.projects()]
    folders: dict[str, list[dict]] = {}
    for c in cards:
        folders.setdefault(c["folder"], []).append(c)
    named = sorted((f for f in folders if f), key=str.lower)
    groups = [(f, folders[f]) for f in named] + ([("", folders[""])] if "" in folders else [])
    return {"groups": groups, "folders": named, "count": len(cards), "aspects": ASPECTS}


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, web: Web = Depends(get_web)):
    ctx = await run_in_threadpool(_dashboard, web)
    return web.templates.TemplateResponse(request, "dashboard.html", {**ctx, "page": "dashboard"})


@router.get("/p/{name}")
def project_home(name: str, web: Web = Depends(get_web)):
    web.studio.film(name)
    tab = web_state.load(web.studio.project_dir(name)).get("tab")
    return RedirectResponse(f"/p/{name}/{tab if tab in overview.TAB_NAMES else 'overview'}", status_code=303)


def _overview_tab(web: Web, name: str, snap: dict) -> dict:
    locks = snap["locks"]
    rows = []
    for i, st in enumerate(snap["stages"]):
        prev_locked = i == 0 or STAGES[i - 1] in locks
        rows.append(
            {
                **st,
                "locked": st["stage"] in locks,
                "can_lock": st["stage"] not in locks
                and prev_locked
                and st["total"] > 0
                and st["done"] == st["total"],
                "lock_hint": "" if prev_locked else f"lock {overview.TITLES[STAGES[i - 1]]} first",
            }
        )
    return {"rows": rows, "stages": STAGES, "titles": overview.TITLES}


def _project(web: Web, name: str, tab: str) -> dict:
    snap = overview.snapshot(web.studio, web.runner, name)
    film = web.studio.film(name)
    ctx = {
        "snap": snap,
        "name": name,
        "tab": tab,
        "tabs": overview.TABS,
        "legend_items": overview.LEGEND,
        "title": overview.title_of(film),
        "film_inputs": film.inputs,
        "page": "project",
    }
    if tab == "overview":
        ctx["data"] = _overview_tab(web, name, snap)
    elif tab == "review":
        ctx["data"] = tabs.review_view(web.studio, name)
    elif tab == "assets":
        ctx["data"] = tabs.assets_view(web.studio, name)
    elif tab == "scenes":
        ctx["data"] = tabs.scenes_view(web.studio, name)
    elif tab == "storyboard":
        ctx["data"] = tabs.storyboard_view(web.studio, name)
    else:
        ctx["data"] = tabs.branches_view(web.studio, name)
    actions.remember_tab(web.studio, name, tab)
    return ctx


@router.get("/p/{name}/{tab}", response_class=HTMLResponse)
async def project(name: str, tab: str, request: Request, web: Web = Depends(get_web)):
    if tab not in overview.TAB_NAMES:
        raise NotFound(f"unknown tab {tab!r}")
    ctx = await run_in_threadpool(_project, web, name, tab)
    return web.templates.TemplateResponse(request, "project.html", ctx)


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request, web: Web = Depends(get_web)):
    """The API reference without a CDN: every route from the OpenAPI document, and a link to it."""
    spec = request.app.openapi()
    routes = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            routes.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "tag": (op.get("tags") or [""])[0],
                }
            )
    return web.templates.TemplateResponse(
        request, "docs.html", {"routes": routes, "info": spec.get("info", {}), "page": "docs"}
    )
