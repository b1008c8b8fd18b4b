"""fal.ai queue: submit, poll status, fetch the result, cancel."""

from storyreel.providers.fal.adapter import FalAdapter

__all__ = ["FalAdapter"]
