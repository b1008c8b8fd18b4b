"""Wire models of OpenAI-compatible chat completions (OpenRouter, OpenAI, Ollama, vLLM, LM Studio).

Requests are built strictly (unset fields are not sent); responses are read leniently (servers add fields).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- request ------------------------------------------------------------------------------------------------


class ImageURL(_Request):
    url: str


class TextPart(_Request):
    type: Literal["text"] = "text"
    text: str


class ImagePart(_Request):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


class Message(_Request):
    role: Literal["system", "user", "assistant"]
    content: str | list[TextPart | ImagePart]


class JSONSchema(_Request):
    name: str
    strict: bool = True
    schema_: dict[str, Any] = Field(alias="schema")


class ResponseFormat(_Request):
    type: Literal["json_schema"] = "json_schema"
    json_schema: JSONSchema


class ReasoningConfig(_Request):
    effort: str


class ProviderPreferences(_Request):
    require_parameters: bool = True


class ImageConfig(_Request):
    aspect_ratio: str


class ChatRequest(_Request):
    model: str
    messages: list[Message]
    response_format: ResponseFormat | None = None
    reasoning: ReasoningConfig | None = None  # OpenRouter
    reasoning_effort: str | None = None  # OpenAI, Ollama, vLLM
    modalities: list[Literal["image", "text"]] | None = None
    image_config: ImageConfig | None = None  # OpenRouter image models
    provider: ProviderPreferences | None = None  # OpenRouter

    def body(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)


def schema_name(text: str) -> str:
    """A json_schema ``name``: letters, digits, _ and - only, at most 64 characters."""
    return (re.sub(r"[^A-Za-z0-9_-]+", "_", text).strip("_") or "output")[:64]


# --- response -----------------------------------------------------------------------------------------------


class OutImageURL(_Response):
    url: str = ""


class OutImage(_Response):
    type: str = "image_url"
    image_url: OutImageURL | str | None = None

    def url(self) -> str:
        if isinstance(self.image_url, str):
            return self.image_url
        return self.image_url.url if self.image_url else ""


class OutMessage(_Response):
    role: str = "assistant"
    content: str | list[dict[str, Any]] | None = None
    refusal: str | None = None
    reasoning: str | None = None
    images: list[OutImage] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class Choice(_Response):
    index: int = 0
    finish_reason: str | None = None
    native_finish_reason: str | None = None
    message: OutMessage = Field(default_factory=OutMessage)


class ErrorBody(_Response):
    code: int | str | None = None
    message: str = ""
    metadata: dict[str, Any] | None = None


class ChatUsage(_Response):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cost: float | None = None


class ChatResponse(_Response):
    id: str = ""
    model: str = ""
    provider: str | None = None
    choices: list[Choice] | None = None
    usage: ChatUsage | None = None
    error: ErrorBody | None = None
