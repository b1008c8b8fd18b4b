"""Every adapter's recorded request, and what reached the fake, speak the wire formats of PROVIDERS.md.

The field names below are copied from the shared reference sheet PROVIDERS.md; a field the adapter sends that
the sheet does not list fails here, as does a recorded request holding the key or image data.
"""

from __future__ import annotations

import json

import pytest
from pydantic import BaseModel

from fakes import PNG, SECRET, NoSleep, RecordingCall
from fakes.fal import FalFake
from fakes.openai_chat import BASE_PATH as CHAT_BASE
from fakes.openai_chat import ChatFake
from fakes.openai_images import BASE_PATH as IMAGES_BASE
from fakes.openai_images import ImagesFake
from fakes.replicate import BASE_PATH as REPLICATE_BASE
from fakes.replicate import ReplicateFake
from storyreel.config import Config
from storyreel.providers.base import ImageRequest, TextRequest, VideoRequest
from storyreel.providers.router import Router

# OpenRouter chat request fields, plus ``image_config`` (OpenRouter's documented aspect-ratio option for image
# models, which the sheet does not list).
CHAT_FIELDS = {"model", "messages", "response_format", "reasoning", "modalities", "provider", "image_config"}
RESPONSE_FORMAT = {"type": "json_schema", "json_schema": {"name", "strict", "schema"}}
PART_FIELDS = {"text": {"type", "text"}, "image_url": {"type", "image_url"}}
REASONING_EFFORTS = {"minimal", "low", "medium", "high", "none", "xhigh"}
IMAGES_FIELDS = {"model", "prompt", "n", "size", "quality", "background", "output_format"}
REPLICATE_FIELDS = {"version", "input", "webhook", "webhook_events_filter"}


class Scene(BaseModel):
    heading: str


@pytest.fixture(scope="module")
def fakes():
    chat, images, replicate, fal = ChatFake(), ImagesFake(), ReplicateFake(), FalFake()
    with chat.running(), images.running(), replicate.running(), fal.running():
        yield {"chat": chat, "images": images, "replicate": replicate, "fal": fal}


@pytest.fixture
def router(fakes):
    config = Config.model_validate({
        "steps": {
            "screenplay": {"models": ["openrouter:openai/gpt-5"], "reasoning": "medium"},
            "keyframes": {"models": ["openrouter:google/gemini-2.5-flash-image"]},
            "sheets": {"models": ["openai:gpt-image-1"]},
            "clips": {"models": ["replicate:kwaivgi/kling-v2.1"]},
            "shots": {"models": ["fal:fal-ai/kling-video/v2.1/pro/image-to-video"]},
        },
        "providers": {"replicate": {"poll_interval": 0.01}, "fal": {"poll_interval": 0.01}},
    })
    env = {"OPENROUTER_API_KEY": SECRET, "OPENROUTER_BASE_URL": fakes["chat"].url + CHAT_BASE,
           "OPENAI_API_KEY": SECRET, "OPENAI_BASE_URL": fakes["images"].url + IMAGES_BASE,
           "REPLICATE_API_TOKEN": SECRET, "REPLICATE_BASE_URL": fakes["replicate"].url + REPLICATE_BASE,
           "FAL_KEY": SECRET, "FAL_QUEUE_URL": fakes["fal"].url}
    fakes["chat"].answer = {"heading": "INT. HALL - NIGHT"}
    return Router(config, env, sleep=NoSleep())


def no_secret_or_data(call: RecordingCall) -> None:
    text = json.dumps(call.attempts, default=str)
    assert SECRET not in text
    assert "iVBOR" not in text  # base64 PNG never recorded


def check_parts(messages: list[dict]) -> None:
    for message in messages:
        assert set(message) == {"role", "content"}
        if isinstance(message["content"], list):
            kinds = [part["type"] for part in message["content"]]
            assert kinds[0] == "text" and set(kinds[1:]) <= {"image_url"}  # text first, then images
            for part in message["content"]:
                assert set(part) == PART_FIELDS[part["type"]]
                if part["type"] == "image_url":
                    assert set(part["image_url"]) == {"url"}


