"""The router: chains, defaults, describe, fingerprints, budget, limits, video strategies, config."""

from __future__ import annotations

import asyncio
import json

import pytest
from pydantic import BaseModel

from fakes import SECRET, NoSleep, RecordingCall
from fakes.openai_chat import BASE_PATH, ChatFake
from storyreel.config import Config, Route, load_config
from storyreel.errors import BudgetExceeded, InputError
from storyreel.providers.base import (
    ImageRequest,
    ImageResult,
    MusicCue,
    MusicRequest,
    MusicResult,
    SpeechRequest,
    SpeechResult,
    TextRequest,
    TextResult,
    VideoRequest,
    VideoResult,
)
from storyreel.providers.limits import Budget
from storyreel.providers.router import Router

ALL = {"text", "image", "video:text-to-video", "video:image-to-video", "video:first-last-frame", "speech",
       "music"}
STEPS = {"lore": "text", "treatment": "text", "screenplay": "text", "beats": "text", "keyframes": "image",
         "clips": "video", "voices": "speech", "score": "music"}


class Note(BaseModel):
    text: str


class StandIn:
    """A tiny offline provider standing in for ``local`` (the real one lives elsewhere)."""

    name = "local"

    def __init__(self, caps: set[str] = ALL) -> None:
        self.caps = caps
        self.seen: list = []

    def capabilities(self) -> set[str]:
        return self.caps

    async def text(self, req, route, call):
        self.seen.append((route, req))
        return TextResult(output=req.output.model_validate({"text": "draft"}), raw="{}")

    async def image(self, req, route, call):
        self.seen.append((route, req))
        return ImageResult(data=b"\x89PNG\r\n\x1a\n")

    async def video(self, req, route, call):
        self.seen.append((route, req))
        req.out_path.write_bytes(b"clip")
        return VideoResult(path=req.out_path, strategy=req.strategy)

    async def speech(self, req, route, call):
        return SpeechResult(path=None, duration=1.5, voice=req.voice)

    async def music(self, req, route, call):
        return MusicResult(path=req.out_path)


def note_request(step: str = "beats") -> TextRequest:
    return TextRequest(step=step, system="", context={"x": 1}, output=Note)


# --- chains -------------------------------------------------------------------------------------------------


def test_default_chains_without_keys_are_local():
    router = Router(Config(), {}, adapters={"local": StandIn()}, steps=STEPS)
    assert router.routes("lore", "text") == [Route("local", "draft")]
    for step, kind in STEPS.items():
        if kind != "text":
            assert router.routes(step, kind) == [Route("local", "previz")]


def test_default_chains_with_keys():
    env = {"OPENROUTER_API_KEY": SECRET, "REPLICATE_API_TOKEN": SECRET}
    router = Router(Config(), env, adapters={"local": StandIn()}, steps=STEPS)
    for deep in ("lore", "treatment", "screenplay"):
        assert router.routes(deep, "text") == [Route("openrouter", "openai/gpt-5", "medium")]
    assert router.routes("beats", "text") == [Route("openrouter", "openai/gpt-5"),
                                              Route("openrouter", "google/gemini-2.5-pro")]
    assert router.routes("keyframes", "image") == [Route("openrouter", "google/gemini-2.5-flash-image")]
    assert router.routes("clips", "video") == [Route("replicate", "kwaivgi/kling-v2.1")]
    assert router.routes("voices", "speech") == [Route("local", "previz")]
    assert router.routes("score", "music") == [Route("local", "previz")]


