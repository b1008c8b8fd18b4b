"""The router: which model runs a step, and what happens when it fails.

A step author builds a request and awaits the router with the step's name::

    req = TextRequest(step="treatment", system=..., context=..., output=TreatmentOut)
    result = await router.text("treatment", req, call)   # result.output is a TreatmentOut

For each model of the step's chain (primary, then fallbacks) the router makes up to ``attempts`` attempts. A
retryable failure (408/409/429/5xx, timeout, connection error, invalid JSON, an answer that fails the output
schema, an empty or broken image) waits — the server's Retry-After if it sent one, else exponential backoff
with jitter — and tries again; a fatal one (400/401/403/404..., or a create whose answer was lost, see
``http.py``) moves on to the next model at once. When every model has failed the router raises one
:class:`ProviderError` naming the step, the models tried and the last reason.

Before each attempt the budget is checked against the model's estimated cost (:class:`BudgetExceeded`, nothing
sent); each attempt takes one of its provider's concurrency slots and rate-window starts, shared by every step
that uses this router (so a process should use one router). Every attempt is recorded on the job with
``call.attempt(...)``: the model, the outcome, the usage and cost, and the request body as sent, with image
data elided. API keys come from the environment only and are scrubbed from every message that leaves.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any, Protocol

import httpx

from storyreel.config import PROVIDERS, Config, Route
from storyreel.errors import InputError, ProviderError, RetryableError
from storyreel.providers.base import (
    KINDS,
    Call,
    ImageRequest,
    ImageResult,
    MusicRequest,
    MusicResult,
    SpeechRequest,
    SpeechResult,
    TextRequest,
    TextResult,
    Usage,
    VideoRequest,
    VideoResult,
)
from storyreel.providers.http import Http, Secret, UnconfirmedCreate, retry_delay, scrub
from storyreel.providers.limits import Budget, ProviderLimits

__all__ = ["Adapter", "AttemptCall", "Route", "Router", "VIDEO_PREFERENCE"]

VIDEO_PREFERENCE = ("first-last-frame", "image-to-video", "text-to-video")
LOCAL_PROVIDER = "storyreel.providers.local.provider"  # imported by name, when first needed
TIMEOUTS = {"openai": 300.0, "openai-images": 180.0, "replicate": 120.0, "fal": 120.0}


class Adapter(Protocol):
    """What the router calls. An adapter implements the coroutines of the capabilities it lists
    (``text``, ``image``, ``video:<strategy>``, ``speech``, ``music``)."""

    name: str

    def capabilities(self) -> set[str]: ...

    async def text(self, req: TextRequest, route: Route, call: Call) -> TextResult: ...

    async def image(self, req: ImageRequest, route: Route, call: Call) -> ImageResult: ...

    async def video(self, req: VideoRequest, route: Route, call: Call) -> VideoResult: ...


class _CannotRun(Exception):
    """This model cannot take this request at all (image-to-video without a first frame...): try the next."""


class AttemptCall:
    """The Call an adapter gets for one attempt: state goes straight through to the job, while the request
    sent and the usage reported are kept here for the attempt's record (see ``http.record_request``)."""

    def __init__(self, call: Call) -> None:
        self._call = call
        self.request: dict | None = None
        self.usage: Usage | None = None

    @property
    def state(self) -> dict[str, Any]:
        return self._call.state

    def save_state(self) -> None:
        self._call.save_state()

    def attempt(self, **kw: Any) -> None:
        self._call.attempt(**kw)

    def record_request(self, body: dict) -> None:
        self.request = body

    def record_usage(self, usage: Usage) -> None:
        self.usage = usage


class _OpenAI:
    """OpenAI answers text through chat completions and makes images through the Images API."""

    name = "openai"

    def __init__(self, chat: Any, images: Any) -> None:
        self.text = chat.text
        self.image = images.image

    def capabilities(self) -> set[str]:
        return {"text", "image"}


