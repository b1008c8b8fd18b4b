"""The fal queue through the router, over real HTTP against the fake."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from fakes import MP4, PNG, SECRET, NoSleep, RecordingCall
from fakes.fal import FalFake
from storyreel.config import Config
from storyreel.errors import ProviderError
from storyreel.providers.base import ImageRequest, VideoRequest
from storyreel.providers.router import Router

KLING = "fal-ai/kling-video/v2.1/pro/image-to-video"


@pytest.fixture(scope="module")
def fal():
    with FalFake().running() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(fal):
    fal.reset()


def make_router(fake: FalFake) -> Router:
    config = Config.model_validate({
        "steps": {"clips": {"models": [f"fal:{KLING}"]}, "keyframes": {"models": ["fal:fal-ai/flux/dev"]}},
        "providers": {"fal": {"poll_interval": 0.01}},
    })
    return Router(config, {"FAL_KEY": SECRET, "FAL_QUEUE_URL": fake.url}, sleep=NoSleep())


def clip_request(tmp_path) -> VideoRequest:
    first = tmp_path / "first.png"
    first.write_bytes(PNG)
    return VideoRequest(step="clips", prompt="the door creaks", strategy="image-to-video", duration=7, fps=24,
                        width=1920, height=1080, out_path=tmp_path / "c.mp4", first_frame=first)


async def test_submit_poll_result_download(fal, tmp_path):
    call = RecordingCall()
    result = await make_router(fal).video("clips", clip_request(tmp_path), call)
    assert result.path.read_bytes() == MP4 and "video/mp4" in result.note and "sent '10'" in result.note
    submit = [r for r in fal.requests if r["route"] == "submit"][0]
    assert submit["path"] == f"/{KLING}"
    assert submit["headers"]["authorization"] == f"Key {SECRET}"
    assert submit["body"]["prompt"] == "the door creaks" and submit["body"]["duration"] == "10"
    assert submit["body"]["image_url"].startswith("data:image/png;base64,")
    # The returned URLs (without the endpoint sub-path) were used for status and result.
    assert {r["path"] for r in fal.requests if r["route"] in ("status", "result")} == {
        f"/fal-ai/kling-video/requests/{next(iter(fal.jobs))}/status",
        f"/fal-ai/kling-video/requests/{next(iter(fal.jobs))}"}
    assert fal.counts["status"] == 2
    assert call.saved[0]["fal_request"]["request_id"] == next(iter(fal.jobs))
    assert "fal_request" not in call.state
    assert call.attempts[0]["request"]["image_url"].endswith("elided>")


async def test_image_result(fal):
    req = ImageRequest(step="keyframes", prompt="a red door", width=1024, height=768)
    result = await make_router(fal).image("keyframes", req, RecordingCall())
    assert result.data == PNG
    assert fal.bodies("submit")[0] == {"prompt": "a red door", "image_size": {"width": 1024, "height": 768}}


async def test_completed_with_error_is_retried(fal, tmp_path):
    fal.fail_with = "model crashed"
    call = RecordingCall()
    with pytest.raises(ProviderError, match=r"failed \(runner_error\): model crashed"):
        await make_router(fal).video("clips", clip_request(tmp_path), call)
    assert fal.counts["submit"] == 3


async def test_resumed_call_polls_the_saved_request(fal, tmp_path):
    async with httpx.AsyncClient() as client:
        submitted = (await client.post(f"{fal.url}/{KLING}", json={"prompt": "x"})).json()
    call = RecordingCall(state={"fal_request": {"model": KLING, **submitted}})
    result = await make_router(fal).video("clips", clip_request(tmp_path), call)
    assert result.path.read_bytes() == MP4
    assert fal.counts["submit"] == 1


async def test_cancelling_the_task_cancels_the_request(fal, tmp_path):
    fal.plan = ["IN_QUEUE", "IN_PROGRESS"]
    call = RecordingCall()
    task = asyncio.create_task(make_router(fal).video("clips", clip_request(tmp_path), call))
    while fal.counts["status"] < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert fal.counts["cancel"] == 1
    assert [r["method"] for r in fal.requests if r["route"] == "cancel"] == ["PUT"]
    assert "fal_request" not in call.state
