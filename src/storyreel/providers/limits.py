"""What keeps a run polite and affordable: per-provider concurrency and request-rate limits, and the budget.

One :class:`ProviderLimits` per provider lives in the router, so every step of the process shares it.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field

from storyreel.errors import BudgetExceeded


class RateLimiter:
    """At most ``rpm`` starts in any ``window`` seconds (a sliding window over the start times)."""

    def __init__(self, rpm: int, window: float = 60.0) -> None:
        self.rpm = rpm
        self.window = window
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        # Waiters queue on the lock, so slots go out in arrival order.
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and self._starts[0] <= now - self.window:
                    self._starts.popleft()
                if len(self._starts) < self.rpm:
                    self._starts.append(now)
                    return
                await asyncio.sleep(self._starts[0] + self.window - now)


class ProviderLimits:
    """``async with limits:`` holds one of ``concurrency`` slots and one start of the rate window."""

    def __init__(self, concurrency: int | None = None, rpm: int | None = None, window: float = 60.0) -> None:
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency) if concurrency else None
        self.rate = RateLimiter(rpm, window) if rpm else None

    async def __aenter__(self) -> ProviderLimits:
        if self._slots is not None:
            await self._slots.acquire()
        try:
            if self.rate is not None:
                await self.rate.acquire()
        except BaseException:
            if self._slots is not None:
                self._slots.release()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._slots is not None:
            self._slots.release()


@dataclass
class Budget:
    """Dollars a project may spend (``limit`` None: no limit) and what it has spent so far.

    Calls in flight hold their estimate as ``reserved`` so that concurrent calls cannot together overshoot.
    """

    limit: float | None = None
    spent: float = 0.0
    reserved: float = field(default=0.0, repr=False)

    def reserve(self, estimate: float, what: str = "") -> None:
        """Hold ``estimate`` for a call about to start, or refuse it with :class:`BudgetExceeded`."""
        over = self.limit is not None and self.spent + self.reserved + estimate > self.limit + 1e-9
        if estimate > 0 and over:
            in_flight = f" (+${self.reserved:.2f} in flight)" if self.reserved > 1e-9 else ""
            on = f" ({what})" if what else ""
            raise BudgetExceeded(
                f"budget of ${self.limit:.2f} reached: spent ${self.spent:.2f}{in_flight}, "
                f"next call ~${estimate:.2f}{on}; raise it with budget = ... in storyreel.toml")
        self.reserved += estimate

    def settle(self, estimate: float, cost: float) -> None:
        """Release a call's reservation and count what it really cost."""
        self.reserved = max(0.0, self.reserved - estimate)
        self.spent += cost
