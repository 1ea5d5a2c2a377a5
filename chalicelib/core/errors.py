"""Errors the pipeline reports to people: each message says what is wrong and how to fix it."""


class PipelineError(Exception):
    """Base class: an expected failure with a message meant for a person (no traceback needed)."""


class ConfigError(PipelineError):
    """A setting is missing or invalid; the message names the variable and the accepted form."""


class SourceError(PipelineError):
    """A source (BLS, DataUSA) answered with something unusable, or not at all."""


class StoreError(PipelineError):
    """The object store refused an operation."""


class InvalidKey(StoreError, ValueError):
    """An object key that is absolute, has empty or `..` segments, or escapes the store."""


class NotFound(StoreError, KeyError):
    """No object under that key."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else "not found"


class PreconditionFailed(StoreError):
    """A conditional write lost: the object exists (create-only) or changed (if-match)."""
