"""Errors users and callers can see. Every one carries a message that reads as one clear line.

StoryreelError
├── InputError            bad input from a user (empty prompt, unsafe name, unknown field...) — nothing changed
│   └── NotFound          unknown project, stage, node, version or field
├── ProjectBusy           a run of the project is already in progress
├── LockedError           an edit or run touches a locked stage
├── InvariantError        the Film broke one of its rules (frame count != shot count, chain without a head)
├── RunFailed             a node failed; names the node and the reason
├── BudgetExceeded        the next call would take the project over its budget
└── ProviderError         a provider call failed
    ├── RetryableError    worth another attempt (429, 5xx, timeout, invalid JSON, empty image...)
    │   └── RateLimited   with the server's own retry delay
    └── FatalProviderError not worth another attempt on this model (400, 401, 403...)
"""

from __future__ import annotations


class StoryreelError(Exception):
    """Base of every error storyreel raises on purpose."""


class InputError(StoryreelError, ValueError):
    pass


class NotFound(InputError):
    pass


class ProjectBusy(StoryreelError):
    pass


class LockedError(StoryreelError):
    pass


class InvariantError(StoryreelError):
    pass


class RunFailed(StoryreelError):
    def __init__(self, node: str, reason: str):
        super().__init__(f"node {node} failed: {reason}")
        self.node = node
        self.reason = reason


class BudgetExceeded(StoryreelError):
    pass


class ProviderError(StoryreelError):
    pass


class RetryableError(ProviderError):
    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RateLimited(RetryableError):
    pass


class FatalProviderError(ProviderError):
    pass
