"""What a provider is: capability protocols, the requests steps make and the results providers return.

Steps never speak HTTP: they build a request and hand it to the router (``providers/router.py``), which picks
the provider chain configured for the step, retries, falls back, enforces budget and rate limits, and records
every attempt on the job through the :class:`Call` it is given.

A provider implements any of ``text``, ``image``, ``video``, ``speech``, ``music``. The ``local`` provider
implements them all offline: a deterministic draft writer and a previz renderer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

Kind = Literal["text", "image", "video", "speech", "music", "none"]
KINDS: tuple[str, ...] = ("text", "image", "video", "speech", "music")


@dataclass
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0

    def add(self, other: Usage) -> None:
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cost += other.cost


@dataclass
class TextRequest:
    step: str
    system: str
    context: dict[str, Any]  # the context DTO, dumped to JSON-able data: it is the user prompt
    output: type[BaseModel]  # the output DTO the answer must validate against
    images: list[Path] = field(default_factory=list)

    def user_prompt(self) -> str:
        import json

        return json.dumps(self.context, ensure_ascii=False, indent=1)


@dataclass
class TextResult:
    output: BaseModel
    raw: str = ""
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@dataclass
class ImageRequest:
    step: str
    prompt: str
    width: int
    height: int
    references: list[Path] = field(default_factory=list)
    # A structured account of the frame (who is where, framing, palette...). Real models read ``prompt``;
    # the local previz renderer draws from ``spec``, which says the same thing as data.
    spec: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImageResult:
    data: bytes
    mime: str = "image/png"
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    note: str = ""


ClipStrategyName = Literal["text-to-video", "image-to-video", "first-last-frame", "continue"]


@dataclass
class VideoRequest:
    step: str
    prompt: str
    strategy: ClipStrategyName
    duration: float
    fps: int
    width: int
    height: int
    out_path: Path
    first_frame: Path | None = None
    last_frame: Path | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # camera move etc., for the previz renderer


@dataclass
class VideoResult:
    path: Path
    strategy: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""
    note: str = ""


@dataclass
class SpeechRequest:
    text: str
    voice: str
    out_path: Path


@dataclass
class SpeechResult:
    path: Path | None  # None when no voice is available: the line stays silent, with subtitles
    duration: float
    voice: str = ""
    usage: Usage = field(default_factory=Usage)


@dataclass
class MusicCue:
    start: float
    duration: float
    tempo: int
    mode: str
    mood: str = ""


@dataclass
class MusicRequest:
    cues: list[MusicCue]
    duration: float
    out_path: Path
    seed: int = 0


@dataclass
class MusicResult:
    path: Path
    usage: Usage = field(default_factory=Usage)
    model: str = ""


@runtime_checkable
class Call(Protocol):
    """The router's handle on the job a provider call belongs to.

    ``state`` is persisted on the job whenever ``save_state`` is called: a provider that starts remote work it
    must pay for (a Replicate prediction) saves its id *before* waiting, so a resumed run resumes it instead of
    paying again.
    """

    state: dict[str, Any]

    def save_state(self) -> None: ...

    def attempt(self, *, model: str, ok: bool, error: str = "", usage: Usage | None = None,
                request: dict | None = None) -> None: ...


class NullCall:
    """A Call that records nothing (for direct use in scripts and tests)."""

    def __init__(self) -> None:
        self.state: dict[str, Any] = {}
        self.attempts: list[dict] = []

    def save_state(self) -> None:
        pass

    def attempt(self, *, model: str, ok: bool, error: str = "", usage: Usage | None = None,
                request: dict | None = None) -> None:
        self.attempts.append({"model": model, "ok": ok, "error": error,
                              "cost": (usage.cost if usage else 0.0)})


class Provider(Protocol):
    """A provider exposes one coroutine per capability it has; ``model`` is the model name from the chain."""

    name: str

    def capabilities(self) -> set[str]: ...
