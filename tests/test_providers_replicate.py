"""Replicate predictions through the router, over real HTTP against the fake; webhooks."""

from __future__ import annotations

import asyncio
import base64
import json
import time

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from fakes import MP4, PNG, SECRET, NoSleep, RecordingCall
from fakes.replicate import BASE_PATH, ReplicateFake
from storyreel.config import Config
from storyreel.errors import ProviderError
from storyreel.providers.base import ImageRequest, VideoRequest
from storyreel.providers.replicate.webhooks import WebhookInbox, sign, verify, webhook_router
from storyreel.providers.router import Router

KLING = "replicate:kwaivgi/kling-v2.1"


@pytest.fixture(scope="module")
def replicate():
    with ReplicateFake().running() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(replicate):
    replicate.reset()


def make_router(fake: ReplicateFake, models: list[str] | None = None, **provider) -> Router:
    config = Config.model_validate({
        "steps": {"clips": {"models": models or [KLING]}, "keyframes": {"models": ["replicate:acme/flux"]}},
        "providers": {"replicate": {"poll_interval": 0.01, "wait": 1, **provider}},
    })
    env = {"REPLICATE_API_TOKEN": SECRET, "REPLICATE_BASE_URL": fake.url + BASE_PATH}
    return Router(config, env, sleep=NoSleep())


def clip_request(tmp_path, strategy="image-to-video", last=False) -> VideoRequest:
    first = tmp_path / "first.png"
    first.write_bytes(PNG)
    end = None
    if last:
        end = tmp_path / "last.png"
        end.write_bytes(PNG)
    return VideoRequest(step="clips", prompt="she opens the door", strategy=strategy, duration=4.2, fps=24,
                        width=1920, height=1080, out_path=tmp_path / "clips" / "s1.mp4", first_frame=first,
                        last_frame=end)


async def test_prediction_runs_to_success_and_video_is_written(replicate, tmp_path):
    call = RecordingCall()
    req = clip_request(tmp_path, "first-last-frame", last=True)
    result = await make_router(replicate).video("clips", req, call)
    assert result.path == req.out_path and req.out_path.read_bytes() == MP4
    assert result.strategy == "first-last-frame"
    assert "video/mp4" in result.note and "asked 4.2s, sent 5" in result.note
    assert [r["path"] for r in replicate.requests if r["route"] == "create"] == [
        f"{BASE_PATH}/models/kwaivgi/kling-v2.1/predictions"]
    headers = replicate.headers("create")[0]
    assert headers["prefer"] == "wait=1" and headers["authorization"] == f"Bearer {SECRET}"
    body = replicate.bodies("create")[0]
    assert set(body) == {"input"}
    assert body["input"]["start_image"].startswith("data:image/png;base64,")
    assert body["input"]["end_image"].startswith("data:image/png;base64,")
    assert body["input"]["duration"] == 5 and body["input"]["mode"] == "pro"
    assert replicate.counts["get"] == 2  # processing, succeeded
    # The id was saved before any poll, and forgotten once the output was safe on disk.
    assert call.saved[0]["replicate_prediction"]["model"] == "kwaivgi/kling-v2.1"
    assert "replicate_prediction" not in call.state
    assert call.attempts[0]["ok"] and call.attempts[0]["usage"].cost == pytest.approx(0.45)
    assert "elided" in call.attempts[0]["request"]["input"]["start_image"]


async def test_version_pinned_model_posts_to_predictions(replicate, tmp_path):
    version = "v" * 64
    result = await make_router(replicate, [f"replicate:acme/video-x:{version}"]).video(
        "clips", clip_request(tmp_path), RecordingCall())
    assert result.path.read_bytes() == MP4
    create = [r for r in replicate.requests if r["route"] == "create"][0]
    assert create["path"] == f"{BASE_PATH}/predictions"
    assert create["body"]["version"] == version and "input" in create["body"]


async def test_configured_webhook_is_sent_with_the_create(replicate, tmp_path):
    router = make_router(replicate, webhook="https://studio.example/webhooks/replicate")
    await router.video("clips", clip_request(tmp_path), RecordingCall())
    body = replicate.bodies("create")[0]
    assert body["webhook"] == "https://studio.example/webhooks/replicate"
    assert body["webhook_events_filter"] == ["completed"]


