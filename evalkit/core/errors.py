"""Errors that evalkit reports to the user as one line.

The CLI catches ``EvalkitError`` and prints ``error: <message>`` with the
subclass's exit code; anything else is a bug and keeps its traceback.
"""
from __future__ import annotations


class EvalkitError(Exception):
    """Base class: a problem the user can fix, worded as one line."""

    exit_code = 2


class ConfigError(EvalkitError):
    """A task spec, CLI flag, model name or other setting is wrong."""


class DataError(EvalkitError):
    """A data file is missing, unreadable or malformed."""


class BackendError(EvalkitError):
    """A model backend failed; ``retryable`` marks transient failures (429, 5xx, timeouts)."""

    exit_code = 3

    def __init__(self, message: str, retryable: bool = False):
        super().__init__(message)
        self.retryable = retryable


class ScoringError(EvalkitError):
    """Scoring one sample failed; recorded on that sample, the run goes on."""


class StoreError(EvalkitError):
    """The results store or output directory cannot be written safely."""

    exit_code = 4
