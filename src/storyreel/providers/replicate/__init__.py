"""Replicate predictions (images and video) and its Standard Webhooks."""

from storyreel.providers.replicate.adapter import ReplicateAdapter

__all__ = ["ReplicateAdapter"]
