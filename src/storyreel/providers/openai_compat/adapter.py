"""Chat completions for text (structured output) and, on OpenRouter, images (``modalities``)."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from storyreel.config import Route, aspect_ratio
from storyreel.errors import FatalProviderError, RetryableError
from storyreel.providers.base import Call, ImageRequest, ImageResult, TextRequest, TextResult, Usage
from storyreel.providers.http import (
    Http,
    check_media,
    data_url,
    decode_data_url,
    record_request,
    record_usage,
    status_error,
)
from storyreel.providers.openai_compat.api import (
    ChatRequest,
    ChatResponse,
    ImageConfig,
    ImagePart,
    ImageURL,
    JSONSchema,
    Message,
    OutMessage,
    ProviderPreferences,
    ReasoningConfig,
    ResponseFormat,
    TextPart,
    schema_name,
)

_DATA_URL_IN_TEXT = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=]+")
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)
# Ollama accepts only these efforts.
_OLLAMA_EFFORT = {"minimal": "low", "xhigh": "high"}


class OpenAICompatAdapter:
    """One OpenAI-compatible server. ``openrouter`` turns on its extras (``provider``, ``reasoning`` object,
    image output); elsewhere reasoning goes as ``reasoning_effort`` and images are not produced here."""

    def __init__(self, name: str, http: Http, *, openrouter: bool = False) -> None:
        self.name = name
        self.http = http
        self.openrouter = openrouter

    def __repr__(self) -> str:
        return f"OpenAICompatAdapter({self.name!r})"

    def capabilities(self) -> set[str]:
        return {"text", "image"} if self.openrouter else {"text"}

    # --- text -----------------------------------------------------------------------------------------------

    async def text(self, req: TextRequest, route: Route, call: Call) -> TextResult:
        prompt = req.user_prompt()
        content: Any = prompt
        if req.images:
            content = [TextPart(text=prompt), *(_image_part(p) for p in req.images)]
        messages = [Message(role="system", content=req.system)] if req.system else []
        messages.append(Message(role="user", content=content))
        request = ChatRequest(
            model=route.model,
            messages=messages,
            response_format=ResponseFormat(json_schema=JSONSchema(
                name=schema_name(req.step), schema=req.output.model_json_schema())),
            **self._reasoning(route),
            provider=ProviderPreferences() if self.openrouter else None,
        )
        message, usage = await self._complete(request, call)
        raw = message.text()
        data = _parse_json(raw)
        try:
            output = req.output.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "answer"
            raise RetryableError(f"answer does not match the {req.output.__name__} schema: {where}: "
                                 f"{first['msg']}") from None
        return TextResult(output=output, raw=raw, usage=usage, model=route.key)

    def _reasoning(self, route: Route) -> dict[str, Any]:
        if not route.reasoning:
            return {}
        if self.openrouter:
            return {"reasoning": ReasoningConfig(effort=route.reasoning)}
        if self.name == "ollama":
            return {"reasoning_effort": _OLLAMA_EFFORT.get(route.reasoning, route.reasoning)}
        return {"reasoning_effort": route.reasoning}

    # --- image ----------------------------------------------------------------------------------------------

    async def image(self, req: ImageRequest, route: Route, call: Call) -> ImageResult:
        if not self.openrouter:
            raise FatalProviderError(f"{self.name} chat completions do not make images")
        ratio = aspect_ratio(req.width, req.height)
        text = f"{req.prompt}\n\nAspect ratio {ratio} ({req.width}x{req.height} pixels)."
        request = ChatRequest(
            model=route.model,
            messages=[Message(role="user",
                              content=[TextPart(text=text), *(_image_part(p) for p in req.references)])],
            modalities=["image", "text"],
            image_config=ImageConfig(aspect_ratio=ratio),
            provider=ProviderPreferences(),
        )
        message, usage = await self._complete(request, call, want_text=False)
        url = _image_url(message)
        if not url:
            raise RetryableError(f"{route.key} answered without an image")
        if url.startswith("data:"):
            data = decode_data_url(url)
            mime = check_media(data, "image", route.key)
        else:
            data, mime = await self.http.download(url, "image")
        return ImageResult(data=data, mime=mime, usage=usage, model=route.key)

    # --- shared ---------------------------------------------------------------------------------------------

    async def _complete(self, request: ChatRequest, call: Call,
                        want_text: bool = True) -> tuple[OutMessage, Usage]:
        body = request.body()
        record_request(call, body)
        data = await self.http.json("POST", "chat/completions", json_body=body)
        try:
            answer = ChatResponse.model_validate(data)
        except ValidationError:
            raise RetryableError(f"{self.name}: answer is not a chat completion") from None
        usage = Usage()
        if answer.usage is not None:
            reported = answer.usage
            usage = Usage(reported.prompt_tokens, reported.completion_tokens, reported.cost or 0.0)
            record_usage(call, usage)
        # After generation has started OpenRouter reports errors as HTTP 200 with an error object.
        if answer.error is not None:
            code = _int(answer.error.code)
            message = self.http.scrub(answer.error.message or "error without a message")
            if code is None:
                raise RetryableError(f"{self.name}: error in answer: {message}")
            raise status_error(code, message)
        if not answer.choices:
            raise RetryableError(f"{self.name}: answer has no choices")
        choice = answer.choices[0]
        message = choice.message
        if want_text and not message.text().strip():
            if choice.finish_reason == "length":
                raise RetryableError(f"{self.name}: answer cut off at the token limit (finish_reason length) "
                                     "before any content: reasoning used up the tokens")
            if message.refusal:
                raise FatalProviderError(f"{self.name}: model refused: {message.refusal[:200]}")
            raise RetryableError(f"{self.name}: empty answer (finish_reason {choice.finish_reason})")
        return message, usage


def _image_part(path: Any) -> ImagePart:
    return ImagePart(image_url=ImageURL(url=data_url(path)))


def _image_url(message: OutMessage) -> str:
    """The first image in any of the shapes seen: ``images[].image_url.url``, ``image_url`` as a plain string,
    image parts inside ``content``, or a data URL inside the text."""
    for image in message.images or []:
        if image.url():
            return image.url()
    if isinstance(message.content, list):
        for part in message.content:
            if part.get("type") == "image_url":
                inner = part.get("image_url")
                url = inner.get("url") if isinstance(inner, dict) else inner
                if url:
                    return str(url)
    match = _DATA_URL_IN_TEXT.search(message.text())
    return match.group(0) if match else ""


def _parse_json(raw: str) -> Any:
    fenced = _FENCE.match(raw)
    text = fenced.group(1) if fenced else raw
    try:
        return json.loads(text)
    except ValueError as exc:
        raise RetryableError(f"answer is not valid JSON ({exc.msg} at char {exc.pos})") from None


def _int(code: Any) -> int | None:
    try:
        return int(code)
    except (TypeError, ValueError):
        return None
