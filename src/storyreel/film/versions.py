"""Schema versions of the Film. Each upgrade takes the JSON of version N to version N+1, one step at a time, so a
project saved by any earlier storyreel still opens."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from storyreel.errors import InputError
from storyreel.film.models import SCHEMA_VERSION, Film

Upgrade = Callable[[dict[str, Any]], dict[str, Any]]
UPGRADES: dict[int, Upgrade] = {}


def upgrade(from_version: int):
    def register(fn: Upgrade) -> Upgrade:
        UPGRADES[from_version] = fn
        return fn

    return register


@upgrade(1)
def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    # v1 kept story rules as one newline-separated string and called the aspect "ratio".
    inputs = data.setdefault("inputs", {})
    rules = inputs.get("story_rules")
    if isinstance(rules, str):
        inputs["story_rules"] = [r.strip() for r in rules.splitlines() if r.strip()]
    if "ratio" in inputs:
        inputs["aspect"] = inputs.pop("ratio")
    return data


def load(data: dict[str, Any]) -> Film:
    version = int(data.get("schema_version", 1))
    if version > SCHEMA_VERSION:
        raise InputError(
            f"this project was saved by a newer storyreel (schema {version}, this one reads up to {SCHEMA_VERSION})"
        )
    while version < SCHEMA_VERSION:
        if version not in UPGRADES:
            raise InputError(f"no upgrade registered from Film schema {version}")
        data = UPGRADES[version](dict(data))
        version += 1
        data["schema_version"] = version
    return Film.model_validate(data)
