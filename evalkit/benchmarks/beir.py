"""Load a BEIR-format retrieval dataset: a corpus, queries and graded qrels.

A BEIR folder holds ``corpus.jsonl`` ({_id, title, text} per line),
``queries.jsonl`` ({_id, text}) and ``qrels/<split>.tsv`` (``query-id``,
``corpus-id``, ``score``, tab-separated, one header line). As in BEIR and MTEB,
only queries with qrels in the split are kept and evaluated.

Malformed files fail with a ``DataError`` naming the file and line. Rows that
are well formed but unusable (a qrels row naming a document the corpus lacks, a
query with empty text) are left out and each one is reported in
``BeirData.skipped``, so a smaller evaluation set is never silently passed off
as the full one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evalkit.core.errors import DataError
from evalkit.core.jsonl import read_jsonl, text_lines
from evalkit.core.types import Passage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BeirData:
    """One split of a retrieval dataset, ready to search and score."""

    corpus: dict[str, Passage]  # doc id -> passage, in the corpus file's order
    queries: dict[str, str]  # query id -> text, only the queries in query_order
    qrels: dict[str, dict[str, int]]  # query id -> doc id -> graded relevance (0 = judged not relevant)
    query_order: list[str]  # evaluated query ids, in order of first appearance in the qrels
    skipped: list[str]  # one line per row or query left out, with the reason


# (where, record): "where" names the file and line, or the hub dataset and row.
Located = tuple[str, Any]


def load_beir(folder: str | Path, split: str = "test") -> BeirData:
    """Read a BEIR folder; see the module doc for what is skipped and what fails."""
    folder = Path(folder)
    paths = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    for path in paths:
        if not path.is_file():
            raise DataError(f"BEIR file not found: looked for {path}")
    corpus_path, queries_path, qrels_path = paths
    return assemble(read_jsonl(corpus_path), read_jsonl(queries_path), _read_qrels_tsv(qrels_path))


def _read_qrels_tsv(path: Path) -> Iterator[Located]:
    for lineno, line in text_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) != 3:
            raise DataError(f"{where}: expected 3 tab-separated fields (query-id, corpus-id, score), got {len(fields)}")
        if lineno == 1 and not _is_int(fields[2]):
            continue  # the header; BEIR drops line 1 blindly, which would lose a headerless file's first row
        yield where, {"query-id": fields[0], "corpus-id": fields[1], "score": fields[2]}


def _is_int(s: str) -> bool:
    try:
        int(s)
    except ValueError:
        return False
    return True


def _field_str(where: str, record: dict[str, Any], key: str, required: bool) -> str:
    value = record.get(key)
    if value is None:
        if required:
            raise DataError(f"{where}: missing {key!r}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise DataError(f"{where}: {key!r} must be a string, got {type(value).__name__}")
    return str(value)  # some datasets store numeric ids; ids are compared as strings


def _score(where: str, raw: Any) -> int:
    # int() alone would truncate a hub dataset's 1.5 to 1 without a word.
    if isinstance(raw, bool) or (isinstance(raw, float) and not raw.is_integer()):
        raise DataError(f"{where}: relevance score must be an integer, got {raw!r}")
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise DataError(f"{where}: relevance score must be an integer, got {raw!r}") from None


def _records(rows: Iterable[Located], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, record in rows:
        if not isinstance(record, dict):
            raise DataError(f"{where}: a {kind} record must be a JSON object, got {type(record).__name__}")
        yield where, record


def _corpus(rows: Iterable[Located]) -> dict[str, Passage]:
    corpus: dict[str, Passage] = {}
    for where, rec in _records(rows, "corpus"):
        doc_id = _field_str(where, rec, "_id", required=True)
        if doc_id in corpus:
            raise DataError(f"{where}: duplicate document id {doc_id!r}")
        corpus[doc_id] = Passage(
            title=_field_str(where, rec, "title", False), text=_field_str(where, rec, "text", False)
        )
    return corpus


def _queries(rows: Iterable[Located]) -> dict[str, str]:
    queries: dict[str, str] = {}
    for where, rec in _records(rows, "query"):
        qid = _field_str(where, rec, "_id", required=True)
        if qid in queries:
            raise DataError(f"{where}: duplicate query id {qid!r}")
        queries[qid] = _field_str(where, rec, "text", False)
    return queries


def _qrels(rows: Iterable[Located], corpus: dict[str, Passage], skipped: list[str]) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    for where, rec in _records(rows, "qrels"):
        qid = _field_str(where, rec, "query-id", required=True)
        doc_id = _field_str(where, rec, "corpus-id", required=True)
        score = _score(where, rec.get("score"))
        judged = qrels.setdefault(qid, {})  # the query keeps its place even if this row is skipped
        if doc_id not in corpus:
            skipped.append(f"{where}: qrels row skipped: document {doc_id!r} (query {qid!r}) is not in the corpus")
            continue
        if judged.get(doc_id, score) != score:
            raise DataError(f"{where}: query {qid!r} judges document {doc_id!r} twice, as {judged[doc_id]} and {score}")
        judged[doc_id] = score
    return qrels


def assemble(corpus_rows: Iterable[Located], query_rows: Iterable[Located], qrels_rows: Iterable[Located]) -> BeirData:
    """Validate and join located records from any source (files or the hub)."""
    skipped: list[str] = []
    corpus = _corpus(corpus_rows)
    all_queries = _queries(query_rows)
    qrels = _qrels(qrels_rows, corpus, skipped)
    order: list[str] = []
    for qid, judged in qrels.items():
        if qid not in all_queries:
            skipped.append(f"query {qid!r} skipped: it has qrels but is not among the queries")
        elif not all_queries[qid].strip():
            skipped.append(f"query {qid!r} skipped: its text is empty")
        elif not judged:
            skipped.append(f"query {qid!r} skipped: none of its qrels rows name a document in the corpus")
        else:
            order.append(qid)
    if not order:
        raise DataError(f"no query can be evaluated ({len(skipped)} skipped; first: {skipped[:1]})")
    for reason in skipped:
        log.warning(reason)
    return BeirData(
        corpus=corpus,
        queries={qid: all_queries[qid] for qid in order},
        qrels={qid: qrels[qid] for qid in order},
        query_order=order,
        skipped=skipped,
    )


# --- Hugging Face hub ---------------------------------------------------------
# The mteb/<name> datasets hold the same three tables as configs. This needs
# network access, so it is not exercised by the offline tests; everything after
# the download goes through ``assemble`` like the folder loader.


def load_beir_hub(
    name: str, split: str = "test", revision: str | None = None, qrels_config: str = "default"
) -> BeirData:
    """Load ``name`` (e.g. ``mteb/scifact``): configs ``corpus``, ``queries`` and ``qrels_config``."""
    from datasets import load_dataset  # heavy; only hub users pay for it

    def rows(config: str, ds_split: str) -> Iterator[Located]:
        ds = load_dataset(name, config, split=ds_split, revision=revision)
        return ((f"{name} [{config}/{ds_split}] row {i}", dict(rec)) for i, rec in enumerate(ds))

    return assemble(rows("corpus", "corpus"), rows("queries", "queries"), rows(qrels_config, split))
