"""Wire models of the fal queue API (``https://queue.fal.run``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

IN_QUEUE, IN_PROGRESS, COMPLETED = "IN_QUEUE", "IN_PROGRESS", "COMPLETED"


class Submitted(BaseModel):
    """The answer to ``POST {queue}/{app}[/{path}]``: always use these URLs, never rebuild them."""

    model_config = ConfigDict(extra="ignore")

    request_id: str
    response_url: str
    status_url: str
    cancel_url: str


class Status(BaseModel):
    model_config = ConfigDict(extra="ignore")

    status: str
    queue_position: int | None = None
    logs: list[dict[str, Any]] | None = None
    error: str | None = None
    error_type: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == COMPLETED
