"""mteb's own SciFact task, fed from the local BEIR folder instead of the hub (runs in .venv-bench).

    .venv-bench/bin/python bench/mteb_scifact.py BEIR_FOLDER MODEL_FOLDER [--batch-size 32]

The task is mteb's ``SciFact`` class with only ``load_data`` replaced: the
same metadata (name, main score, k values, prompts), the same evaluator,
search and scoring, but corpus, queries and qrels read from
``corpus.jsonl``, ``queries.jsonl`` and ``qrels/test.tsv``. mteb's hub loader
keeps every qrels row (0 scores included) and only the queries that have
one; this does the same. The model is a SentenceTransformer loaded from a
local folder, handed to ``mteb.evaluate`` as is (mteb wraps it).

Prints one JSON line last: the test split's scores, the seconds the
evaluation took (imports and model load excluded), the CPU seconds of the
whole process and the versions of the encoder stack.
"""
from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """query id -> doc id -> score, header line dropped as BEIR does."""
    qrels: dict[str, dict[str, int]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()[1:]
    for line in lines:
        if line.strip():
            qid, doc_id, score = line.split("\t")
            qrels.setdefault(qid, {})[doc_id] = int(score)
    return qrels


def local_split(folder: Path, split: str) -> dict:
    """One RetrievalSplitData built from a BEIR folder."""
    from datasets import Dataset

    qrels = read_qrels(folder / "qrels" / f"{split}.tsv")
    corpus = Dataset.from_list([{"id": str(r["_id"]), "title": r.get("title") or "", "text": r.get("text") or ""}
                                for r in read_jsonl(folder / "corpus.jsonl")])
    queries = Dataset.from_list([{"id": str(r["_id"]), "text": r["text"]}
                                 for r in read_jsonl(folder / "queries.jsonl") if str(r["_id"]) in qrels])
    return {"corpus": corpus, "queries": queries, "relevant_docs": qrels, "top_ranked": None}


def local_task(folder: Path):
    from mteb.tasks.retrieval.eng.sci_fact_retrieval import SciFact

    class LocalSciFact(SciFact):
        def load_data(self, num_proc=None, **kwargs):
            if self.data_loaded:
                return
            self.dataset = {"default": {split: local_split(folder, split) for split in self.eval_splits}}
            self.data_loaded = True

    return LocalSciFact()


def stack_versions() -> dict[str, str]:
    """The encoder stack, to hold beside evalkit's (its results.json records the same names)."""
    from importlib.metadata import version

    return {name: version(name) for name in ("torch", "transformers", "sentence-transformers")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("model", type=Path)
    ap.add_argument("--batch-size", type=int, default=32)
    args = ap.parse_args()

    import mteb
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(args.model), device="cpu", local_files_only=True)
    task = local_task(args.folder)
    start = time.perf_counter()
    # cache=None: no results folder to read a stale score from or write into
    result = mteb.evaluate(model, task, cache=None, encode_kwargs={"batch_size": args.batch_size},
                           show_progress_bar=False)
    seconds = time.perf_counter() - start
    scores = result.task_results[0].scores["test"][0]
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"seconds": seconds, "cpu_s": usage.ru_utime + usage.ru_stime,
                      "mteb": mteb.__version__, "packages": stack_versions(),
                      "metrics": {k: v for k, v in scores.items() if isinstance(v, (int, float))}}))


if __name__ == "__main__":
    main()
