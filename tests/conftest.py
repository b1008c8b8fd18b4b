"""Shared fixtures. Tests that need PostgreSQL, Redis or Chromium fail loudly when CI=true and the thing is
missing, and skip with a clear reason elsewhere."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# shared/ sits beside the clone (as in CI); STORYREEL_SHARED points elsewhere when it does not
FIXTURES = Path(os.environ.get("STORYREEL_SHARED") or ROOT.parent / "shared") / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(ok: bool, reason: str) -> None:
    if ok:
        return
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: this must be available)")
    pytest.skip(reason)


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return True
    except OSError:
        return False


def require_service(name: str, port: int) -> None:
    require(port_open("127.0.0.1", port), f"{name} is not reachable on 127.0.0.1:{port}")


def require_chromium() -> str:
    path = "/usr/bin/chromium"
    require(Path(path).exists(), "Debian's chromium is not installed at /usr/bin/chromium")
    return path


def fixture_path(*parts: str) -> Path:
    p = FIXTURES.joinpath(*parts)
    require(p.exists(), f"shared fixture {p} is missing")
    return p


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    # providers' keys and the data dir must never leak from the developer's shell into tests
    for k in ("OPENROUTER_API_KEY", "OPENAI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "STORYREEL_DATA",
              "STORYREEL_DATABASE_URL", "STORYREEL_ENGINE"):
        monkeypatch.delenv(k, raising=False)


@pytest.fixture(scope="session")
def made_film(tmp_path_factory):
    """One small film made end to end offline (shared by read-only tests)."""
    from storyreel import Studio

    data = tmp_path_factory.mktemp("made")
    studio = Studio(data)
    name = studio.create("reel", "A lighthouse keeper befriends a storm", duration=12,
                         rules=["all characters are eggs"])
    studio.run(name)
    return studio, name


@pytest.fixture
def espeak_optional():
    return shutil.which("espeak-ng") is not None