def test_configured_chain_drops_models_without_keys_and_describe_says_why():
    config = Config.model_validate({"steps": {
        "clips": {"models": ["replicate:kwaivgi/kling-v2.1", "local:previz"]},
        "lore": {"models": ["openrouter:openai/gpt-5"], "reasoning": "high"},
    }})
    router = Router(config, {"OPENROUTER_API_KEY": SECRET}, adapters={"local": StandIn()}, steps=STEPS)
    assert router.routes("clips", "video") == [Route("local", "previz")]
    described = {d["step"]: d for d in router.describe()}
    assert described["clips"]["chain"][0] == {"provider": "replicate", "model": "kwaivgi/kling-v2.1",
                                              "reasoning": None, "ready": False,
                                              "missing": "REPLICATE_API_TOKEN not set"}
    assert described["clips"]["runs"] == "local:previz"
    assert described["lore"]["chain"][0]["reasoning"] == "high" and described["lore"]["chain"][0]["ready"]
    assert described["keyframes"]["runs"] == "openrouter:google/gemini-2.5-flash-image"
    assert described["beats"]["runs"] == "openrouter:openai/gpt-5 → openrouter:google/gemini-2.5-pro"
    assert SECRET not in json.dumps(router.describe())


def test_a_step_nothing_can_run_is_an_input_error():
    config = Config.model_validate({"steps": {"lore": {"models": ["openrouter:openai/gpt-5"]}}})
    router = Router(config, {}, adapters={"local": StandIn()})
    with pytest.raises(InputError, match=r"step lore: no model can run it \(openrouter:openai/gpt-5: "
                                         r"OPENROUTER_API_KEY not set\)"):
        router.routes("lore", "text")
    config = Config.model_validate({"steps": {"lore": {"models": ["nowhere:model"]}}})
    with pytest.raises(InputError, match="unknown provider 'nowhere'"):
        Router(config, {}).routes("lore", "text")
    config = Config.model_validate({"steps": {"keyframes": {"models": ["local:previz"]}}})
    with pytest.raises(InputError, match="local:previz cannot make image"):
        Router(config, {}, adapters={"local": StandIn({"text"})}).routes("keyframes", "image")


def test_misspelt_step_in_config_is_caught():
    config = Config.model_validate({"steps": {"lroe": {"attempts": 2}}})
    with pytest.raises(InputError, match="unknown step 'lroe'"):
        Router(config, {}, steps=STEPS)


def test_openai_compatible_servers_need_no_key():
    config = Config.model_validate({"steps": {"beats": {"models": ["ollama:llama3.1", "vllm:qwen"]}},
                                    "providers": {"ollama": {"base_url": "http://127.0.0.1:9/v1"}}})
    router = Router(config, {})
    assert [r.provider for r in router.routes("beats", "text")] == ["ollama", "vllm"]
    assert router._adapter("ollama").http.base_url == "http://127.0.0.1:9/v1"


def test_a_provider_described_in_the_config_reads_its_key_from_the_named_variable():
    config = Config.model_validate({
        "steps": {"beats": {"models": ["mine:some-model"]}},
        "providers": {"mine": {"protocol": "openai", "base_url": "http://127.0.0.1:9/v1",
                               "key_env": "MINE_KEY"}}})
    with pytest.raises(InputError, match="MINE_KEY not set"):
        Router(config, {}).routes("beats", "text")
    assert Router(config, {"MINE_KEY": SECRET}).routes("beats", "text") == [Route("mine", "some-model")]


def test_fingerprint_is_the_chain_and_nothing_secret():
    env = {"OPENROUTER_API_KEY": SECRET, "REPLICATE_API_TOKEN": SECRET}
    router = Router(Config(), env, adapters={"local": StandIn()})
    lore = router.fingerprint("lore", "text")
    assert lore == {"kind": "text", "chain": [{"provider": "openrouter", "model": "openai/gpt-5",
                                               "reasoning": "medium"}]}
    clips = router.fingerprint("clips", "video")
    assert clips["chain"][0]["params"] == {"mode": "pro"}
    assert SECRET not in json.dumps([lore, clips])
    other = Router(Config.model_validate({"steps": {"lore": {"reasoning": "high"}}}), env)
    assert other.fingerprint("lore", "text") != lore


# --- calls through a stand-in -------------------------------------------------------------------------------


