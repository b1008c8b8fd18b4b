"""OpenAI-compatible chat completions: OpenRouter (the default), OpenAI, Ollama, vLLM, LM Studio."""

from storyreel.providers.openai_compat.adapter import OpenAICompatAdapter

__all__ = ["OpenAICompatAdapter"]
