"""OpenAI-compatible chat (OpenRouter dialect) through the router, over real HTTP against the fake."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import BaseModel, ConfigDict

from fakes import PNG, SECRET, NoSleep, RecordingCall
from fakes.openai_chat import BASE_PATH, ChatFake, completion
from storyreel.config import Config
from storyreel.errors import ProviderError
from storyreel.providers.base import ImageRequest, TextRequest
from storyreel.providers.router import Router


class Outline(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str
    beats: list[str]


@pytest.fixture(scope="module")
def chat():
    with ChatFake().running() as fake:
        yield fake


@pytest.fixture(autouse=True)
def _fresh(chat):
    chat.reset()


def make_router(chat: ChatFake, config: dict | None = None, sleep: NoSleep | None = None) -> Router:
    env = {"OPENROUTER_API_KEY": SECRET, "OPENROUTER_BASE_URL": chat.url + BASE_PATH}
    return Router(Config.model_validate(config or {}), env, sleep=sleep or NoSleep())


def outline_request(**kw) -> TextRequest:
    return TextRequest(step="beats", system="You outline films.", context={"idea": "a heist"}, output=Outline,
                       **kw)


TWO_MODELS = {"steps": {"beats": {"models": ["openrouter:a/one", "openrouter:b/two"], "attempts": 3}}}


async def test_structured_text_answer(chat):
    config = {"steps": {"beats": {"models": ["openrouter:openai/gpt-5"], "reasoning": "high"}}}
    router = make_router(chat, config)
    call = RecordingCall()
    result = await router.text("beats", outline_request(), call)
    await router.aclose()
    assert result.output == Outline(title="A title", beats=["one", "two"])
    assert result.model == "openrouter:openai/gpt-5"
    assert result.usage.cost == pytest.approx(0.001) and result.usage.input_tokens == 12
    body = chat.bodies("chat")[0]
    assert body["model"] == "openai/gpt-5"
    assert body["messages"][0] == {"role": "system", "content": "You outline films."}
    assert json.loads(body["messages"][1]["content"]) == {"idea": "a heist"}
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "beats"
    assert body["response_format"]["json_schema"]["strict"] is True
    assert body["response_format"]["json_schema"]["schema"] == Outline.model_json_schema()
    assert body["reasoning"] == {"effort": "high"}
    assert body["provider"] == {"require_parameters": True}
    assert chat.headers("chat")[0]["authorization"] == f"Bearer {SECRET}"
    assert [a["ok"] for a in call.attempts] == [True]
    assert call.attempts[0]["request"] == body
    assert router.budget.spent == pytest.approx(0.001)


async def test_images_in_go_after_the_text_as_data_urls(chat, tmp_path):
    ref = tmp_path / "ref.png"
    ref.write_bytes(PNG)
    router = make_router(chat)
    call = RecordingCall()
    await router.text("beats", outline_request(images=[ref]), call)
    parts = chat.bodies("chat")[0]["messages"][-1]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url"]
    assert parts[1]["image_url"]["url"].startswith("data:image/png;base64,iVBOR")
    recorded = call.attempts[0]["request"]["messages"][-1]["content"][1]["image_url"]["url"]
    assert recorded.startswith("data:image/png;base64,<") and "elided" in recorded


@pytest.mark.parametrize("headers, expected", [
    ({"Retry-After": "3"}, 3.0),
    ({"retry-after-ms": "250", "Retry-After": "9"}, 0.25),
])
async def test_429_waits_what_the_server_asks(chat, headers, expected):
    chat.inject("chat", status=429, headers=headers, json={"error": {"code": 429, "message": "slow down"}})
    sleep = NoSleep()
    call = RecordingCall()
    result = await make_router(chat, sleep=sleep).text("beats", outline_request(), call)
    assert result.output.title == "A title"
    assert sleep.delays == [pytest.approx(expected)]
    assert [a["ok"] for a in call.attempts] == [False, True]
    assert "HTTP 429: slow down" in call.attempts[0]["error"]


async def test_429_with_http_date_retry_after(chat):
    when = datetime.now(UTC) + timedelta(seconds=20)
    chat.inject("chat", status=429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    sleep = NoSleep()
    await make_router(chat, sleep=sleep).text("beats", outline_request(), RecordingCall())
    assert 17 <= sleep.delays[0] <= 20


async def test_retry_after_is_capped(chat):
    chat.inject("chat", status=503, headers={"Retry-After": "3600"})
    sleep = NoSleep()
    router = make_router(chat, {"max_retry_wait": 5}, sleep=sleep)
    await router.text("beats", outline_request(), RecordingCall())
    assert sleep.delays == [5]


async def test_5xx_are_retried_with_backoff(chat):
    for status in (500, 502, 503):
        chat.inject("chat", status=status)
    config = {"steps": {"beats": {"attempts": 4}}}
    sleep = NoSleep()
    call = RecordingCall()
    await make_router(chat, config, sleep=sleep).text("beats", outline_request(), call)
    assert [a["ok"] for a in call.attempts] == [False, False, False, True]
    assert chat.counts["chat"] == 4
    # min(0.5 * 2**n, 8) less up to 25 % jitter
    for n, delay in enumerate(sleep.delays):
        assert 0.75 * 0.5 * 2**n <= delay <= 0.5 * 2**n


async def test_slow_answer_times_out_and_is_retried(chat):
    chat.inject("chat", delay=1.5, passthrough=True)
    config = {"providers": {"openrouter": {"timeout": 0.3}}}
    call = RecordingCall()
    result = await make_router(chat, config).text("beats", outline_request(), call)
    assert result.output.title == "A title"
    assert "timed out after 0.3s" in call.attempts[0]["error"]


@pytest.mark.parametrize("body, fragment", [
    ({"error": {"code": 502, "message": "upstream died"}}, "HTTP 502: upstream died"),
    ({"error": {"message": "mid-stream failure"}}, "mid-stream failure"),
    ({"id": "gen-1", "object": "chat.completion"}, "no choices"),
    (completion("", finish_reason="length"), "finish_reason length"),
    (completion("{not json"), "not valid JSON"),
    (completion('{"title": "x"}'), "does not match the Outline schema: beats"),
    (completion("   "), "empty answer"),
])
async def test_bad_200_answers_are_retried(chat, body, fragment):
    chat.inject("chat", json=body)
    call = RecordingCall()
    result = await make_router(chat).text("beats", outline_request(), call)
    assert result.output.title == "A title"
    assert [a["ok"] for a in call.attempts] == [False, True]
    assert fragment in call.attempts[0]["error"]


async def test_error_in_200_with_fatal_code_goes_to_next_model(chat):
    chat.inject("chat", json={"error": {"code": 400, "message": "bad schema"}})
    call = RecordingCall()
    result = await make_router(chat, TWO_MODELS).text("beats", outline_request(), call)
    assert result.model == "openrouter:b/two"
    assert [(a["model"], a["ok"]) for a in call.attempts] == [("openrouter:a/one", False),
                                                              ("openrouter:b/two", True)]


async def test_exhausted_retries_fall_back_to_the_next_model(chat):
    chat.inject("chat", status=503, times=3)
    call = RecordingCall()
    result = await make_router(chat, TWO_MODELS).text("beats", outline_request(), call)
    assert result.model == "openrouter:b/two"
    assert [(a["model"], a["ok"]) for a in call.attempts] == [
        ("openrouter:a/one", False), ("openrouter:a/one", False), ("openrouter:a/one", False),
        ("openrouter:b/two", True)]
    assert [b["model"] for b in chat.bodies("chat")] == ["a/one"] * 3 + ["b/two"]


async def test_fatal_401_goes_to_the_next_model_at_once(chat):
    chat.inject("chat", status=401, json={"error": {"code": 401, "message": "No auth credentials found"}})
    sleep = NoSleep()
    call = RecordingCall()
    result = await make_router(chat, TWO_MODELS, sleep=sleep).text("beats", outline_request(), call)
    assert result.model == "openrouter:b/two"
    assert [a["model"] for a in call.attempts] == ["openrouter:a/one", "openrouter:b/two"]
    assert sleep.delays == []


async def test_all_models_failing_raises_one_line_naming_everything(chat):
    chat.inject("chat", status=500, times=6, json={"error": {"code": 500, "message": "boom\nsecond line"}})
    with pytest.raises(ProviderError) as info:
        await make_router(chat, TWO_MODELS).text("beats", outline_request(), RecordingCall())
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("step beats: every model failed (tried openrouter:a/one, openrouter:b/two)")
    assert "last: openrouter:b/two: HTTP 500: boom second line" in message


@pytest.mark.parametrize("shape", ["images", "string", "content"])
async def test_image_answer_shapes(chat, shape, tmp_path):
    chat.image_shape = shape
    ref = tmp_path / "ref.png"
    ref.write_bytes(PNG)
    router = make_router(chat)
    req = ImageRequest(step="keyframes", prompt="a red door", width=1920, height=1080, references=[ref])
    result = await router.image("keyframes", req, RecordingCall())
    assert result.data == PNG and result.mime == "image/png"
    assert result.model == "openrouter:google/gemini-2.5-flash-image"
    body = chat.bodies("chat")[0]
    assert body["modalities"] == ["image", "text"]
    assert body["image_config"] == {"aspect_ratio": "16:9"}
    assert [p["type"] for p in body["messages"][0]["content"]] == ["text", "image_url"]


async def test_empty_image_answer_is_retried(chat):
    chat.image_shape = "empty"
    call = RecordingCall()
    req = ImageRequest(step="keyframes", prompt="a red door", width=512, height=512)
    with pytest.raises(ProviderError, match="answered without an image"):
        await make_router(chat).image("keyframes", req, call)
    assert chat.counts["chat"] == 3
    assert len(call.attempts) == 3


async def test_key_never_leaks(chat):
    """The fake echoes the key it got in its 401 message: it must reach no record, error or description."""
    chat.require_key = "the-right-key"
    config = Config.model_validate(TWO_MODELS)
    env = {"OPENROUTER_API_KEY": SECRET, "OPENROUTER_BASE_URL": chat.url + BASE_PATH}
    router = Router(config, env, sleep=NoSleep(), steps={"beats": "text", "keyframes": "image"})
    call = RecordingCall()
    with pytest.raises(ProviderError) as info:
        await router.text("beats", outline_request(), call)
    assert "Incorrect API key provided" in call.attempts[0]["error"]
    seen = [json.dumps(call.attempts, default=str), str(info.value), repr(info.value),
            json.dumps(router.describe()), json.dumps(router.fingerprint("beats", "text")), repr(router),
            repr(router.config),
            config.model_dump_json(), repr(router._adapter("openrouter").http)]
    for text in seen:
        assert SECRET not in text and "SECRET123" not in text
    await router.aclose()
