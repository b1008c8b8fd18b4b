"""Server-rendered pages (Jinja2 templates in web/templates/, script and styles in web/static/)."""

from storyreel.web.pages.routes import router

__all__ = ["router"]
