"""Wire models of Replicate's predictions API."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

TERMINAL = frozenset({"succeeded", "failed", "canceled"})
_VERSION = re.compile(r"^[0-9a-f]{64}$")


class CreatePrediction(BaseModel):
    """``POST /models/{owner}/{name}/predictions`` (no version) or ``POST /predictions`` (with one)."""

    model_config = ConfigDict(extra="forbid")

    version: str | None = None
    input: dict[str, Any]
    webhook: str | None = None
    webhook_events_filter: list[str] | None = None

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


class PredictionURLs(BaseModel):
    model_config = ConfigDict(extra="ignore")

    get: str = ""
    cancel: str = ""


class Prediction(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    model: str = ""
    version: str | None = None
    status: str = "starting"
    output: Any = None
    logs: str | None = None
    error: Any = None
    metrics: dict[str, Any] | None = None
    urls: PredictionURLs = Field(default_factory=PredictionURLs)

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL


def create_path(model: str) -> tuple[str, str | None]:
    """Where to POST and the version to send: ``owner/name`` → the model's endpoint; ``owner/name:version``
    or a bare version id → ``/predictions`` with the version."""
    name, _, version = model.partition(":")
    if version:
        return "predictions", version
    if _VERSION.match(name):
        return "predictions", name
    owner, _, rest = name.partition("/")
    return f"models/{owner}/{rest}/predictions", None
