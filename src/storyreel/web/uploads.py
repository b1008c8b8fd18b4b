"""Checking what users upload: images (reference sheets) and text documents (notes, screenplays).

An image must be at most 20 MB, declared as PNG, JPEG or WebP, start with that format's magic bytes, and
decode completely with Pillow (a truncated or corrupt file, or a decompression bomb, is refused). A document
must be UTF-8 text without NUL bytes, at most 5 MB.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

from storyreel.errors import InputError
from storyreel.inputs.documents import decode_text

MAX_IMAGE = 20 * 1024 * 1024
MAX_DOCUMENT = 5_000_000
MAX_DOCUMENTS = 20
TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg", "image/webp": "webp"}
PIL_FORMAT = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}


def sniff(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_image(data: bytes, content_type: str | None, filename: str = "") -> str:
    """The extension (png, jpg, webp) of ``data`` when it is a sound image we accept; InputError otherwise."""
    label = f"{filename!r}" if filename else "the upload"
    if not data:
        raise InputError(f"{label} is empty")
    if len(data) > MAX_IMAGE:
        raise InputError(f"{label} is over 20 MB ({len(data) / 1e6:.1f} MB)")
    declared = (content_type or "").split(";")[0].strip().lower()
    if declared and declared not in TYPES and declared != "application/octet-stream":
        raise InputError(f"{label} is {declared or 'of an unknown type'}; upload a PNG, JPEG or WebP image")
    kind = sniff(data)
    if kind is None:
        raise InputError(f"{label} is not a PNG, JPEG or WebP image")
    if declared in TYPES and TYPES[declared] != kind:
        raise InputError(f"{label} says it is {declared} but its content is {kind.upper()}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
            with Image.open(io.BytesIO(data)) as im:
                if im.format != PIL_FORMAT[kind]:
                    raise InputError(f"{label} is not a valid {kind.upper()} image")
                im.load()
                if im.width < 1 or im.height < 1:
                    raise InputError(f"{label} has no pixels")
    except InputError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputError(f"{label} is too large in pixels") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError):
        raise InputError(f"{label} is corrupt or truncated: it cannot be decoded") from None
    return kind


def check_document(data: bytes, filename: str) -> str:
    """The text of an uploaded document, or InputError with one line."""
    return decode_text(data, repr(filename or "document"), max_bytes=MAX_DOCUMENT)
