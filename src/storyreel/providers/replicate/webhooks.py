"""Replicate webhooks (Standard Webhooks): signature check, de-duplication, and a FastAPI router to mount.

Replicate signs ``f"{webhook-id}.{webhook-timestamp}.{raw body}"`` with HMAC-SHA256; the key is the base64
part of the ``whsec_...`` secret (``GET /v1/webhooks/default/secret``). Retries re-send the same
``webhook-id``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import inspect
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response

TOLERANCE = 300.0  # seconds a timestamp may be off


def verify(headers: Mapping[str, str], body: bytes, secret: str, now: float | None = None,
           tolerance: float = TOLERANCE) -> bool:
    """True when a ``v1,`` signature matches and the timestamp is within ``tolerance`` of ``now``."""
    lower = {k.lower(): v for k, v in headers.items()}
    msg_id = lower.get("webhook-id", "")
    stamp = lower.get("webhook-timestamp", "")
    signatures = lower.get("webhook-signature", "")
    if not (msg_id and stamp and signatures):
        return False
    try:
        sent = int(stamp)
    except ValueError:
        return False
    if abs((time.time() if now is None else now) - sent) > tolerance:
        return False
    try:
        key = base64.b64decode(secret.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        return False
    expected = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    matched = False
    for entry in signatures.split():
        version, _, value = entry.partition(",")
        if version != "v1":
            continue
        try:
            given = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            continue
        # Every entry is compared (no early exit), each in constant time.
        matched = hmac.compare_digest(given, expected) or matched
    return matched


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The ``webhook-signature`` value for a message (what Replicate sends; used by tests and fakes)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


class WebhookInbox:
    """Remembers the last ``size`` webhook ids so a re-sent message is handled once."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._seen: OrderedDict[str, None] = OrderedDict()

    def accept(self, msg_id: str) -> bool:
        """True the first time an id is seen, False for a repeat."""
        if msg_id in self._seen:
            self._seen.move_to_end(msg_id)
            return False
        self._seen[msg_id] = None
        if len(self._seen) > self.size:
            self._seen.popitem(last=False)
        return True


OnPrediction = Callable[[dict[str, Any]], Awaitable[None] | None]


def webhook_router(secret: str, on_prediction: OnPrediction, *, path: str = "/webhooks/replicate",
                   inbox: WebhookInbox | None = None) -> APIRouter:
    """A router with ``POST path``: 401 for a bad signature, 200 for a repeat (not handled again), else hands
    the prediction to ``on_prediction`` and answers 200."""
    router = APIRouter()
    seen = inbox or WebhookInbox()

    @router.post(path, include_in_schema=False)
    async def receive(request: Request) -> Response:
        body = await request.body()
        if not verify(request.headers, body, secret):
            return Response(status_code=401, content="invalid webhook signature")
        if not seen.accept(request.headers["webhook-id"]):
            return Response(status_code=200, content="duplicate")
        try:
            prediction = json.loads(body)
        except ValueError:
            return Response(status_code=400, content="body is not JSON")
        outcome = on_prediction(prediction)
        if inspect.isawaitable(outcome):
            await outcome
        return Response(status_code=200, content="ok")

    return router
