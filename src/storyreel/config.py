"""Project settings: which model runs each step, provider limits, per-model cost estimates and the budget.

Read from ``storyreel.toml`` in the data dir (or the file given with ``--config``)::

    budget = 10.0                          # dollars per project (optional)
    [steps.lore]
    models = ["openrouter:openai/gpt-5", "openrouter:google/gemini-2.5-pro"]   # primary, then fallbacks
    reasoning = "medium"
    attempts = 3
    [providers.openrouter]
    base_url = "https://openrouter.ai/api/v1"
    concurrency = 8
    rpm = 120
    [models."openrouter:openai/gpt-5"]
    cost = 0.03                            # estimate per call when the server reports no cost

API keys are read from the environment only (``OPENROUTER_API_KEY``, ``OPENAI_API_KEY``,
``REPLICATE_API_TOKEN``, ``FAL_KEY``): a config object never holds one, so none can leak through a repr, a
dump or an error message.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from storyreel.errors import InputError

CONFIG_FILE = "storyreel.toml"

Reasoning = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
Capability = Literal["text", "image", "video:text-to-video", "video:image-to-video", "video:first-last-frame",
                     "video:continue", "speech", "music"]
ProtocolName = Literal["openai", "openai-images", "replicate", "fal", "local"]

MODEL_RE = re.compile(r"^[A-Za-z0-9_.-]+:\S+$")


@dataclass(frozen=True)
class Route:
    """One model of a step's chain, parsed from ``"provider:model"`` (the model part may hold more colons)."""

    provider: str
    model: str
    reasoning: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}:{self.model}"

    @classmethod
    def parse(cls, text: str, reasoning: str | None = None) -> Route:
        provider, sep, model = text.partition(":")
        if not sep or not provider or not model:
            raise InputError(f"model {text!r} must be written provider:model, e.g. openrouter:openai/gpt-5")
        return cls(provider, model, reasoning)


@dataclass(frozen=True)
class ProviderSpec:
    """What storyreel knows about a provider name without any configuration."""

    protocol: ProtocolName
    key_env: str | None = None
    base_env: str | None = None
    base_url: str = ""
    concurrency: int | None = None
    rpm: int | None = None


