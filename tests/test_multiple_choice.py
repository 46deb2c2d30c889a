"""The multiple_choice evaluator (log-likelihood scoring): choice letters, references,
acc vs acc_norm through a scripted backend, a clear refusal from replay, and the
hf backend's log-likelihoods checked against a direct forward pass."""
from __future__ import annotations

import json

import pytest

from evalkit.core.errors import ScoringError
from evalkit.core.registry import backends
from evalkit.core.types import Loglikelihood
from evalkit.evaluators.multiple_choice import choice_letters, gold_indices
from evalkit.models.base import BaseBackend
from evalkit.run.runner import RunConfig, run


@pytest.mark.parametrize("texts,expected", [
    (["(A)x", "(B)y", "(C)z", "(D)w"], "ABCD"),
    (["(A)x", "(C)z", "(B)y", "(D)w"], "ACBD"),  # AGIEval logiqa lists some options out of order
    (["A．x", "C．z", "(B) y", "D．w"], "ACBD"),
    (["(A)x", "(B)y", "(C)z", "(C)w"], "ABCD"),  # a duplicated letter: position decides
    (["錀   第七周期", "镭 第七周期", "(C)铼", "(D)氡"], "ABCD"),
    (["When the land in City A.B", "(B)x", "(C)y", "When"], "ABCD"),
    (["yes", "no"], "AB"),
])
def test_choice_letters(texts, expected):
    assert choice_letters(texts) == expected


@pytest.mark.parametrize("target,letters,expected", [
    ("B", "ABCD", {1}), ("B", "ACBD", {2}), ("AD", "ABCD", {0, 3}), (["A", "C", "。"], "ABCD", {0, 2}),
    (2, "ABCD", {2}), ([0, 3], "ABCD", {0, 3}),
])
def test_gold_indices(target, letters, expected):
    assert gold_indices(target, letters) == expected


@pytest.mark.parametrize("target", [[], None, "", "Z", 7])
def test_no_gold_is_a_scoring_error(target):
    with pytest.raises(ScoringError, match="no gold choice"):
        gold_indices(target, "ABCD")


class LengthBiased(BaseBackend):
    """log P(choice) = -(1 + 0.1 * its length in characters): the shortest choice has
    the highest log-likelihood, the longest the highest per character."""

    def __init__(self, target: str = "", **_):
        self.requests = []

    def identity(self):
        return {"backend": "length-biased"}

    def loglikelihood(self, requests):
        self.requests.extend(requests)
        return [Loglikelihood(-1.0 - 0.1 * len(r.continuation.strip()), False, 1, len(r.continuation))
                for r in requests]


backends.replace("length_biased", LengthBiased)


def _replay_free_run(tmp_path, data_dir, tasks, limit=None):
    return run(RunConfig(model="length_biased:", tasks=tasks, limit=limit, data_dir=str(data_dir),
                         store=tmp_path / "s.db", output=tmp_path / "out"))


def test_acc_and_acc_norm_through_the_runner(tmp_path, data_dir):
    res = _replay_free_run(tmp_path, data_dir, ["agieval_mc_lsat_ar"], limit=30)
    recs = res.records["agieval_mc_lsat_ar"]
    labels = [json.loads(x)["label"] for x in (data_dir / "agieval/lsat-ar.jsonl").read_text().splitlines()[:30]]
    for r, label in zip(recs, labels):
        lens = [t["chars"] for t in r.trace]
        shortest, longest = "ABCDE"[lens.index(min(lens))], "ABCDE"[lens.index(max(lens))]
        assert r.extracted == shortest and r.target == label
        assert r.metrics["acc"] == float(label == shortest)
        assert r.metrics["acc_norm"] == float(label == longest)
        assert r.prompt.endswith("A: Among A through E, the answer is")
    out = res.results["agieval_mc_lsat_ar"]
    assert out["acc"] == sum(r.metrics["acc"] for r in recs) / 30
    assert out["acc_norm"] == sum(r.metrics["acc_norm"] for r in recs) / 30 and "acc_norm_stderr" in out
    assert out["acc"] != out["acc_norm"]
    line = json.loads((tmp_path / "out" / "samples" / "agieval_mc_lsat_ar.jsonl").read_text().splitlines()[0])
    assert line["extracted"] == recs[0].extracted and len(line["trace"]) == 5


