"""OpenAI Images: ``/images/generations`` and, with references, ``/images/edits``."""

from storyreel.providers.openai_images.adapter import OpenAIImagesAdapter

__all__ = ["OpenAIImagesAdapter"]