async def test_calls_reach_the_local_stand_in(tmp_path):
    local = StandIn()
    router = Router(Config(), {}, adapters={"local": local})
    call = RecordingCall()
    text = await router.text("beats", note_request(), call)
    assert text.output == Note(text="draft") and text.model == "local:draft"
    image = await router.image("keyframes", ImageRequest(step="keyframes", prompt="p", width=8, height=8),
                               call)
    assert image.model == "local:previz"
    speech_request = SpeechRequest(text="hi", voice="ada", out_path=tmp_path / "a.wav")
    speech = await router.speech("voices", speech_request, call)
    assert speech.voice == "ada"
    music = await router.music("score", MusicRequest(cues=[MusicCue(0, 4, 90, "minor")], duration=4,
                                                     out_path=tmp_path / "m.wav"), call)
    assert music.path == tmp_path / "m.wav"
    assert [a["model"] for a in call.attempts] == ["local:draft"] + ["local:previz"] * 3
    assert all(a["usage"].cost == 0 for a in call.attempts)


@pytest.mark.parametrize("caps, asked, used, degraded", [
    (ALL, "first-last-frame", "first-last-frame", False),
    ({"video:image-to-video", "video:text-to-video"}, "first-last-frame", "image-to-video", True),
    ({"video:text-to-video"}, "first-last-frame", "text-to-video", True),
    ({"video:first-last-frame", "video:image-to-video"}, "text-to-video", "first-last-frame", True),
])
async def test_video_strategy_falls_back_to_the_best_the_model_has(tmp_path, caps, asked, used, degraded):
    local = StandIn(caps)
    req = VideoRequest(step="clips", prompt="p", strategy=asked, duration=3, fps=24, width=64, height=36,
                       out_path=tmp_path / "c.mp4", first_frame=tmp_path / "a.png",
                       last_frame=tmp_path / "b.png")
    result = await Router(Config(), {}, adapters={"local": local}).video("clips", req, RecordingCall())
    sent = local.seen[0][1]
    assert sent.strategy == used and result.strategy == used
    assert (sent.last_frame is not None) == (used == "first-last-frame")
    assert (sent.first_frame is not None) == (used != "text-to-video")
    assert bool(result.note) == degraded
    if degraded:
        assert result.note == f"degraded: asked for {asked}, local:previz made {used} instead"


# --- HTTP: budget, concurrency, rate ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chat():
    with ChatFake().running() as fake:
        yield fake


@pytest.fixture
def fresh_chat(chat):
    chat.reset()
    chat.answer = {"text": "ok"}
    return chat


def chat_router(chat: ChatFake, config: dict, budget: Budget | None = None) -> Router:
    env = {"OPENROUTER_API_KEY": SECRET, "OPENROUTER_BASE_URL": chat.url + BASE_PATH}
    return Router(Config.model_validate(config), env, budget=budget, sleep=NoSleep())


async def test_budget_refuses_before_any_request(fresh_chat):
    router = chat_router(fresh_chat, {"budget": 0.05})  # gpt-5's estimate is $0.06
    with pytest.raises(BudgetExceeded) as info:
        await router.text("beats", note_request(), RecordingCall())
    assert fresh_chat.counts["chat"] == 0
    assert str(info.value) == ("budget of $0.05 reached: spent $0.00, next call ~$0.06 "
                               "(openrouter:openai/gpt-5); raise it with budget = ... in storyreel.toml")


async def test_budget_counts_reported_cost_else_the_estimate(fresh_chat):
    budget = Budget(limit=0.1)
    router = chat_router(fresh_chat, {"models": {"openrouter:openai/gpt-5": {"cost": 0.04}}}, budget=budget)
    await router.text("beats", note_request(), RecordingCall())
    assert budget.spent == pytest.approx(0.001)  # the server's usage.cost
    fresh_chat.cost = None
    await router.text("beats", note_request(), RecordingCall())
    assert budget.spent == pytest.approx(0.041)  # no cost reported: the configured estimate
    await router.text("beats", note_request(), RecordingCall())
    with pytest.raises(BudgetExceeded, match=r"spent \$0\.08, next call ~\$0\.04"):
        await router.text("beats", note_request(), RecordingCall())
    assert fresh_chat.counts["chat"] == 3


