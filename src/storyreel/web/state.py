"""The studio's own per-project UI state, in ``{project}/web_state.json``: the last tab viewed and whether the
user has reviewed the story options. It is not part of the Film (nothing in it changes what gets
generated)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from storyreel.store import files

log = logging.getLogger("storyreel.web")

FILE = "web_state.json"


def load(project_dir: Path) -> dict[str, Any]:
    path = project_dir / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        log.warning("ignoring unreadable %s", path)
        return {}
    return data if isinstance(data, dict) else {}


def update(project_dir: Path, **changes: Any) -> dict[str, Any]:
    data = load(project_dir)
    if all(data.get(k) == v for k, v in changes.items()):
        return data
    data.update(changes)
    files.atomic_write(project_dir / FILE, json.dumps(data, indent=2).encode())
    return data
