"""Wire models of the OpenAI Images API (gpt-image-1, dall-e-3)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class GenerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    prompt: str
    n: int = 1
    size: str | None = None
    quality: str | None = None
    output_format: str | None = None  # gpt-image models: png | jpeg | webp
    response_format: str | None = None  # dall-e models only; gpt-image models always answer base64

    def body(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)

    def form(self) -> dict[str, str]:
        """The same fields as multipart form values (for ``/images/edits``)."""
        return {k: str(v) for k, v in self.body().items()}


class ImageData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesUsage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0


class ImagesResponse(BaseModel):
    model_config = ConfigDict(extra="ignore")

    created: int = 0
    data: list[ImageData] = Field(default_factory=list)
    usage: ImagesUsage | None = None


def size_for(model: str, width: int, height: int) -> str | None:
    """The model's own size closest in shape to width x height (None: let the server pick)."""
    ratio = width / height
    if model.startswith("gpt-image"):
        return "1536x1024" if ratio > 1.2 else "1024x1536" if ratio < 1 / 1.2 else "1024x1024"
    if model == "dall-e-3":
        return "1792x1024" if ratio > 1.2 else "1024x1792" if ratio < 1 / 1.2 else "1024x1024"
    if model == "dall-e-2":
        return "1024x1024"
    return None