async def test_concurrent_calls_cannot_overshoot_the_budget(fresh_chat):
    fresh_chat.cost = None
    fresh_chat.delay = 0.05
    router = chat_router(fresh_chat, {"budget": 0.3})
    calls = [router.text("beats", note_request(), RecordingCall()) for _ in range(10)]
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert sum(isinstance(r, TextResult) for r in results) == 5
    assert all(isinstance(r, BudgetExceeded) for r in results if not isinstance(r, TextResult))
    assert fresh_chat.counts["chat"] == 5 and router.budget.spent == pytest.approx(0.3)


async def test_concurrency_limit_holds_under_200_calls_across_steps(fresh_chat):
    fresh_chat.delay = 0.005
    router = chat_router(fresh_chat, {"providers": {"openrouter": {"concurrency": 4}}})
    calls = [router.text(step, note_request(step), RecordingCall()) for step in ("beats", "lore") * 100]
    results = await asyncio.gather(*calls)
    await router.aclose()
    assert len(results) == 200 and fresh_chat.counts["chat"] == 200
    assert fresh_chat.max_in_flight == 4


async def test_requests_per_minute_spacing(fresh_chat):
    window = 0.5
    router = chat_router(fresh_chat, {"providers": {"openrouter": {"rpm": 5, "window": window}}})
    await asyncio.gather(*(router.text("beats", note_request(), RecordingCall()) for _ in range(12)))
    times = sorted(fresh_chat.arrivals)
    assert len(times) == 12
    # No window holds more than 5 starts: the 6th after any start comes a full window later (less what
    # loopback latency can shift an arrival by).
    assert all(times[i + 5] - times[i] >= window - 0.1 for i in range(len(times) - 5))
    assert times[-1] - times[0] >= 2 * window - 0.1


# --- config -------------------------------------------------------------------------------------------------

SAMPLE = """
budget = 10.0
[steps.lore]
models = ["openrouter:openai/gpt-5", "openrouter:google/gemini-2.5-pro"]
reasoning = "medium"
attempts = 3
[providers.openrouter]
base_url = "https://openrouter.ai/api/v1"
concurrency = 8
rpm = 120
[models."openrouter:openai/gpt-5"]
cost = 0.03
"""


def test_load_config_reads_the_data_dir_file(tmp_path):
    assert load_config(tmp_path) == Config()
    assert load_config(None) == Config()
    (tmp_path / "storyreel.toml").write_text(SAMPLE)
    config = load_config(tmp_path)
    assert config.budget == 10.0
    assert config.step("lore").models == ["openrouter:openai/gpt-5", "openrouter:google/gemini-2.5-pro"]
    assert config.provider("openrouter").rpm == 120
    assert config.estimate(Route("openrouter", "openai/gpt-5")) == 0.03
    assert config.estimate(Route("local", "draft")) == 0
    other = tmp_path / "other.toml"
    other.write_text("budget = 2.5\n")
    assert load_config(tmp_path, other).budget == 2.5


@pytest.mark.parametrize("text, message", [
    ("budget = [", "not valid TOML"),
    ("[steps.lore]\nmodles = []\n", "steps.lore.modles: Extra inputs are not permitted"),
    ("[steps.lore]\nmodels = ['gpt-5']\n", "steps.lore.models: Value error, 'gpt-5' must be written"),
    ("[steps.lore]\nattempts = 0\n", "steps.lore.attempts: Input should be greater than or equal to 1"),
    (f"[providers.openrouter]\napi_key = '{SECRET}'\n", "keys are read from the environment only"),
])
def test_bad_config_is_one_line_naming_the_file(tmp_path, text, message):
    path = tmp_path / "storyreel.toml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_config(tmp_path)
    line = str(info.value)
    assert line.startswith(f"{path}: ") and message in line
    assert "\n" not in line and SECRET not in line


def test_missing_config_path_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="no such config file"):
        load_config(tmp_path, tmp_path / "nope.toml")
