"""Typed records that cross module boundaries on the data path:

task spec -> Request -> backend -> Generation -> aggregator -> Score -> SampleRecord
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any, TypedDict


@dataclass(frozen=True)
class Doc:
    """One record of a task's data file."""

    id: int  # 0-based index of the record in its data file (the mirror's file order)
    fields: dict[str, Any]


@dataclass(frozen=True)
class GenParams:
    """Decoding settings; hashable so they can be part of the cache key."""

    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = 1  # samples per prompt; one Request, one Generation with n texts
    seed: int = 1234

    def key(self) -> dict[str, Any]:
        """Fields that change what a sample is; n is excluded because sample i
        of an n=4 request is the same sample as sample i of an n=8 request."""
        d = asdict(self)
        d.pop("n")
        d["stop"] = list(self.stop)
        if self.temperature == 0:
            d.pop("seed")  # greedy output does not depend on the seed
            d.pop("top_p")
        return d


@dataclass(frozen=True)
class Request:
    """One prompt to complete, for one doc of one task."""

    task: str
    doc_id: int
    prompt: str
    params: GenParams
    first_sample: int = 0  # index of the first of the params.n samples wanted (resume fills gaps)

    def sample_seed(self, i: int) -> int:
        """Seed of sample ``first_sample + i``: each sample has its own, so a
        sample is reproducible whatever batch or resume split produced it."""
        return (self.params.seed * 1_000_003 + self.first_sample + i) % (2**31 - 1)


@dataclass(frozen=True)
class LoglikelihoodRequest:
    """log P(continuation | context), for multiple-choice scoring."""

    task: str
    doc_id: int
    context: str
    continuation: str


@dataclass(frozen=True)
class Loglikelihood:
    logprob: float
    is_greedy: bool  # the continuation is the greedy decode of the context
    n_tokens: int = 0
    n_chars: int = 0


@dataclass(frozen=True)
class Generation:
    """The backend's answer to one Request: one text per sample."""

    texts: list[str]
    finish_reasons: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)  # prompt_tokens, completion_tokens


@dataclass(frozen=True)
class Score:
    """The verdict on one sample (or one aggregated answer)."""

    value: float
    extracted: Any = None
    explanation: str = ""


@dataclass(frozen=True)
class SampleRecord:
    """Everything kept about one doc of one run; a line of samples/<task>.jsonl."""

    task: str
    doc_id: int
    prompt: str
    outputs: list[str]
    target: Any
    extracted: Any
    score: float  # the main metric's per-doc value
    metrics: dict[str, float] = field(default_factory=dict)  # every per-doc metric
    extracted_all: list[Any] = field(default_factory=list)  # one per output
    scores_all: list[float] = field(default_factory=list)  # one per output
    error: str = ""
    trace: list[dict[str, Any]] = field(default_factory=list)  # critic rounds, tool calls
    extra: dict[str, Any] = field(default_factory=dict)  # per-task breakdown keys (subject, level)
    # answered / no_answer / hedged (docs/extraction.md): of the doc's answer, and of each output
    extraction_status: str = ""
    extraction_status_all: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Evaluators that do not explain their extraction still get a status:
        an answer found is ``answered``, None is ``no_answer``."""
        # A frozen record fills its derived fields once, here (object.__setattr__ is how
        # dataclasses themselves initialise frozen fields).
        if not self.extraction_status_all and self.extracted_all:
            object.__setattr__(self, "extraction_status_all",
                               ["answered" if e is not None else "no_answer" for e in self.extracted_all])
        if not self.extraction_status and self.extraction_status_all:
            st = self.extraction_status_all
            object.__setattr__(self, "extraction_status", st[0] if len(st) == 1 else "answered"
                               if self.extracted is not None else "hedged" if "hedged" in st else "no_answer")

    def to_json(self) -> dict[str, Any]:
        """A replay-compatible line: task, doc_id and outputs come first."""
        d = asdict(self)
        d["output"] = self.outputs[0] if self.outputs else ""
        return d


@dataclass(frozen=True)
class RunRecord:
    """One finished run as results.json records it (lm-eval's shape plus evalkit's keys)."""

    run_id: str
    results: dict[str, dict[str, Any]]  # task or group -> metric -> value (0-1), <metric>_stderr, n
    breakdown: dict[str, Any]  # task -> "field=value" -> main metric (MATH subject, level)
    groups: dict[str, list[str]]  # group -> member tasks, as the run was made
    layout: dict[str, Any]  # groups, pooling and main metrics, as the store keeps them
    config: dict[str, Any]  # provenance: model, backend identity, overrides, hashes, environment, timings

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "results": self.results, "breakdown": self.breakdown, "groups": self.groups,
                "layout": self.layout, "config": self.config}


class Passage(TypedDict):
    """One document of a retrieval corpus (BEIR's ``corpus.jsonl`` fields)."""

    title: str
    text: str


# The prefix that marks an lm-evaluation-harness task run through evalkit's bridge.
LM_EVAL_PREFIX = "lm_eval:"


def text_sha256(text: str) -> str:
    """sha256 of a text's UTF-8 bytes: the key of a cached vector or generation."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON-serialisable object, independent of dict order."""
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()