async def test_image_output_as_list_of_urls(replicate):
    replicate.output_shape = "list"
    req = ImageRequest(step="keyframes", prompt="a red door", width=1024, height=1024)
    result = await make_router(replicate).image("keyframes", req, RecordingCall())
    assert result.data == PNG and result.mime == "image/png"
    assert replicate.bodies("create")[0]["input"] == {"prompt": "a red door", "aspect_ratio": "1:1"}


async def test_failed_prediction_is_retried_with_a_new_one(replicate, tmp_path):
    replicate.plan = ["starting", "processing", "failed"]
    call = RecordingCall()
    with pytest.raises(ProviderError, match="failed: CUDA out of memory"):
        await make_router(replicate).video("clips", clip_request(tmp_path), call)
    assert replicate.counts["create"] == 3
    assert [a["usage"].cost for a in call.attempts] == [0, 0, 0]  # failed predictions are not billed
    assert "replicate_prediction" not in call.state


async def test_canceled_prediction_goes_to_the_next_model(replicate, tmp_path):
    replicate.plan = ["starting", "canceled"]
    call = RecordingCall()
    with pytest.raises(ProviderError, match="was canceled"):
        await make_router(replicate).video("clips", clip_request(tmp_path), call)
    assert replicate.counts["create"] == 1


async def test_resumed_call_polls_the_saved_prediction_and_creates_nothing(replicate, tmp_path):
    # A run created this prediction, saved its id on the job, then died while it was processing.
    async with httpx.AsyncClient() as client:
        created = (await client.post(f"{replicate.url}{BASE_PATH}/models/kwaivgi/kling-v2.1/predictions",
                                     json={"input": {"prompt": "she opens the door"}})).json()
    saved = {"replicate_prediction": {"id": created["id"], "model": "kwaivgi/kling-v2.1",
                                      "get": created["urls"]["get"], "cancel": created["urls"]["cancel"]}}
    resumed = RecordingCall(state=saved)
    result = await make_router(replicate).video("clips", clip_request(tmp_path), resumed)
    assert result.path.read_bytes() == MP4
    assert replicate.counts["create"] == 1  # only the original one
    assert replicate.counts["get"] == 2
    assert resumed.attempts[0]["ok"] and resumed.attempts[0]["request"] is None  # nothing was sent to create
    assert "replicate_prediction" not in resumed.state


async def test_saved_prediction_of_another_model_is_not_resumed(replicate, tmp_path):
    saved = {"replicate_prediction": {"id": "gone", "model": "someone/else", "get": "", "cancel": ""}}
    await make_router(replicate).video("clips", clip_request(tmp_path), RecordingCall(state=saved))
    assert replicate.counts["create"] == 1 and replicate.counts["get"] == 2


async def test_cancelling_the_task_cancels_the_prediction(replicate, tmp_path):
    replicate.plan = ["starting", "processing"]
    call = RecordingCall()
    task = asyncio.create_task(make_router(replicate).video("clips", clip_request(tmp_path), call))
    while replicate.counts["get"] < 2:
        await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert replicate.counts["cancel"] == 1
    pid = next(iter(replicate.predictions))
    assert replicate.predictions[pid]["public"]["status"] == "canceled"
    assert "replicate_prediction" not in call.state
    assert call.attempts[-1]["error"] == "cancelled"


async def test_lost_create_answer_is_not_posted_again(replicate, tmp_path):
    replicate.inject("create", delay=2.0, passthrough=True)
    call = RecordingCall()
    router = make_router(replicate, [KLING, "replicate:acme/video-b"], timeout=0.3, wait=1)
    result = await router.video("clips", clip_request(tmp_path), call)
    # kling's create got no answer within timeout + wait: it is not re-sent; the next model runs instead.
    assert [r["path"] for r in replicate.requests if r["route"] == "create"] == [
        f"{BASE_PATH}/models/kwaivgi/kling-v2.1/predictions", f"{BASE_PATH}/models/acme/video-b/predictions"]
    assert result.model == "replicate:acme/video-b"
    assert "not sent again" in call.attempts[0]["error"]
    assert call.attempts[0]["usage"].cost == pytest.approx(0.45)  # it may be billed: counted


