"""BEIR folder loading: what is kept, what is skipped with a reason, and what fails."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evalkit.benchmarks.beir import assemble, load_beir, load_beir_hub
from evalkit.core.errors import DataError
from evalkit.core.paths import default_data_dir

FIXTURES = Path(__file__).parent / "fixtures" / "retrieval"


@pytest.fixture(scope="module")
def tiny():
    return load_beir(FIXTURES / "tiny")


def test_keeps_corpus_order_and_graded_qrels(tiny):
    assert list(tiny.corpus) == ["d3", "d1", "2"]  # file order; the numeric id became a string
    assert tiny.corpus["2"] == {"title": "", "text": "numeric id, no title"}
    assert tiny.qrels == {"q3": {"d3": 2, "d1": 0}, "q1": {"d1": 1, "2": 1}}


def test_only_queries_with_usable_qrels_are_evaluated(tiny):
    assert tiny.query_order == ["q3", "q1"]  # first appearance in the qrels file
    assert tiny.queries == {"q3": "third", "q1": "first"}  # q9 has no qrels: not evaluated, not a skip


@pytest.mark.parametrize(
    "needle",
    [
        "test.tsv:5: qrels row skipped: document 'ghost' (query 'q1')",
        "test.tsv:8: qrels row skipped: document 'ghost' (query 'q5')",
        "query 'q2' skipped: its text is empty",
        "query 'q4' skipped: it has qrels but is not among the queries",
        "query 'q5' skipped: none of its qrels rows name a document in the corpus",
    ],
)
def test_each_skip_is_reported_with_its_reason(tiny, needle):
    assert sum(needle in s for s in tiny.skipped) == 1


def test_nothing_else_is_skipped(tiny):
    assert len(tiny.skipped) == 5


def test_headerless_qrels_keep_their_first_row():
    data = load_beir(FIXTURES / "tiny", split="headerless")
    assert data.qrels == {"q1": {"d1": 1}, "q3": {"d3": 1}}


@pytest.mark.parametrize(
    "folder, where, what",
    [
        ("bad_corpus_json", "corpus.jsonl:2", "not valid JSON"),
        ("bad_queries_json", "queries.jsonl:3", "not valid JSON"),
    ],
)
def test_malformed_json_names_file_and_line(folder, where, what):
    with pytest.raises(DataError, match=f"{where}: {what}"):
        load_beir(FIXTURES / folder)


@pytest.mark.parametrize(
    "folder, split, missing",
    [
        ("no_qrels", "test", "no_qrels/qrels/test.tsv"),
        ("tiny", "dev", "tiny/qrels/dev.tsv"),
        ("does_not_exist", "test", "does_not_exist/corpus.jsonl"),
    ],
)
def test_missing_file_says_where_it_looked(folder, split, missing):
    with pytest.raises(DataError, match=f"looked for .*{missing}"):
        load_beir(FIXTURES / folder, split=split)


def copy_tiny(tmp_path: Path) -> Path:
    dest = tmp_path / "beir"
    shutil.copytree(FIXTURES / "tiny", dest)
    return dest


@pytest.mark.parametrize(
    "file, content, message",
    [
        ("corpus.jsonl", '{"_id": "d1", "text": "a"}\n{"title": "no id"}\n', r"corpus.jsonl:2: missing '_id'"),
        (
            "corpus.jsonl",
            '{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n',
            r"corpus.jsonl:2: duplicate document id 'd1'",
        ),
        ("corpus.jsonl", '{"_id": "d1", "text": ["a"]}\n', r"corpus.jsonl:1: 'text' must be a string"),
        ("corpus.jsonl", '["d1", "a"]\n', r"corpus.jsonl:1: a corpus record must be a JSON object"),
        (
            "queries.jsonl",
            '{"_id": "q1", "text": "a"}\n{"_id": "q1", "text": "b"}\n',
            r"queries.jsonl:2: duplicate query id 'q1'",
        ),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\n", r"test.tsv:2: expected 3 tab-separated fields"),
        (
            "qrels/test.tsv",
            "query-id\tcorpus-id\tscore\nq1\td1\thigh\n",
            r"test.tsv:2: relevance score must be an integer",
        ),
        ("qrels/test.tsv", "q1\td1\t1\nq1\td1\t2\n", r"test.tsv:2: query 'q1' judges document 'd1' twice"),
        ("qrels/test.tsv", "query-id\tcorpus-id\tscore\nq2\td1\t1\n", r"no query can be evaluated"),
    ],
)
def test_malformed_records_fail_with_location(tmp_path, file, content, message):
    folder = copy_tiny(tmp_path)
    (folder / file).write_text(content, encoding="utf-8")
    with pytest.raises(DataError, match=message):
        load_beir(folder)


def test_invalid_utf8_is_a_data_error(tmp_path):
    folder = copy_tiny(tmp_path)
    (folder / "queries.jsonl").write_bytes(b'{"_id": "q1", "text": "ok"}\n{"_id": "q3", "text": "\xff"}\n')
    with pytest.raises(DataError, match=r"queries.jsonl:2: not valid UTF-8"):
        load_beir(folder)


def test_data_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("EVALKIT_DATA_DIR")
    assert default_data_dir() == Path(__file__).resolve().parents[2] / "shared" / "data"


def test_scifact_test_split_loads_whole():
    folder = default_data_dir() / "retrieval" / "scifact"
    if not folder.is_dir():
        pytest.skip(f"SciFact not found at {folder}")
    data = load_beir(folder)
    assert (len(data.corpus), len(data.query_order), sum(map(len, data.qrels.values()))) == (5183, 300, 339)
    assert data.skipped == []


def test_byte_order_mark_is_tolerated(tmp_path):
    folder = copy_tiny(tmp_path)
    corpus = folder / "corpus.jsonl"
    corpus.write_bytes(b"\xef\xbb\xbf" + corpus.read_bytes())
    assert list(load_beir(folder).corpus) == ["d3", "d1", "2"]


def test_hub_loader_reads_the_mteb_layout(monkeypatch):
    """The hub is out of reach here, so ``load_dataset`` is replaced by the tables it would return."""
    datasets = pytest.importorskip("datasets")
    tables = {
        ("corpus", "corpus"): [{"_id": "d1", "title": "T", "text": "x"}, {"_id": "d2", "title": "", "text": "y"}],
        ("queries", "queries"): [{"_id": "q1", "text": "find x"}],
        ("default", "test"): [
            {"query-id": "q1", "corpus-id": "d1", "score": 1},
            {"query-id": "q1", "corpus-id": "d9", "score": 1},
        ],
    }
    calls = []

    def fake_load_dataset(name, config, split, revision):
        calls.append((name, config, split, revision))
        return tables[(config, split)]

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_beir_hub("mteb/scifact", revision="abc123")
    assert calls == [
        ("mteb/scifact", "corpus", "corpus", "abc123"),
        ("mteb/scifact", "queries", "queries", "abc123"),
        ("mteb/scifact", "default", "test", "abc123"),
    ]
    assert data.qrels == {"q1": {"d1": 1}}
    assert data.skipped == [
        "mteb/scifact [default/test] row 1: qrels row skipped: document 'd9' (query 'q1') is not in the corpus"
    ]


def assemble_one_judgment(score):
    corpus = [("c:1", {"_id": "d1", "text": "x"})]
    queries = [("q:1", {"_id": "q1", "text": "find x"})]
    return assemble(corpus, queries, [("r:1", {"query-id": "q1", "corpus-id": "d1", "score": score})])


@pytest.mark.parametrize("score, expected", [(2, 2), (2.0, 2), ("3", 3), (0, 0)])
def test_integral_scores_are_accepted(score, expected):
    assert assemble_one_judgment(score).qrels == {"q1": {"d1": expected}}


@pytest.mark.parametrize("score", [1.5, True, None, "1.0", "high"])
def test_non_integer_scores_are_rejected_not_truncated(score):
    with pytest.raises(DataError, match=r"r:1: relevance score must be an integer"):
        assemble_one_judgment(score)
