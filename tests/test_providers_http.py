"""The shared HTTP helper: retry timing, media checks, request elision, key scrubbing, settings helpers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from fakes import MP4, PNG, PNG_DATA_URL, SECRET
from storyreel.config import ModelConfig, aspect_ratio
from storyreel.errors import FatalProviderError, RateLimited, RetryableError
from storyreel.providers.http import (
    BadMedia,
    Secret,
    backoff,
    check_media,
    elide,
    first_url,
    retry_after,
    retry_delay,
    scrub,
    sniff,
    status_error,
)


def test_retry_after_forms():
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert retry_after({"retry-after": "7"}) == 7
    assert retry_after({"retry-after": "1.5"}) == 1.5
    assert retry_after({"retry-after-ms": "120", "retry-after": "9"}) == pytest.approx(0.12)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert retry_after({"retry-after": later}, now=now.timestamp()) == pytest.approx(30)
    past = format_datetime(now - timedelta(seconds=30), usegmt=True)
    assert retry_after({"retry-after": past}, now=now.timestamp()) == 0
    assert retry_after({"retry-after": "soon"}) is None
    assert retry_after({}) is None


def test_backoff_and_delay():
    for n in range(8):
        top = min(0.5 * 2**n, 8)
        assert all(0.75 * top <= backoff(n) <= top for _ in range(50))
    assert retry_delay(0, RateLimited("x", 12.0), cap=5) == 5
    assert retry_delay(0, RateLimited("x", 2.0), cap=5) == 2
    assert 0.375 <= retry_delay(0, RetryableError("x")) <= 0.5


def test_status_errors():
    assert isinstance(status_error(429, "m", 1.0), RateLimited)
    for status in (408, 409, 500, 502, 503, 504):
        assert isinstance(status_error(status, "m"), RetryableError)
    for status in (400, 401, 402, 403, 404, 422):
        assert isinstance(status_error(status, "m"), FatalProviderError)


def test_magic_bytes():
    webp = b"RIFF\x10\x00\x00\x00WEBPVP8 "
    assert [sniff(d) for d in (PNG, b"\xff\xd8\xff\xe0rest", webp, MP4, b"GIF89a", b"")] == [
        "image/png", "image/jpeg", "image/webp", "video/mp4", None, None]
    assert check_media(PNG, "image", "x") == "image/png"
    with pytest.raises(BadMedia, match="did not return a video file"):
        check_media(PNG, "video", "x")
    with pytest.raises(BadMedia, match="empty image"):
        check_media(b"", "image", "x")


def test_elide_keeps_shape_and_drops_data():
    body = {"messages": [{"content": [{"type": "text", "text": "hi"},
                                      {"type": "image_url", "image_url": {"url": PNG_DATA_URL}}]}],
            "input": {"start_image": PNG_DATA_URL, "prompt": "x", "blob": "QUJD" * 300}}
    out = elide(body)
    assert out["messages"][0]["content"][0] == {"type": "text", "text": "hi"}
    url = out["messages"][0]["content"][1]["image_url"]["url"]
    assert url.startswith("data:image/png;base64,<") and url.endswith("base64 chars elided>")
    assert out["input"]["prompt"] == "x" and out["input"]["blob"] == "<1200 base64 chars elided>"
    assert body["input"]["start_image"] == PNG_DATA_URL  # the original is untouched


def test_secrets_do_not_show():
    assert SECRET not in repr(Secret(SECRET)) and SECRET not in str(Secret(SECRET))
    assert scrub(f"Incorrect API key provided: {SECRET}.", [SECRET]) == "Incorrect API key provided: ***."
    assert scrub("key sk-test-SECR**********", [SECRET]) == "key ***"


def test_first_url_shapes():
    assert first_url("https://x/a.mp4") == "https://x/a.mp4"
    assert first_url(["https://x/a.png", "https://x/b.png"]) == "https://x/a.png"
    assert first_url({"video": {"url": "https://x/v.mp4"}, "seed": 3}) == "https://x/v.mp4"
    assert first_url({"images": [{"url": "https://x/i.png"}]}) == "https://x/i.png"
    assert first_url("just some text") == ""


def test_model_settings_helpers():
    kling = ModelConfig(durations=[5, 10])
    assert [kling.pick_duration(s) for s in (3, 5, 6.5, 12)] == [5, 5, 10, 10]
    assert ModelConfig().pick_duration(4.0) == 4 and ModelConfig().pick_duration(4.5) == 4.5
    assert ModelConfig(inputs={"prompt": "text"}, params={"mode": "pro"}).build_input(
        {"prompt": "p", "first_frame": "f"}, {"prompt": "prompt", "first_frame": "image"}) == {"text": "p",
                                                                                               "mode": "pro"}
    assert [aspect_ratio(*wh) for wh in ((1920, 1080), (1080, 1920), (1000, 1000), (2560, 1080))] == [
        "16:9", "9:16", "1:1", "21:9"]