async def test_openrouter_text(router, fakes, tmp_path):
    ref = tmp_path / "r.png"
    ref.write_bytes(PNG)
    call = RecordingCall()
    req = TextRequest(step="screenplay", system="s", context={"a": 1}, output=Scene, images=[ref])
    await router.text("screenplay", req, call)
    sent = fakes["chat"].bodies("chat")[-1]
    assert set(sent) <= CHAT_FIELDS
    assert set(sent["response_format"]) == set(RESPONSE_FORMAT)
    assert sent["response_format"]["type"] == "json_schema"
    assert set(sent["response_format"]["json_schema"]) == RESPONSE_FORMAT["json_schema"]
    assert sent["reasoning"] == {"effort": "medium"} and sent["reasoning"]["effort"] in REASONING_EFFORTS
    assert sent["provider"] == {"require_parameters": True}
    check_parts(sent["messages"])
    assert set(call.attempts[0]["request"]) == set(sent)
    no_secret_or_data(call)


async def test_openrouter_image(router, fakes):
    call = RecordingCall()
    await router.image("keyframes", ImageRequest(step="keyframes", prompt="p", width=640, height=360), call)
    sent = fakes["chat"].bodies("chat")[-1]
    assert set(sent) <= CHAT_FIELDS
    assert sent["modalities"] == ["image", "text"]
    check_parts(sent["messages"])
    assert call.attempts[0]["request"] == sent
    no_secret_or_data(call)


async def test_openai_images(router, fakes, tmp_path):
    call = RecordingCall()
    await router.image("sheets", ImageRequest(step="sheets", prompt="p", width=512, height=512), call)
    assert set(fakes["images"].bodies("generations")[-1]) <= IMAGES_FIELDS
    ref = tmp_path / "r.png"
    ref.write_bytes(PNG)
    edit_request = ImageRequest(step="sheets", prompt="p", width=512, height=512, references=[ref])
    await router.image("sheets", edit_request, call)
    edit = fakes["images"].bodies("edits")[-1]
    assert set(edit) <= IMAGES_FIELDS | {"image[]", "mask"} and "image[]" in edit
    no_secret_or_data(call)


async def test_replicate(router, fakes, tmp_path):
    first = tmp_path / "f.png"
    first.write_bytes(PNG)
    call = RecordingCall()
    req = VideoRequest(step="clips", prompt="p", strategy="image-to-video", duration=5, fps=24, width=1280,
                       height=720, out_path=tmp_path / "c.mp4", first_frame=first)
    await router.video("clips", req, call)
    create = [r for r in fakes["replicate"].requests if r["route"] == "create"][-1]
    assert set(create["body"]) <= REPLICATE_FIELDS and "input" in create["body"]
    assert create["path"] == f"{REPLICATE_BASE}/models/kwaivgi/kling-v2.1/predictions"
    assert create["headers"]["prefer"].startswith("wait")
    assert create["headers"]["authorization"] == f"Bearer {SECRET}"
    assert set(call.attempts[0]["request"]) == set(create["body"])
    no_secret_or_data(call)


async def test_fal(router, fakes, tmp_path):
    first = tmp_path / "f.png"
    first.write_bytes(PNG)
    call = RecordingCall()
    req = VideoRequest(step="shots", prompt="p", strategy="image-to-video", duration=5, fps=24, width=1280,
                       height=720, out_path=tmp_path / "c.mp4", first_frame=first)
    await router.video("shots", req, call)
    submit = [r for r in fakes["fal"].requests if r["route"] == "submit"][-1]
    # The model input is the body itself, no envelope; auth is "Key ...".
    assert set(submit["body"]) == {"prompt", "image_url", "duration"}
    assert submit["headers"]["authorization"] == f"Key {SECRET}"
    methods = {r["route"]: r["method"] for r in fakes["fal"].requests}
    assert methods["status"] == "GET" and methods["result"] == "GET"
    assert set(call.attempts[0]["request"]) == set(submit["body"])
    no_secret_or_data(call)
