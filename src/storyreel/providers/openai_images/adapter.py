"""Images from the OpenAI Images API: JSON generations, or multipart edits when there are references."""

from __future__ import annotations

from storyreel.config import Route
from storyreel.errors import RetryableError
from storyreel.providers.base import Call, ImageRequest, ImageResult, Usage
from storyreel.providers.http import Http, check_media, decode_b64, record_request, record_usage, sniff
from storyreel.providers.openai_images.api import GenerationRequest, ImagesResponse, size_for


class OpenAIImagesAdapter:
    def __init__(self, name: str, http: Http) -> None:
        self.name = name
        self.http = http

    def __repr__(self) -> str:
        return f"OpenAIImagesAdapter({self.name!r})"

    def capabilities(self) -> set[str]:
        return {"image"}

    async def image(self, req: ImageRequest, route: Route, call: Call) -> ImageResult:
        dalle = route.model.startswith("dall-e")
        request = GenerationRequest(
            model=route.model, prompt=req.prompt, size=size_for(route.model, req.width, req.height),
            output_format=None if dalle else "png", response_format="b64_json" if dalle else None)
        if req.references:
            files = []
            described = []
            for path in req.references:
                data = path.read_bytes()
                files.append(("image[]", (path.name, data, sniff(data) or "application/octet-stream")))
                described.append(f"<{path.name}: {len(data)} bytes>")
            record_request(call, {**request.form(), "image[]": described})
            answer = await self.http.json("POST", "images/edits", data=request.form(), files=files)
        else:
            body = request.body()
            record_request(call, body)
            answer = await self.http.json("POST", "images/generations", json_body=body)
        try:
            result = ImagesResponse.model_validate(answer)
        except ValueError:
            raise RetryableError(f"{self.name}: answer is not an images response") from None
        usage = Usage()
        if result.usage is not None:
            usage = Usage(result.usage.input_tokens, result.usage.output_tokens)
            record_usage(call, usage)
        first = result.data[0] if result.data else None
        if first is not None and first.b64_json:
            data = decode_b64(first.b64_json)
            mime = check_media(data, "image", route.key)
        elif first is not None and first.url:
            data, mime = await self.http.download(first.url, "image")
        else:
            raise RetryableError(f"{route.key} answered without an image")
        return ImageResult(data=data, mime=mime, usage=usage, model=route.key,
                           note=f"revised prompt: {first.revised_prompt}" if first.revised_prompt else "")
