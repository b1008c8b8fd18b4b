"""The REST API, one module per area; every route is a thin call into Studio or web.actions."""

from storyreel.web.api import assets, locks, media, projects, review, runs, scenes, storyboard

ROUTERS = [
    projects.router,
    runs.router,
    review.router,
    assets.router,
    scenes.router,
    storyboard.router,
    locks.router,
    media.router,
]

__all__ = ["ROUTERS"]
