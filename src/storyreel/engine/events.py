"""Progress events: what the engine publishes for the CLI's progress bar, the web studio and anyone listening."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("storyreel.events")


@dataclass
class Progress:
    project: str
    done: int
    total: int
    running: list[str] = field(default_factory=list)
    stages: dict[str, dict[str, int]] = field(default_factory=dict)
    event: str = "progress"  # progress | node-done | node-failed | finished | failed | stopped
    node: str | None = None
    message: str = ""

    @property
    def percent(self) -> float:
        return 100.0 * self.done / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["percent"] = round(self.percent, 1)
        return d


Listener = Callable[[Progress], None]


class Events:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def publish(self, progress: Progress) -> None:
        for listener in list(self._listeners):
            try:
                listener(progress)
            except Exception:  # a listener's bug must never stop a run
                log.exception("progress listener failed")
