"""The one HTTP helper every remote adapter uses: sending, error mapping, retry delays, polling, downloads.

Errors come out as the tree in ``storyreel.errors``: :class:`RetryableError` (408, 409, 429, 5xx, timeouts,
connection errors, invalid JSON, truncated or unrecognisable downloads), :class:`RateLimited` (with the
server's delay), :class:`FatalProviderError` (any other 4xx) and :class:`UnconfirmedCreate`.

Creates that start paid remote work (a Replicate prediction, a fal submit) are not idempotent. When such a
request was sent but its answer was lost (read timeout, dropped connection, unreadable 2xx), the work may be
running and billed: :class:`UnconfirmedCreate` says so, and the router does not repeat it on the same model. A
create the server answered with a definite error status (429, 5xx...) was not accepted and is retried like
anything else; one that never left (connect errors) likewise.

Adapters record what they sent with :func:`record_request`, data URLs and base64 elided; the router reads it
back from the attempt handle it gave them (see ``router.AttemptCall``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import mimetypes
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx

from storyreel.errors import FatalProviderError, ProviderError, RateLimited, RetryableError

RETRYABLE_STATUS = frozenset({408, 409, 429})
LOST = "the job may be running and billed, so it is not sent again"
MAX_DOWNLOAD = 512 * 1024 * 1024
Sleep = Callable[[float], Awaitable[None]]


class UnconfirmedCreate(FatalProviderError):
    """A create was sent but its answer was lost: the paid work may exist, so it is not sent again here."""


class BadMedia(RetryableError):
    """A whole file came back but it is not the image or video asked for (empty, or unknown first bytes)."""


class Secret:
    """An API key that never shows itself in a repr, a str or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` with every secret (and a long prefix of it, as some servers echo keys in part) blanked out."""
    for secret in secrets:
        if secret and len(secret) >= 6:
            text = text.replace(secret, "***")
            text = re.sub(re.escape(secret[:8]) + r"\S*", "***", text)
    return text


# --- retry timing -------------------------------------------------------------------------------------------


def backoff(attempt: int) -> float:
    """Seconds before retry ``attempt`` (0-based): exponential, capped at 8 s, less up to 25 % jitter."""
    return min(0.5 * 2**attempt, 8.0) * (1 - 0.25 * random.random())


def retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The server's delay: ``retry-after-ms`` first, then ``Retry-After`` in seconds or as an HTTP date."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def retry_delay(attempt: int, error: BaseException | None, cap: float = 60.0) -> float:
    """The wait before the next attempt: the server's own delay if it gave one (capped), else a backoff."""
    asked = getattr(error, "retry_after", None)
    if asked is not None:
        return min(asked, cap)
    return backoff(attempt)


# --- request bodies as recorded -----------------------------------------------------------------------------

_DATA_URL = re.compile(r"^data:([\w/+.-]+)?(;[\w=-]+)*;base64,", re.I)


def elide(value: Any) -> Any:
    """A copy of a request body with image data URLs and long base64 runs replaced by a short description."""
    if isinstance(value, dict):
        return {k: elide(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [elide(v) for v in value]
    if isinstance(value, str):
        match = _DATA_URL.match(value)
        if match:
            return f"{value[:match.end()]}<{len(value) - match.end()} base64 chars elided>"
        if len(value) > 512 and re.fullmatch(r"[A-Za-z0-9+/=\s]+", value):
            return f"<{len(value)} base64 chars elided>"
    if isinstance(value, bytes):
        return f"<{len(value)} bytes elided>"
    return value


def record_request(call: Any, body: dict) -> None:
    """Tell the router's attempt handle what was sent (a no-op for a plain Call)."""
    recorder = getattr(call, "record_request", None)
    if recorder is not None:
        recorder(elide(body))


def record_usage(call: Any, usage: Any) -> None:
    """Tell the attempt handle what the server charged even when the answer then fails validation."""
    recorder = getattr(call, "record_usage", None)
    if recorder is not None:
        recorder(usage)


# --- media --------------------------------------------------------------------------------------------------


def sniff(data: bytes) -> str | None:
    """The mime type of PNG, JPEG, WebP or MP4/MOV bytes, from their first bytes; None for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if len(data) >= 12 and data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    return None


def check_media(data: bytes, want: str, source: str) -> str:
    """The sniffed mime of ``data`` if it is a ``want`` ("image" or "video") file; else a retryable error."""
    if not data:
        raise BadMedia(f"empty {want} from {source}")
    mime = sniff(data)
    if mime is None or not mime.startswith(want + "/"):
        article = "an" if want[0] in "aeiou" else "a"
        raise BadMedia(f"{source} did not return {article} {want} file (first bytes {data[:8]!r})")
    return mime


def data_url(path: Path) -> str:
    data = path.read_bytes()
    mime = sniff(data) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def decode_data_url(url: str) -> bytes:
    match = _DATA_URL.match(url)
    if not match:
        raise RetryableError("image answer is not a base64 data URL")
    try:
        return base64.b64decode(url[match.end():], validate=False)
    except ValueError as exc:
        raise RetryableError(f"image answer holds invalid base64: {exc}") from None


def decode_b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=False)
    except ValueError as exc:
        raise RetryableError(f"image answer holds invalid base64: {exc}") from None


# --- the client ---------------------------------------------------------------------------------------------


def error_message(response: httpx.Response) -> str:
    """The server's own words from an error body: OpenAI/OpenRouter ``error.message``, RFC 7807 ``detail``."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip().replace("\n", " ")[:200]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])[:300]
        if isinstance(err, str) and err:
            return err[:300]
        for field in ("detail", "title", "message"):
            if body.get(field):
                return str(body[field])[:300]
    return json.dumps(body)[:200]


def status_error(status: int, message: str, retry_wait: float | None = None) -> ProviderError:
    """The error for an HTTP status (or an error code inside a 200 body)."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 429:
        return RateLimited(text, retry_wait)
    if status in RETRYABLE_STATUS or status >= 500:
        return RetryableError(text, retry_wait)
    return FatalProviderError(text)


class Http:
    """One provider's view of a shared ``httpx.AsyncClient``: its base URL, auth header, timeout and key.

    The key lives here as a :class:`Secret` and every message that leaves is scrubbed of it.
    """

    def __init__(self, client: httpx.AsyncClient, *, name: str, base_url: str, auth: str | None = None,
                 secret: Secret | None = None, timeout: float = 120.0, sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._auth = auth  # a header template such as "Bearer {key}"
        self._secret = secret
        self.timeout = timeout
        self.sleep = sleep

    def __repr__(self) -> str:
        return f"Http({self.name!r}, {self.base_url!r})"

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"

    def _headers(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self._auth and self._secret:
            headers["Authorization"] = self._auth.format(key=self._secret.reveal())
        headers.update(extra or {})
        return headers

    def scrub(self, text: str) -> str:
        return scrub(text, [self._secret.reveal()] if self._secret else [])

    async def send(self, method: str, path: str, *, json_body: Any = None, data: Any = None,
                   files: Any = None, headers: Mapping[str, str] | None = None, timeout: float | None = None,
                   idempotent: bool = True) -> httpx.Response:
        """Send one request; a 2xx comes back, anything else raises (see the module doc)."""
        url = self.url(path)
        try:
            response = await self.client.request(
                method, url, json=json_body, data=data, files=files,
                headers=self._headers(headers),
                timeout=timeout or self.timeout)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise RetryableError(f"{self.name}: cannot connect: {self.scrub(_describe(exc))}") from None
        except (httpx.WriteError, httpx.WriteTimeout) as exc:
            # The request never fully left, so the server cannot have accepted it.
            raise RetryableError(f"{self.name}: sending failed: {self.scrub(_describe(exc))}") from None
        except httpx.TimeoutException:
            if not idempotent:
                message = f"{self.name}: no answer to the create within {timeout or self.timeout:g}s; {LOST}"
                raise UnconfirmedCreate(message) from None
            raise RetryableError(f"{self.name}: timed out after {timeout or self.timeout:g}s") from None
        except httpx.RequestError as exc:  # the connection dropped, or the answer could not be decoded
            if not idempotent:
                raise UnconfirmedCreate(f"{self.name}: connection lost before the create was answered "
                                        f"({self.scrub(_describe(exc))}); {LOST}") from None
            raise RetryableError(f"{self.name}: connection failed: {self.scrub(_describe(exc))}") from None
        if response.is_success:
            return response
        raise status_error(response.status_code, self.scrub(error_message(response)),
                           retry_after(response.headers))

    async def json(self, method: str, path: str, **kw: Any) -> Any:
        response = await self.send(method, path, **kw)
        try:
            return response.json()
        except ValueError:
            if not kw.get("idempotent", True):
                message = f"{self.name}: the create was answered with invalid JSON; {LOST}"
                raise UnconfirmedCreate(message) from None
            raise RetryableError(f"{self.name}: answer is not valid JSON: {response.text[:80]!r}") from None

    async def get_json(self, path: str, *, tries: int = 5, **kw: Any) -> Any:
        """GET with its own retries: polls are idempotent and should outlive a blip without failing."""
        for n in range(tries):
            try:
                return await self.json("GET", path, **kw)
            except RetryableError as exc:
                if n + 1 == tries:
                    raise
                await self.sleep(retry_delay(n, exc, cap=30.0))
        raise AssertionError("unreachable")

    async def download(self, url: str, want: str, *, tries: int = 3) -> tuple[bytes, str]:
        """Fetch an output file at once (hosted URLs expire) and check it is a whole ``want`` file.

        No auth header goes to download hosts: they are CDNs, not the API.
        """
        if url.startswith("data:"):
            data = decode_data_url(url)
            return data, check_media(data, want, self.name)
        for n in range(tries):
            try:
                data = await self._download_once(url)
                break
            except RetryableError as exc:
                if n + 1 == tries:
                    raise
                await self.sleep(retry_delay(n, exc, cap=30.0))
        # Checked once, outside the loop: the same URL gives the same wrong bytes.
        return data, check_media(data, want, f"{self.name} download")

    async def _download_once(self, url: str) -> bytes:
        try:
            request = self.client.stream("GET", url, timeout=self.timeout, follow_redirects=True)
            async with request as response:
                if not response.is_success:
                    raise status_error(response.status_code, "download failed", retry_after(response.headers))
                chunks, size = [], 0
                async for chunk in response.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_DOWNLOAD:
                        raise FatalProviderError(f"{self.name}: download larger than {MAX_DOWNLOAD} bytes")
                    chunks.append(chunk)
                # Content-Length counts the bytes on the wire: comparable only when nothing was decoded.
                encoded = response.headers.get("content-encoding", "identity") != "identity"
                expected = None if encoded else response.headers.get("content-length")
        except httpx.TimeoutException:
            raise RetryableError(f"{self.name}: download timed out") from None
        except httpx.RequestError as exc:
            raise RetryableError(f"{self.name}: download broke off: {_describe(exc)}") from None
        data = b"".join(chunks)
        if expected and expected.isdigit() and int(expected) != len(data):
            raise RetryableError(f"{self.name}: download truncated ({len(data)} of {expected} bytes)")
        return data

    async def poll(self, fetch: Callable[[], Awaitable[Any]], done: Callable[[Any], bool], *,
                   interval: float = 1.0, max_interval: float = 10.0, deadline: float = 1800.0) -> Any:
        """Call ``fetch`` until ``done(result)``, waiting ``interval`` growing ×1.5 up to ``max_interval``."""
        started = time.monotonic()
        wait = interval
        while True:
            result = await fetch()
            if done(result):
                return result
            if time.monotonic() - started > deadline:
                raise RetryableError(f"{self.name}: still not finished after {deadline:g}s")
            await asyncio.sleep(wait)  # a real wait even when retry backoff is stubbed out in tests
            wait = min(wait * 1.5, max_interval)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def first_url(value: Any, prefer: tuple[str, ...] = ("video", "images", "image", "output", "url")) -> str:
    """The first file URL in a model's output: a URL, a list, or objects like ``{"video": {"url"}}``."""
    if isinstance(value, str):
        return value if value.startswith(("http://", "https://", "data:")) else ""
    if isinstance(value, list):
        for item in value:
            if url := first_url(item, prefer):
                return url
        return ""
    if isinstance(value, dict):
        keys = [k for k in prefer if k in value] + [k for k in value if k not in prefer]
        for key in keys:
            if url := first_url(value[key], prefer):
                return url
    return ""


def write_file(path: Path, data: bytes) -> None:
    """Write ``data`` whole or not at all (a half-written clip must never look finished)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_bytes(data)
    partial.replace(path)


# --- remote jobs saved on the call --------------------------------------------------------------------------


def saved_job(call: Any, key: str, model: str) -> dict | None:
    """The job a previous run of this call started on ``model`` (to resume instead of paying again)."""
    job = call.state.get(key)
    return job if isinstance(job, dict) and job.get("model") == model else None


def save_job(call: Any, key: str, job: dict) -> None:
    """Persist the job's id *before* waiting on it: a crash after this resumes it instead of paying again."""
    call.state[key] = job
    call.save_state()


def forget_job(call: Any, key: str) -> None:
    if call.state.pop(key, None) is not None:
        call.save_state()


async def watch_job(http: Http, call: Any, key: str, fetch: Callable[[], Awaitable[Any]],
                    done: Callable[[Any], bool], cancel: Callable[[], Awaitable[Any]], *,
                    interval: float, deadline: float) -> Any:
    """Poll a saved job until ``done``; if the task is cancelled, cancel the job remotely and forget it."""
    try:
        return await http.poll(fetch, done, interval=interval, deadline=deadline)
    except asyncio.CancelledError:
        try:
            await asyncio.wait_for(asyncio.shield(cancel()), timeout=10)
        except (ProviderError, TimeoutError, asyncio.CancelledError):
            pass  # best effort: the job may finish on its own; nothing waits for it any more
        forget_job(call, key)
        raise
