"""OpenAI Images through the router, over real HTTP against the fake."""

from __future__ import annotations

import pytest

from fakes import PNG, SECRET, NoSleep, RecordingCall
from fakes.openai_images import BASE_PATH, ImagesFake
from storyreel.config import Config
from storyreel.errors import ProviderError
from storyreel.providers.base import ImageRequest
from storyreel.providers.router import Router

CONFIG = {"steps": {"keyframes": {"models": ["openai:gpt-image-1"]}}}


@pytest.fixture(scope="module")
def images():
    with ImagesFake().running() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(images):
    images.reset()


def make_router(images: ImagesFake) -> Router:
    env = {"OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": images.url + BASE_PATH}
    return Router(Config.model_validate(CONFIG), env, sleep=NoSleep())


async def test_generation_is_json_and_decodes_b64(images):
    call = RecordingCall()
    req = ImageRequest(step="keyframes", prompt="a red door at dusk", width=1920, height=1080)
    result = await make_router(images).image("keyframes", req, call)
    assert result.data == PNG and result.mime == "image/png"
    assert result.model == "openai:gpt-image-1"
    body = images.bodies("generations")[0]
    assert body == {"model": "gpt-image-1", "prompt": "a red door at dusk", "n": 1, "size": "1536x1024",
                    "output_format": "png"}
    assert images.headers("generations")[0]["authorization"] == f"Bearer {SECRET}"
    assert call.attempts[0]["request"] == body
    assert call.attempts[0]["usage"].input_tokens == 50
    assert call.attempts[0]["usage"].cost == pytest.approx(0.07)  # no cost reported: the model's estimate


async def test_references_go_to_edits_as_multipart_image_array(images, tmp_path):
    refs = []
    for name in ("hero.png", "street.png"):
        (tmp_path / name).write_bytes(PNG)
        refs.append(tmp_path / name)
    call = RecordingCall()
    req = ImageRequest(step="keyframes", prompt="hero on the street", width=1080, height=1920,
                       references=refs)
    result = await make_router(images).image("keyframes", req, call)
    assert result.data == PNG
    body = images.bodies("edits")[0]
    assert body["model"] == "gpt-image-1" and body["size"] == "1024x1536"
    assert [f["filename"] for f in body["image[]"]] == ["hero.png", "street.png"]
    assert all(f["size"] == len(PNG) for f in body["image[]"])
    assert call.attempts[0]["request"]["image[]"] == [f"<hero.png: {len(PNG)} bytes>",
                                                      f"<street.png: {len(PNG)} bytes>"]


async def test_empty_data_and_bad_bytes_are_retried(images):
    images.b64 = ""
    call = RecordingCall()
    req = ImageRequest(step="keyframes", prompt="x", width=512, height=512)
    with pytest.raises(ProviderError, match="answered without an image"):
        await make_router(images).image("keyframes", req, call)
    assert images.counts["generations"] == 3
    images.reset()
    images.b64 = "aGVsbG8gd29ybGQ="  # "hello world": not an image
    with pytest.raises(ProviderError, match="did not return an image file"):
        await make_router(images).image("keyframes", req, RecordingCall())


async def test_openai_error_body_is_reported(images):
    images.inject("generations", status=400, times=1,
                  json={"error": {"message": "Invalid size", "type": "invalid_request_error", "param": "size",
                                  "code": None}})
    req = ImageRequest(step="keyframes", prompt="x", width=512, height=512)
    with pytest.raises(ProviderError, match="HTTP 400: Invalid size"):
        await make_router(images).image("keyframes", req, RecordingCall())
    assert images.counts["generations"] == 1