PROVIDERS: dict[str, ProviderSpec] = {
    "openrouter": ProviderSpec("openai", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1",
                               concurrency=8),
    "openai": ProviderSpec("openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1",
                           concurrency=4),
    "replicate": ProviderSpec("replicate", "REPLICATE_API_TOKEN", "REPLICATE_BASE_URL",
                              "https://api.replicate.com/v1", concurrency=4, rpm=600),
    "fal": ProviderSpec("fal", "FAL_KEY", "FAL_QUEUE_URL", "https://queue.fal.run", concurrency=4),
    "ollama": ProviderSpec("openai", base_url="http://127.0.0.1:11434/v1", concurrency=1),
    "vllm": ProviderSpec("openai", base_url="http://127.0.0.1:8000/v1", concurrency=4),
    "lmstudio": ProviderSpec("openai", base_url="http://127.0.0.1:1234/v1", concurrency=1),
    "local": ProviderSpec("local"),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StepConfig(_Strict):
    models: list[str] | None = Field(None, min_length=1, description="Primary model, then fallbacks.")
    reasoning: Reasoning | None = None
    attempts: int = Field(3, ge=1, le=10, description="Attempts per model before the next one is tried.")

    @field_validator("models")
    @classmethod
    def _model_strings(cls, value: list[str] | None) -> list[str] | None:
        for text in value or []:
            if not MODEL_RE.match(text):
                raise ValueError(f"{text!r} must be written provider:model")
        return value


class ProviderConfig(_Strict):
    base_url: str | None = None
    concurrency: int | None = Field(None, ge=1, description="Calls in flight at once, across all steps.")
    rpm: int | None = Field(None, ge=1, description="Calls started per window (a minute unless told).")
    window: float = Field(60.0, gt=0, description="Seconds the rpm counts over.")
    timeout: float | None = Field(None, gt=0, description="Seconds to wait for one HTTP answer.")
    poll_interval: float | None = Field(None, gt=0, description="First wait between polls of a queued job.")
    wait: int | None = Field(None, ge=1, le=60, description="Replicate: seconds a create may wait.")
    webhook: str | None = Field(None, description="Replicate: URL told to send completion webhooks to.")
    protocol: ProtocolName | None = Field(None, description="For a provider storyreel does not know by name.")
    key_env: str | None = Field(None, description="Environment variable holding the key (never the key).")


class ModelConfig(_Strict):
    cost: float | None = Field(None, ge=0, description="Estimated dollars per call.")
    capabilities: list[Capability] | None = None
    inputs: dict[str, str] | None = Field(
        None, description="storyreel's value name (prompt, first_frame, last_frame, duration, aspect_ratio, "
                          "size, references, ...) to the model's input field; values left out are not sent.")
    params: dict[str, Any] = Field(default_factory=dict, description="Fixed inputs sent as they are.")
    durations: list[int | float | str] | None = Field(
        None, description="Clip lengths the model accepts, written as the model wants them (5 or \"5\").")

    def pick_duration(self, seconds: float) -> int | float | str:
        """The accepted length nearest ``seconds``, preferring a longer one: trimming loses nothing."""
        if not self.durations:
            return round(seconds) if float(seconds).is_integer() else seconds
        longer = [d for d in self.durations if float(d) >= seconds - 1e-6]
        if longer:
            return min(longer, key=lambda d: float(d))
        return max(self.durations, key=lambda d: float(d))

    def build_input(self, values: Mapping[str, Any], default_inputs: Mapping[str, str]) -> dict[str, Any]:
        """The model's input: each known value under the model's field name, then the fixed params."""
        names = self.inputs if self.inputs is not None else default_inputs
        out = {names[k]: v for k, v in values.items() if k in names and v is not None}
        out.update(self.params)
        return out


class Config(_Strict):
    budget: float | None = Field(None, ge=0, description="Dollars per project.")
    max_retry_wait: float = Field(60.0, ge=0, description="Longest wait a server's Retry-After may ask for.")
    steps: dict[str, StepConfig] = Field(default_factory=dict)
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: dict[str, ModelConfig] = Field(default_factory=dict)

    @field_validator("models")
    @classmethod
    def _model_keys(cls, value: dict[str, ModelConfig]) -> dict[str, ModelConfig]:
        for text in value:
            if not MODEL_RE.match(text):
                raise ValueError(f"[models.{text!r}] must be written provider:model")
        return value

    # --- lookups the router uses ---------------------------------------------------------------------------

    def step(self, name: str) -> StepConfig:
        return self.steps.get(name) or StepConfig()

    def provider(self, name: str) -> ProviderConfig:
        return self.providers.get(name) or ProviderConfig()

    def provider_spec(self, name: str) -> ProviderSpec | None:
        """Built-in facts merged with ``[providers.NAME]``; None for a name nobody described."""
        spec = PROVIDERS.get(name)
        cfg = self.providers.get(name)
        if spec is None:
            if cfg is None or cfg.protocol is None:
                return None
            spec = ProviderSpec(cfg.protocol)
        if cfg is None:
            return spec
        return ProviderSpec(
            protocol=spec.protocol,
            key_env=cfg.key_env or spec.key_env,
            base_env=spec.base_env,
            base_url=cfg.base_url or spec.base_url,
            concurrency=cfg.concurrency or spec.concurrency,
            rpm=cfg.rpm or spec.rpm,
        )

    def model(self, key: str) -> ModelConfig:
        """Settings of one ``provider:model``: built-in knowledge overridden field by field by the file."""
        known = KNOWN_MODELS.get(key)
        user = self.models.get(key)
        if known is None:
            return user or ModelConfig()
        if user is None:
            return known
        return known.model_copy(update=user.model_dump(exclude_unset=True))

    def estimate(self, route: Route) -> float:
        """Dollars one call is expected to cost: the model's ``cost``; else a default for hosted providers
        and nothing for ones that need no key (local, Ollama, vLLM, LM Studio)."""
        cost = self.model(route.key).cost
        if cost is not None:
            return cost
        spec = self.provider_spec(route.provider)
        if spec is None or spec.protocol == "local" or not spec.key_env:
            return 0.0
        return DEFAULT_COST.get(spec.protocol, 0.05)

    def default_chain(self, step: str, kind: str, env: Mapping[str, str]) -> list[Route]:
        """The chain used when the file names no models for ``step`` (see the module doc)."""
        if kind == "text":
            if env.get("OPENROUTER_API_KEY"):
                if step in DEEP_TEXT_STEPS:
                    return [Route("openrouter", "openai/gpt-5", "medium")]
                return [Route("openrouter", "openai/gpt-5"), Route("openrouter", "google/gemini-2.5-pro")]
            return [Route("local", "draft")]
        if kind == "image" and env.get("OPENROUTER_API_KEY"):
            return [Route("openrouter", "google/gemini-2.5-flash-image")]
        if kind == "video" and env.get("REPLICATE_API_TOKEN"):
            return [Route("replicate", DEFAULT_VIDEO_MODEL)]
        return [Route("local", "previz")]


# Steps whose text sets up everything after them: worth a reasoning model and no quieter fallback.
DEEP_TEXT_STEPS = frozenset({"lore", "treatment", "screenplay"})
DEFAULT_VIDEO_MODEL = "kwaivgi/kling-v2.1"
DEFAULT_COST = {"openai": 0.05, "openai-images": 0.07, "replicate": 0.5, "fal": 0.5}

# What is known about the default models (and a few common ones); the file overrides any field.
KNOWN_MODELS: dict[str, ModelConfig] = {
    # A long structured answer with medium reasoning: ~5k tokens in, ~5k out at $1.25/$10 per million.
    "openrouter:openai/gpt-5": ModelConfig(cost=0.06),
    "openrouter:google/gemini-2.5-pro": ModelConfig(cost=0.05),
    "openrouter:google/gemini-2.5-flash-image": ModelConfig(cost=0.04, capabilities=["image"]),
    "openai:gpt-image-1": ModelConfig(cost=0.07, capabilities=["image"]),
    # Kling 2.1 on Replicate needs a start image; an end image needs pro mode (1080p, 24 fps, 5 or 10 s).
    "replicate:kwaivgi/kling-v2.1": ModelConfig(
        cost=0.45,
        capabilities=["video:image-to-video", "video:first-last-frame"],
        inputs={"prompt": "prompt", "first_frame": "start_image", "last_frame": "end_image",
                "duration": "duration", "negative_prompt": "negative_prompt"},
        params={"mode": "pro"},
        durations=[5, 10],
    ),
    "fal:fal-ai/kling-video/v2.1/pro/image-to-video": ModelConfig(
        cost=0.49,
        capabilities=["video:image-to-video", "video:first-last-frame"],
        inputs={"prompt": "prompt", "first_frame": "image_url", "last_frame": "tail_image_url",
                "duration": "duration", "negative_prompt": "negative_prompt"},
        durations=["5", "10"],
    ),
}


def aspect_ratio(width: int, height: int, choices: tuple[str, ...] = (
        "1:1", "2:3", "3:2", "3:4", "4:3", "4:5", "5:4", "9:16", "16:9", "21:9")) -> str:
    """The listed ratio closest to width:height (compared on a log scale, so 2:1 and 1:2 are equally far)."""
    target = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = ratio.split(":")
        return abs(math.log(int(w) / int(h)) - target)

    return min(choices, key=distance)


def load_config(data_dir: Path | None, path: Path | None = None) -> Config:
    """``path`` if given (it must exist), else ``data_dir/storyreel.toml`` if there is one, else defaults."""
    if path is None:
        if data_dir is None or not (data_dir / CONFIG_FILE).is_file():
            return Config()
        path = data_dir / CONFIG_FILE
    elif not path.is_file():
        raise InputError(f"{path}: no such config file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{path}: {_first_problem(exc)}") from None


def _first_problem(exc: ValidationError) -> str:
    """One line naming where and what, never the offending value (it might be a key pasted in by mistake)."""
    errors = exc.errors(include_input=False, include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "file"
    message = f"{where}: {first['msg']}"
    if first["type"] == "extra_forbidden" and re.search(r"key|token|secret", where, re.I):
        message += " (API keys are read from the environment only, e.g. OPENROUTER_API_KEY)"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message