async def test_create_refused_with_429_is_retried(replicate, tmp_path):
    replicate.inject("create", status=429, headers={"Retry-After": "1"},
                     json={"detail": "Request was throttled. Expected available in 1 second.", "status": 429})
    call = RecordingCall()
    await make_router(replicate).video("clips", clip_request(tmp_path), call)
    assert replicate.counts["create"] == 2
    assert "Request was throttled" in call.attempts[0]["error"]


async def test_truncated_download_is_fetched_again_without_a_new_prediction(replicate, tmp_path):
    replicate.inject("file", body=MP4[:100], headers={"content-length": str(len(MP4))}, times=3)
    call = RecordingCall()
    result = await make_router(replicate).video("clips", clip_request(tmp_path), call)
    assert result.path.read_bytes() == MP4
    assert replicate.counts["create"] == 1
    assert replicate.counts["file"] == 4
    assert "truncated" in call.attempts[0]["error"] or "broke off" in call.attempts[0]["error"]


async def test_wrong_magic_bytes_start_a_new_prediction(replicate, tmp_path):
    replicate.inject("file", body=b"<html>expired</html>")
    call = RecordingCall()
    result = await make_router(replicate).video("clips", clip_request(tmp_path), call)
    assert result.path.read_bytes() == MP4
    assert "did not return a video file" in call.attempts[0]["error"]
    assert replicate.counts["create"] == 2


async def test_strategy_degrades_to_what_the_model_offers(replicate, tmp_path):
    req = clip_request(tmp_path, "text-to-video")
    result = await make_router(replicate).video("clips", req, RecordingCall())
    assert result.strategy == "image-to-video"
    assert result.note.startswith("degraded: asked for text-to-video")
    # kling needs a start image: without one it cannot run at all.
    req.first_frame = None
    with pytest.raises(ProviderError, match="cannot make text-to-video from the frames given"):
        await make_router(replicate).video("clips", req, RecordingCall())


# --- webhooks -----------------------------------------------------------------------------------------------

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def signed(body: bytes, msg_id="msg_1", stamp=None, secret=WHSEC) -> dict[str, str]:
    stamp = int(time.time()) if stamp is None else stamp
    return {"webhook-id": msg_id, "webhook-timestamp": str(stamp),
            "webhook-signature": sign(msg_id, stamp, body, secret)}


def test_webhook_signature_checks():
    body = b'{"id": "p1", "status": "succeeded"}'
    headers = signed(body)
    assert verify(headers, body, WHSEC)
    assert not verify(headers, body + b" ", WHSEC)
    other = "whsec_" + base64.b64encode(b"another secret, 32 bytes long!!").decode()
    assert not verify(headers, body, other)
    # Several signatures (a key rotation): any v1 match counts; unknown versions are ignored.
    headers["webhook-signature"] = "v1,AAAA v2,zzz " + headers["webhook-signature"]
    assert verify(headers, body, WHSEC)
    old = signed(body, stamp=int(time.time()) - 400)
    assert not verify(old, body, WHSEC)
    assert verify(old, body, WHSEC, now=int(time.time()) - 400)
    assert not verify({}, body, WHSEC)


def test_webhook_inbox_and_router():
    got = []
    app = FastAPI()
    app.include_router(webhook_router(WHSEC, got.append))
    client = TestClient(app)
    body = json.dumps({"id": "p1", "status": "succeeded", "output": "https://x/y.mp4"}).encode()
    first = client.post("/webhooks/replicate", content=body, headers=signed(body, "msg_9"))
    again = client.post("/webhooks/replicate", content=body, headers=signed(body, "msg_9"))
    forged = client.post("/webhooks/replicate", content=body, headers={**signed(body, "msg_10"),
                                                                       "webhook-signature": "v1,AAAA"})
    assert (first.status_code, again.status_code, again.text) == (200, 200, "duplicate")
    assert forged.status_code == 401
    assert got == [{"id": "p1", "status": "succeeded", "output": "https://x/y.mp4"}]
    inbox = WebhookInbox(size=2)
    assert [inbox.accept(i) for i in ("a", "b", "a", "c", "a", "b")] == [True, True, False, True, False, True]