class Router:
    def __init__(self, config: Config, env: Mapping[str, str] | None = None, *,
                 adapters: dict[str, Any] | None = None, budget: Budget | None = None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 steps: Mapping[str, str] | None = None, client: httpx.AsyncClient | None = None) -> None:
        """``steps`` maps every step name to its kind (for :meth:`describe`, and to catch misspelt step names
        in the config); ``adapters`` replaces providers by name (tests, custom providers); ``client`` is the
        HTTP client all adapters share (one is made, and closed by :meth:`aclose`, when not given)."""
        self.config = config
        self.budget = budget if budget is not None else Budget(config.budget)
        self.steps = dict(steps or {})
        self._sleep = sleep
        self._adapters: dict[str, Any] = dict(adapters or {})
        self._overridden = set(self._adapters)
        self._limits: dict[str, ProviderLimits] = {}
        self._client = client
        self._own_client = client is None
        env = os.environ if env is None else env
        key_envs = {spec.key_env for spec in PROVIDERS.values() if spec.key_env}
        key_envs |= {p.key_env for p in config.providers.values() if p.key_env}
        self._keys = {name: Secret(env[name]) for name in key_envs if env.get(name)}
        base_envs = {spec.base_env for spec in PROVIDERS.values() if spec.base_env}
        self._bases = {name: env[name] for name in base_envs if env.get(name)}
        if self.steps:
            unknown = sorted(set(config.steps) - set(self.steps))
            if unknown:
                raise InputError(f"config names unknown step {unknown[0]!r} (steps: {', '.join(self.steps)})")
        for kind in self.steps.values():
            if kind not in KINDS and kind != "none":
                raise InputError(f"unknown step kind {kind!r}")

    def __repr__(self) -> str:
        return f"Router(providers={sorted(self._adapters)}, budget={self.budget!r})"

    # --- chains ---------------------------------------------------------------------------------------------

    def _chain(self, step: str, kind: str) -> list[Route]:
        if kind not in KINDS:
            raise InputError(f"unknown kind {kind!r} for step {step} (one of {', '.join(KINDS)})")
        cfg = self.config.steps.get(step)
        if cfg is None or not cfg.models:
            chain = self.config.default_chain(step, kind, {k: "set" for k in self._keys})
            if cfg is not None and cfg.reasoning is not None:
                chain = [replace(r, reasoning=cfg.reasoning) for r in chain]
            return chain
        return [Route.parse(text, cfg.reasoning) for text in cfg.models]

    def _missing(self, route: Route, kind: str) -> str:
        """Why ``route`` cannot run a ``kind`` step here ("" when it can)."""
        if route.provider not in self._overridden:
            spec = self.config.provider_spec(route.provider)
            if spec is None:
                known = ", ".join(sorted(set(PROVIDERS) | set(self.config.providers)))
                return f"unknown provider {route.provider!r} (known: {known})"
            if spec.key_env and spec.key_env not in self._keys:
                return f"{spec.key_env} not set"
        try:
            caps = self._capabilities(route)
        except InputError as exc:
            return str(exc)
        if kind == "video" and not any(c.startswith("video:") for c in caps):
            return f"{route.key} cannot make video"
        if kind != "video" and kind not in caps:
            return f"{route.key} cannot make {kind}"
        return ""

    def _capabilities(self, route: Route) -> set[str]:
        configured = self.config.model(route.key).capabilities
        if configured is not None:
            return set(configured)
        return set(self._adapter(route.provider).capabilities())

    def routes(self, step: str, kind: str) -> list[Route]:
        """The models that will be tried for ``step``, in order: the configured (or default) chain less those
        that cannot run here; :class:`InputError` when none can."""
        chain = self._chain(step, kind)
        ready = [route for route in chain if not self._missing(route, kind)]
        if not ready:
            why = "; ".join(f"{route.key}: {self._missing(route, kind)}" for route in chain)
            raise InputError(f"step {step}: no model can run it ({why})")
        return ready

    def fingerprint(self, step: str, kind: str) -> dict:
        """The settings that decide a step's outputs, for cache keys: the chain that will run (never keys)."""
        chain = []
        for route in self.routes(step, kind):
            entry: dict[str, Any] = {"provider": route.provider, "model": route.model,
                                     "reasoning": route.reasoning}
            params = self.config.model(route.key).params
            if params:
                entry["params"] = params
            chain.append(entry)
        return {"kind": kind, "chain": chain}

    def describe(self) -> list[dict]:
        """Per step: its kind, the chain with what each model lacks, and what will actually run (``runs``: the
        ready models in the order they are tried, "" when none is)."""
        out = []
        for step, kind in self.steps.items():
            if kind not in KINDS:
                continue
            chain = []
            routes = self._chain(step, kind)
            if not (self.config.steps.get(step) and self.config.steps[step].models):
                # what would run with every key set, so the user sees what is missing and not only the fallback
                everything = {spec.key_env: "set" for spec in PROVIDERS.values() if spec.key_env}
                wanted = self.config.default_chain(step, kind, everything)
                routes = [r for r in wanted if r not in routes] + routes
            for route in routes:
                missing = self._missing(route, kind)
                chain.append({"provider": route.provider, "model": route.model, "reasoning": route.reasoning,
                              "ready": not missing, "missing": missing})
            ready = [f"{c['provider']}:{c['model']}" for c in chain if c["ready"]]
            out.append({"step": step, "kind": kind, "chain": chain, "runs": " → ".join(ready)})
        return out

    # --- adapters -------------------------------------------------------------------------------------------

    def _http_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        return self._client

    def _adapter(self, provider: str) -> Any:
        adapter = self._adapters.get(provider)
        if adapter is not None:
            return adapter
        spec = self.config.provider_spec(provider)
        if spec is None:
            raise InputError(f"unknown provider {provider!r}")
        if spec.protocol == "local":
            try:
                module = importlib.import_module(LOCAL_PROVIDER)
            except ImportError as exc:
                raise InputError(f"the local provider is not available: {exc}") from None
            adapter = module.LocalProvider()
        else:
            adapter = self._remote_adapter(provider, spec.protocol)
        self._adapters[provider] = adapter
        return adapter

    def _remote_adapter(self, provider: str, protocol: str) -> Any:
        # Imported here: a run that only uses the local provider never loads the HTTP adapters.
        from storyreel.providers.fal import FalAdapter
        from storyreel.providers.openai_compat import OpenAICompatAdapter
        from storyreel.providers.openai_images import OpenAIImagesAdapter
        from storyreel.providers.replicate import ReplicateAdapter

        spec = self.config.provider_spec(provider)
        settings = self.config.provider(provider)
        secret = self._keys.get(spec.key_env) if spec and spec.key_env else None
        base_url = (self._bases.get(spec.base_env) if spec and spec.base_env else None) \
            or settings.base_url or (spec.base_url if spec else "")

        def http(proto: str) -> Http:
            return Http(self._http_client(), name=provider, base_url=base_url,
                        auth="Key {key}" if proto == "fal" else "Bearer {key}", secret=secret,
                        timeout=settings.timeout or TIMEOUTS[proto], sleep=self._sleep)

        poll = settings.poll_interval or 1.0
        if protocol == "openai":
            chat = OpenAICompatAdapter(provider, http("openai"),
                                       openrouter=provider == "openrouter" or "openrouter.ai" in base_url)
            if provider == "openai":
                return _OpenAI(chat, OpenAIImagesAdapter(provider, http("openai-images")))
            return chat
        if protocol == "openai-images":
            return OpenAIImagesAdapter(provider, http("openai-images"))
        if protocol == "replicate":
            return ReplicateAdapter(provider, http("replicate"), self.config.model, wait=settings.wait or 60,
                                    poll_interval=poll, webhook=settings.webhook)
        if protocol == "fal":
            return FalAdapter(provider, http("fal"), self.config.model, poll_interval=poll)
        raise InputError(f"provider {provider!r} has unknown protocol {protocol!r}")

    def _limits_for(self, provider: str) -> ProviderLimits:
        limits = self._limits.get(provider)
        if limits is None:
            spec = self.config.provider_spec(provider)
            settings = self.config.provider(provider)
            limits = ProviderLimits(spec.concurrency if spec else settings.concurrency,
                                    spec.rpm if spec else settings.rpm, settings.window)
            self._limits[provider] = limits
        return limits

    async def aclose(self) -> None:
        if self._client is not None and self._own_client:
            await self._client.aclose()
            self._client = None

    # --- calls ----------------------------------------------------------------------------------------------

    async def text(self, step: str, req: TextRequest, call: Call) -> TextResult:
        return await self._run(step, "text", call, lambda a, route, c: a.text(req, route, c))

    async def image(self, step: str, req: ImageRequest, call: Call) -> ImageResult:
        return await self._run(step, "image", call, lambda a, route, c: a.image(req, route, c))

    async def speech(self, step: str, req: SpeechRequest, call: Call) -> SpeechResult:
        return await self._run(step, "speech", call, lambda a, route, c: a.speech(req, route, c))

    async def music(self, step: str, req: MusicRequest, call: Call) -> MusicResult:
        return await self._run(step, "music", call, lambda a, route, c: a.music(req, route, c))

    async def video(self, step: str, req: VideoRequest, call: Call) -> VideoResult:
        async def run(adapter: Any, route: Route, c: AttemptCall) -> VideoResult:
            strategy, note = self._strategy(req, route)
            sub = req if strategy == req.strategy else replace(
                req, strategy=strategy, last_frame=req.last_frame if strategy == "first-last-frame" else None,
                first_frame=None if strategy == "text-to-video" else req.first_frame)
            result = await adapter.video(sub, route, c)
            if note:
                result.strategy = strategy
                result.note = "; ".join(part for part in (note, result.note) if part)
            return result

        return await self._run(step, "video", call, run)

    def _strategy(self, req: VideoRequest, route: Route) -> tuple[str, str]:
        """The strategy ``route`` will use for ``req``: the one asked for when the model has it and the frames
        it needs were given, else the best it has (first-last-frame > image-to-video > text-to-video)."""
        caps = self._capabilities(route)

        def feasible(strategy: str) -> bool:
            if strategy == "first-last-frame":
                return "video:first-last-frame" in caps and req.first_frame is not None \
                    and req.last_frame is not None
            if strategy == "continue":  # image-to-video from the previous clip's last frame
                return bool({"video:continue", "video:image-to-video"} & caps) and req.first_frame is not None
            if strategy == "image-to-video":
                return "video:image-to-video" in caps and req.first_frame is not None
            return f"video:{strategy}" in caps

        if feasible(req.strategy):
            return req.strategy, ""
        for strategy in VIDEO_PREFERENCE:
            if feasible(strategy):
                return strategy, f"degraded: asked for {req.strategy}, {route.key} made {strategy} instead"
        offers = ", ".join(sorted(c.removeprefix("video:") for c in caps if c.startswith("video:")))
        raise _CannotRun(f"cannot make {req.strategy} from the frames given (it offers {offers})")

    async def _run(self, step: str, kind: str, call: Call,
                   run: Callable[[Any, Route, AttemptCall], Awaitable[Any]]) -> Any:
        chain = self.routes(step, kind)
        attempts = self.config.step(step).attempts
        tried: list[str] = []
        last = ""
        for route in chain:
            adapter = self._adapter(route.provider)
            tried.append(route.key)
            for n in range(attempts):
                try:
                    result = await self._attempt(route, adapter, call, run)
                except _CannotRun as exc:
                    last = f"{route.key}: {exc}"
                    break
                except ProviderError as exc:
                    last = f"{route.key}: {self._scrub(str(exc))}"
                    if not isinstance(exc, RetryableError):
                        break
                    if n + 1 < attempts:
                        await self._sleep(retry_delay(n, exc, self.config.max_retry_wait))
                    continue
                return result
        message = f"step {step}: every model failed (tried {', '.join(tried)}); last: {last}"
        raise ProviderError(" ".join(message.split()))

    async def _attempt(self, route: Route, adapter: Any, call: Call,
                       run: Callable[[Any, Route, AttemptCall], Awaitable[Any]]) -> Any:
        """One attempt: limits, budget check, the adapter call, then the charge and the record."""
        estimate = self.config.estimate(route)
        handle = AttemptCall(call)
        async with self._limits_for(route.provider):
            # Reserved once the call holds its slot: calls queued behind the limits hold no budget.
            self.budget.reserve(estimate, route.key)
            try:
                result = await run(adapter, route, handle)
            except _CannotRun:
                self.budget.settle(estimate, 0.0)
                raise
            except BaseException as exc:
                # A lost create may be running and billed: count it as spent.
                lost = isinstance(exc, UnconfirmedCreate)
                charged = estimate if lost else self._charge(handle.usage, estimate, False)
                reason = str(exc) or type(exc).__name__
                if isinstance(exc, asyncio.CancelledError):
                    reason = "cancelled"
                self._record(call, route, handle, ok=False, error=self._scrub(reason), usage=handle.usage,
                             cost=charged)
                self.budget.settle(estimate, charged)
                raise
        usage = getattr(result, "usage", None) or handle.usage or Usage()
        charged = self._charge(usage, estimate, True)
        usage.cost = charged
        if hasattr(result, "model") and not result.model:
            result.model = route.key
        self._record(call, route, handle, ok=True, error="", usage=usage, cost=charged)
        self.budget.settle(estimate, charged)
        return result

    @staticmethod
    def _charge(usage: Usage | None, estimate: float, ok: bool) -> float:
        """What an attempt cost: the server's figure; else the estimate when the model answered (even with
        something unusable); nothing for an attempt that got no answer."""
        if usage is not None and usage.cost > 0:
            return usage.cost
        return estimate if ok or usage is not None else 0.0

    def _record(self, call: Call, route: Route, handle: AttemptCall, *, ok: bool, error: str,
                usage: Usage | None, cost: float) -> None:
        recorded = Usage(usage.input_tokens, usage.output_tokens, cost) if usage else Usage(cost=cost)
        call.attempt(model=route.key, ok=ok, error=" ".join(error.split()), usage=recorded,
                     request=handle.request)

    def _scrub(self, text: str) -> str:
        return scrub(text, [secret.reveal() for secret in self._keys.values()])
