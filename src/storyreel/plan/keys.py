"""Cache keys: a node's key is made of its step's name and version, the exact inputs it reads (its context, as
JSON) and the provider/model settings that would produce it. An unchanged key never runs again."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from storyreel.steps.base import Step


def cache_key(step: Step, context: Any, settings: Any) -> str:
    payload = json.dumps(
        {"step": step.name, "version": step.version, "inputs": context, "provider": settings},
        sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:32]