def test_requests_are_prompt_plus_space_plus_option(tmp_path, data_dir):
    be = LengthBiased()
    backends.replace("length_biased_probe", lambda target="", **kw: be)
    run(RunConfig(model="length_biased_probe:", tasks=["agieval_mc_gaokao_english"], limit=1, data_dir=str(data_dir),
                  store=tmp_path / "s.db"))
    rec = json.loads((data_dir / "agieval/gaokao-english.jsonl").read_text().splitlines()[0])
    assert [r.continuation for r in be.requests] == [" " + o.strip() for o in rec["options"]]
    assert be.requests[0].context.endswith("A: Among A through D, the answer is")


def test_multi_answer_pick_counts_when_it_is_one_of_the_answers(tmp_path, data_dir):
    res = _replay_free_run(tmp_path, data_dir, ["agieval_mc_jec_qa_kd"])
    recs = res.records["agieval_mc_jec_qa_kd"]
    multi = [r for r in recs if len(r.target or "") > 1]
    assert multi and all(r.score == float(r.extracted in r.target) for r in multi)
    bad = recs[211]  # "label": [] in the data
    assert bad.error and "no gold choice" in bad.error and bad.score == 0.0
    assert res.results["agieval_mc_jec_qa_kd"]["n_errors"] == 1


def test_group_reports_acc_over_19_subsets(tmp_path, data_dir):
    res = _replay_free_run(tmp_path, data_dir, ["agieval_mc"], limit=3)
    assert res.results["agieval_mc"]["subtasks"] == 19 and res.results["agieval_mc"]["n"] == 57


def test_replay_declines_in_one_line(cli, tmp_path, data_dir):
    replay = tmp_path / "r.jsonl"
    replay.write_text(json.dumps({"task": "agieval_mc_lsat_ar", "doc_id": 0, "output": "(A)"}) + "\n")
    res = cli("run", "--model", f"replay:{replay}", "--tasks", "agieval_mc_lsat_ar", "--limit", "1",
              "--data-dir", data_dir, "--store", tmp_path / "s.db")
    assert res.code == 3
    lines = res.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: agieval_mc_lsat_ar: output_type multiple_choice needs "
                                                   "log-likelihoods, but backend 'ReplayBackend' cannot score")
    assert "Traceback" not in res.err


@pytest.mark.model
def test_hf_loglikelihood_matches_a_direct_forward_pass():
    """Batched with left padding, the backend's numbers equal a plain forward pass per request."""
    import torch

    from evalkit.core.types import LoglikelihoodRequest as R
    from evalkit.models import load_backend

    be = load_backend("smollm2-135m", batch_size=4)
    reqs = [R("t", 0, "Q: What is the capital of France?\nA: The answer is", " Paris"),
            R("t", 0, "Hi", " there, how are you doing today?"),
            R("t", 1, "Q: 2 + 2 = ? Answer Choices: (A)3 (B)4\nA: Among A through B, the answer is", " (B)4")]
    got = be.loglikelihood(reqs)
    for r, g in zip(reqs, got):
        ctx = be.tok(r.context, add_special_tokens=False)["input_ids"]
        cont = be.tok(r.continuation, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logp = torch.log_softmax(be.model(torch.tensor([ctx + cont])).logits.float(), -1)[0]
        direct = sum(logp[len(ctx) - 1 + j, t].item() for j, t in enumerate(cont))
        greedy = all(logp[len(ctx) - 1 + j].argmax().item() == t for j, t in enumerate(cont))
        assert g.logprob == pytest.approx(direct, abs=1e-3)
        assert g.is_greedy == greedy and g.n_tokens == len(cont)
    be.close()
